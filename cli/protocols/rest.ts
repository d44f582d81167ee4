/**
 * The HTTP side every protocol may lean on: authenticated `fetch` with the
 * trusted CA, one-line failures, and the conversation API (`/list`, `/history`).
 * @module
 */

import type { ConversationSummary, HistoryMessage } from "../client.ts";
import { failureFromResponse, unreachable } from "../failure.ts";

/** Options of {@link RestApi}. */
export interface RestOptions {
  /** The server's HTTP base, e.g. `http://127.0.0.1:8000`. */
  baseUrl: string;
  token: string | null;
  /** A client that trusts `--ca`, when given. */
  httpClient?: Deno.HttpClient;
}

/** The server's HTTP API as the terminal client uses it. */
export class RestApi {
  #base: string;
  #token: string | null;
  #client?: Deno.HttpClient;

  /** @param options base URL, token, TLS client */
  constructor(options: RestOptions) {
    this.#base = options.baseUrl.replace(/\/+$/, "");
    this.#token = options.token;
    this.#client = options.httpClient;
  }

  /**
   * Sends a request and returns the response once its status is 2xx.
   * @throws {AppError} Unavailable when the server is not reachable, else the server's failure
   */
  async request(
    path: string,
    init: { method?: string; body?: unknown; accept?: string; signal?: AbortSignal } = {},
  ): Promise<Response> {
    const headers: Record<string, string> = { accept: init.accept ?? "application/json" };
    if (init.body !== undefined) headers["content-type"] = "application/json";
    if (this.#token) headers.authorization = `Bearer ${this.#token}`;
    let res: Response;
    try {
      res = await fetch(this.#base + path, {
        method: init.method ?? "GET",
        headers,
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
        signal: init.signal,
        client: this.#client,
      });
    } catch (err) {
      if (init.signal?.aborted) throw err;
      throw unreachable(this.#base, err);
    }
    if (!res.ok) throw await failureFromResponse(res);
    return res;
  }

  /** `GET /conversations`. */
  async list(): Promise<ConversationSummary[]> {
    const body = await (await this.request("/conversations")).json();
    return listOf(body, "conversations").map(toSummary);
  }

  /** `GET /conversations/{id}/messages?parent_id=`. */
  async history(conversationId: string, parentId: string | null): Promise<HistoryMessage[]> {
    const query = parentId ? `?parent_id=${encodeURIComponent(parentId)}` : "";
    const path = `/conversations/${encodeURIComponent(conversationId)}/messages${query}`;
    const body = await (await this.request(path)).json();
    return listOf(body, "messages").map(toHistoryMessage);
  }
}

/** The array of a list answer, whether bare or wrapped (`{items}`, `{data}`, `{<key>}`). */
export function listOf(body: unknown, key: string): Record<string, unknown>[] {
  if (Array.isArray(body)) return body;
  if (body && typeof body === "object") {
    const obj = body as Record<string, unknown>;
    for (const k of [key, "items", "data"]) {
      if (Array.isArray(obj[k])) return obj[k] as Record<string, unknown>[];
    }
  }
  return [];
}

function toSummary(c: Record<string, unknown>): ConversationSummary {
  const updated = c.updated_at ?? c.update_time ?? c.updatedAt ?? null;
  return {
    id: String(c.id ?? c.conversation_id ?? ""),
    title: String(c.title ?? ""),
    updatedAt: updated === null
      ? null
      : typeof updated === "number"
      ? new Date(updated < 1e11 ? updated * 1000 : updated).toISOString()
      : String(updated),
  };
}

/** One message of a history answer, whatever the exact field names. */
export function toHistoryMessage(m: Record<string, unknown>): HistoryMessage {
  const author = m.author as { role?: unknown } | undefined;
  let content = m.content ?? m.text ?? m.message ?? "";
  if (
    content && typeof content === "object" && Array.isArray((content as { parts?: unknown }).parts)
  ) {
    content = (content as { parts: unknown[] }).parts.join("");
  }
  return {
    id: String(m.id ?? m.message_id ?? ""),
    role: String(m.role ?? author?.role ?? ""),
    content: String(content),
  };
}
