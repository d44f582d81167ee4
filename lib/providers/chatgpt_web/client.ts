/**
 * The ChatGPT web backend as a {@link Provider}: an access token, a stateful
 * upstream that keeps the conversation itself, answers streamed as SSE in the
 * cumulative or the v1 delta format. Calls go through the shared key pool.
 * @module
 */

import { AppError } from "../../errors.ts";
import type { Logger } from "../../log.ts";
import { parseSSE } from "../../sse/parse.ts";
import type { KeyPool } from "../pool.ts";
import type { CallContext, ChatEvent, ChatRequest, ModelInfo, Provider } from "../provider.ts";
import { WebStreamDecoder } from "./chunk.ts";
import {
  errorFromConnection,
  truncatedStream,
  webErrorFromNonStream,
  webErrorFromResponse,
} from "./errors.ts";
import { buildConversationBody, buildHeaders } from "./request.ts";

/** Options of {@link ChatGPTWebProvider}. */
export interface ChatGPTWebProviderOptions {
  /** The backend base, e.g. `https://chatgpt.com/backend-api` or a reverse proxy. */
  baseUrl: string;
  /** The model used when a request names none. */
  model: string;
  /** The pool of access tokens. */
  pool: KeyPool;
  /** The fetch to use (a proxy client is bound in by the registry). @default fetch */
  fetch?: typeof fetch;
  logger: Logger;
}

/** Longest error body read from the upstream, in characters. */
const MAX_ERROR_BODY = 64 * 1024;

async function readBounded(res: Response): Promise<string> {
  const text = await res.text().catch(() => "");
  return text.length > MAX_ERROR_BODY ? text.slice(0, MAX_ERROR_BODY) : text;
}

/** The ChatGPT web backend, reached with an access token. */
export class ChatGPTWebProvider implements Provider {
  /** @inheritdoc */
  readonly name = "chatgpt-web";
  /** @inheritdoc */
  readonly stateful = true;
  /** @inheritdoc */
  readonly defaultModel: string;
  #baseUrl: string;
  #pool: KeyPool;
  #fetch: typeof fetch;
  #logger: Logger;
  #deviceId = crypto.randomUUID();

  /** @param options base URL, default model, token pool, fetch, logger */
  constructor(options: ChatGPTWebProviderOptions) {
    this.#baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.defaultModel = options.model;
    this.#pool = options.pool;
    this.#fetch = options.fetch ?? fetch;
    this.#logger = options.logger;
  }

  /** Streams one answer: text deltas, then a `done` carrying the upstream ids. */
  stream(req: ChatRequest, ctx: CallContext): AsyncIterable<ChatEvent> {
    return this.#pool.stream((token, signal) => this.#attempt(req, token, signal, ctx), ctx);
  }

  async *#attempt(
    req: ChatRequest,
    token: string,
    signal: AbortSignal,
    ctx: CallContext,
  ): AsyncGenerator<ChatEvent> {
    const started = Date.now();
    const res = await this.#post(req, token, signal);
    const contentType = res.headers.get("content-type") ?? "";
    if (!res.ok) {
      const err = webErrorFromResponse(res.status, res.headers, await readBounded(res));
      ctx.logger.warn("upstream error", {
        provider: this.name,
        status: res.status,
        code: err.code,
      });
      throw err;
    }
    if (!contentType.includes("text/event-stream") || res.body === null) {
      throw webErrorFromNonStream(contentType, await readBounded(res));
    }
    const decoder = new WebStreamDecoder();
    try {
      for await (const event of parseSSE(res.body)) {
        const text = decoder.push(event);
        if (text !== "") yield { type: "delta", text };
        if (decoder.done) break;
      }
    } catch (err) {
      if (err instanceof AppError) throw err;
      if (signal.aborted) throw errorFromConnection(err, signal);
      throw truncatedStream("the connection broke", err);
    }
    const end = decoder.finish(req.upstreamParent?.conversationId ?? null);
    ctx.logger.debug("upstream answer complete", {
      provider: this.name,
      ms: Date.now() - started,
      finishReason: end.finishReason,
    });
    yield {
      type: "done",
      model: end.model ?? req.model,
      finishReason: end.finishReason,
      upstreamIds: end.conversationId !== null && end.messageId !== null
        ? { conversationId: end.conversationId, messageId: end.messageId }
        : undefined,
    };
  }

  async #post(req: ChatRequest, token: string, signal: AbortSignal): Promise<Response> {
    try {
      return await this.#fetch(`${this.#baseUrl}/conversation`, {
        method: "POST",
        headers: buildHeaders(token, this.#deviceId),
        body: JSON.stringify(buildConversationBody(req)),
        signal,
      });
    } catch (err) {
      throw errorFromConnection(err, signal);
    }
  }

  /** The models of `GET {base}/models`, or the configured model when that fails. */
  async listModels(ctx: CallContext): Promise<ModelInfo[]> {
    const fallback = [{ id: this.defaultModel, ownedBy: "openai", created: 0 }];
    try {
      const res = await this.#pool.request(
        (token, signal) =>
          this.#fetch(`${this.#baseUrl}/models`, {
            headers: buildHeaders(token, this.#deviceId),
            signal,
          }).catch((err) => {
            throw errorFromConnection(err, signal);
          }),
        ctx,
      );
      if (!res.ok) {
        await res.body?.cancel();
        return fallback;
      }
      const models = modelsOf(await res.json());
      return models.length > 0 ? models : fallback;
    } catch (err) {
      if (ctx.signal.aborted) throw AppError.from(err);
      this.#logger.debug("upstream model list unavailable", { provider: this.name, err });
      return fallback;
    }
  }
}

/** Reads `{"models": [{"slug": …}]}`. */
function modelsOf(body: unknown): ModelInfo[] {
  const models = (body as { models?: unknown } | null)?.models;
  if (!Array.isArray(models)) return [];
  const out: ModelInfo[] = [];
  for (const m of models) {
    const slug = (m as { slug?: unknown } | null)?.slug;
    if (typeof slug === "string" && slug !== "") {
      out.push({ id: slug, ownedBy: "openai", created: 0 });
    }
  }
  return out;
}
