/**
 * The ChatGPT web backend as a {@link Provider}: an access token, a stateful
 * upstream that keeps the conversation itself, answers streamed as SSE in the
 * cumulative or the v1 delta format. Calls go through the shared key pool.
 * An answer cut off at `max_tokens` is resumed with `action: "continue"` (at
 * most {@link MAX_CONTINUES} times) and streams on as one answer.
 * @module
 */

import { AppError } from "../../errors.ts";
import type { Logger } from "../../log.ts";
import { parseSSEBatches } from "../../sse/parse.ts";
import type { KeyPool } from "../pool.ts";
import type {
  CallContext,
  ChatEvent,
  ChatRequest,
  ModelInfo,
  Provider,
  UpstreamIds,
} from "../provider.ts";
import { type WebAnswerEnd, WebStreamDecoder } from "./chunk.ts";
import {
  errorFromConnection,
  truncatedStream,
  webErrorFromNonStream,
  webErrorFromResponse,
} from "./errors.ts";
import {
  buildContinueBody,
  buildConversationBody,
  buildHeaders,
  type ContinueBody,
  type ConversationBody,
} from "./request.ts";

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

/**
 * Most `continue` requests sent for one answer; an answer still cut off after
 * them ends with finish reason `length`.
 */
export const MAX_CONTINUES = 3;

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

  /**
   * One attempt of the pool: the request, then a `continue` for as long as the
   * upstream cuts the answer off at `max_tokens` (bounded). Everything is one
   * answer to the consumer: deltas, then one `done` with the last message id.
   */
  async *#attempt(
    req: ChatRequest,
    token: string,
    signal: AbortSignal,
    ctx: CallContext,
  ): AsyncGenerator<ChatEvent> {
    const started = Date.now();
    let body: ConversationBody | ContinueBody = buildConversationBody(req);
    const answer = { text: "" };
    let model: string | null = null;
    for (let continues = 0;; continues++) {
      // yield* also closes the turn (and its body reader) when the consumer stops early.
      const end = yield* this.#turn(body, token, signal, ctx, answer);
      model = end.model ?? model;
      const ids = upstreamIdsOf(end, req);
      const resumable = end.cutOff && ids !== undefined && continues < MAX_CONTINUES;
      if (resumable) {
        ctx.logger.debug("upstream answer cut off, continuing", {
          provider: this.name,
          continues: continues + 1,
        });
        body = buildContinueBody(req.model, ids);
        continue;
      }
      ctx.logger.debug("upstream answer complete", {
        provider: this.name,
        ms: Date.now() - started,
        finishReason: end.finishReason,
        continues,
      });
      yield {
        type: "done",
        model: model ?? req.model,
        finishReason: end.finishReason,
        upstreamIds: ids,
      };
      return;
    }
  }

  /**
   * One request and its stream: yields the new text (and adds it to
   * `answer.text`), returns how it ended.
   * @param answer the answer's text streamed so far, which a continuation may repeat
   */
  async *#turn(
    body: ConversationBody | ContinueBody,
    token: string,
    signal: AbortSignal,
    ctx: CallContext,
    answer: { text: string },
  ): AsyncGenerator<{ type: "delta"; text: string }, WebAnswerEnd> {
    const res = await this.#post(body, token, signal);
    const contentType = res.headers.get("content-type") ?? "";
    if (!res.ok) {
      const err = webErrorFromResponse(res.status, res.headers, await readBounded(res));
      ctx.logger.warn("upstream error", {
        provider: this.name,
        status: res.status,
        code: err.code,
        action: body.action,
      });
      throw err;
    }
    if (!contentType.includes("text/event-stream") || res.body === null) {
      throw webErrorFromNonStream(contentType, await readBounded(res));
    }
    const decoder = new WebStreamDecoder({ continuing: answer.text });
    try {
      // The text of the events one read completed goes out as one delta, also
      // the text before a failure in the same read.
      for await (const batch of parseSSEBatches(res.body)) {
        let text = "";
        let failure: unknown = null;
        for (const event of batch) {
          try {
            text += decoder.push(event);
          } catch (err) {
            failure = err;
            break;
          }
          if (decoder.done) break;
        }
        if (text !== "") {
          answer.text += text;
          yield { type: "delta", text };
        }
        if (failure !== null) throw failure;
        if (decoder.done) break;
      }
    } catch (err) {
      if (err instanceof AppError) throw err;
      if (signal.aborted) throw errorFromConnection(err, signal);
      throw truncatedStream("the connection broke", err);
    }
    return decoder.finish(body["conversation_id"] ?? null);
  }

  async #post(
    body: ConversationBody | ContinueBody,
    token: string,
    signal: AbortSignal,
  ): Promise<Response> {
    try {
      return await this.#fetch(`${this.#baseUrl}/conversation`, {
        method: "POST",
        headers: buildHeaders(token, this.#deviceId),
        body: JSON.stringify(body),
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

/** The upstream ids of an answer's last message, when the stream named them. */
function upstreamIdsOf(end: WebAnswerEnd, req: ChatRequest): UpstreamIds | undefined {
  const conversationId = end.conversationId ?? req.upstreamParent?.conversationId ?? null;
  if (conversationId === null || end.messageId === null) return undefined;
  return { conversationId, messageId: end.messageId };
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
