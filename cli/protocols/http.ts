/**
 * The plain HTTP client: `POST /ask/{conversation_id}` with a JSON answer,
 * which arrives whole (one delta, then done). Cancel aborts the request.
 * @module
 */

import type { AnswerEvent, AskRequest, ChatClient } from "../client.ts";
import { canceled } from "../failure.ts";
import { RestApi } from "./rest.ts";

/** Options of {@link createHttpClient}. */
export interface HttpClientOptions {
  url: string;
  token: string | null;
  httpClient?: Deno.HttpClient;
}

/** The body of `POST /ask/{id}` for a question. */
export function askBody(req: AskRequest, stream: boolean): Record<string, unknown> {
  const body: Record<string, unknown> = { prompt: req.prompt, "parent_id": req.parentId, stream };
  if (req.model) body.model = req.model;
  return body;
}

/** The path of `POST /ask/{id}`; a new conversation is `new`. */
export function askPath(req: AskRequest): string {
  return `/ask/${encodeURIComponent(req.conversationId ?? "new")}`;
}

/** A {@link ChatClient} over HTTP JSON. */
export function createHttpClient(options: HttpClientOptions): ChatClient {
  const api = new RestApi({
    baseUrl: options.url,
    token: options.token,
    httpClient: options.httpClient,
  });
  return {
    protocol: "http",
    async *ask(req: AskRequest, signal: AbortSignal): AsyncGenerator<AnswerEvent> {
      let body;
      try {
        const res = await api.request(askPath(req), {
          method: "POST",
          body: askBody(req, false),
          signal,
        });
        body = await res.json();
      } catch (err) {
        if (signal.aborted) throw canceled();
        throw err;
      }
      if (typeof body.message === "string" && body.message !== "") {
        yield { type: "delta", text: body.message };
      }
      yield {
        type: "done",
        conversationId: String(body.conversation_id),
        parentId: String(body.parent_id),
        model: typeof body.model === "string" ? body.model : null,
        usage: body.usage ?? null,
      };
    },
    history: (cid, pid) => api.history(cid, pid),
    list: () => api.list(),
    close: () => Promise.resolve(),
  };
}
