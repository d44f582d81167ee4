/**
 * The OpenAI provider: Chat Completions streamed over SSE at
 * `{baseUrl}/chat/completions`, models from `{baseUrl}/models`, and the raw
 * pass-through for `/v1/chat/completions`. Works with any OpenAI-compatible
 * server. Every call goes through the {@link KeyPool}.
 * @module
 */

import { abortReason, AppError } from "../../errors.ts";
import type { Logger } from "../../log.ts";
import { bodyReader, type BytesReader } from "../../sse/parse.ts";
import type { KeyPool } from "../pool.ts";
import type {
  CallContext,
  ChatEvent,
  ChatRequest,
  ModelInfo,
  PassThrough,
  Provider,
} from "../provider.ts";
import type { Http1Client, Http1Response } from "../http1.ts";
import { ChunkFolder, completionEvents, streamChunks } from "./chunk.ts";
import { errorFromConnection, errorFromResponse, truncatedStream } from "./errors.ts";
import { chatBody, endpoint, upstreamHeaders } from "./request.ts";

/** Options of {@link OpenAIProvider}. */
export interface OpenAIProviderOptions {
  /** The API base, including `/v1`, e.g. `https://api.openai.com/v1`. */
  baseUrl: string;
  /** The default model. */
  model: string;
  /** The keys, retries and timeouts. */
  pool: KeyPool;
  /** The fetch to use (e.g. one bound to a proxy client). @default globalThis.fetch */
  fetch?: typeof fetch;
  /**
   * The HTTP/1.1 client for the streamed answers, when there is no proxy: it
   * reads the upstream socket into one reused buffer, with no web streams (about
   * 40 % less CPU per streamed answer than `fetch`, BENCHMARKS.md). Without it
   * the answers use `fetch`. The model list and the raw pass-through always use
   * `fetch` (the pass-through hands its `Response` on as is).
   */
  http?: Http1Client;
  logger: Logger;
}

/** One streaming attempt's request: the serialized body, the model asked for, the key. */
interface Attempt {
  body: string;
  model: string;
  key: string;
  signal: AbortSignal;
}

/** One request of {@link OpenAIProvider}'s `#send`. */
interface SendRequest {
  method: "GET" | "POST";
  key: string;
  /** The body, serialized. */
  body?: string;
  signal: AbortSignal;
  /** Whether the answer is an event stream (for the `accept` header). @default false */
  stream?: boolean;
}

/** Largest error body read from the upstream, in characters. */
const MAX_ERROR_BODY = 64 * 1024;
/** Largest non-streamed answer read when a server answers a stream request with JSON, in bytes. */
const MAX_COMPLETION_BODY = 32 * 1024 * 1024;

/** An OpenAI (or OpenAI-compatible) upstream. */
export class OpenAIProvider implements Provider {
  /** Always "openai". */
  readonly name = "openai";
  /** Stateless: the whole path is sent every time. */
  readonly stateful = false;
  /** The model used when a request names none. */
  readonly defaultModel: string;
  /** The raw Chat Completions pass-through. */
  readonly passThrough: PassThrough;
  readonly #baseUrl: string;
  readonly #pool: KeyPool;
  readonly #fetch: typeof fetch;
  readonly #http: Http1Client | undefined;
  readonly #logger: Logger;

  /** @param options base URL, model, pool, fetch, logger */
  constructor(options: OpenAIProviderOptions) {
    this.#baseUrl = options.baseUrl;
    this.defaultModel = options.model;
    this.#pool = options.pool;
    this.#fetch = options.fetch ?? globalThis.fetch;
    this.#http = options.http;
    this.#logger = options.logger;
    this.passThrough = {
      chatCompletions: (body, ctx) => this.#passThrough(body, ctx),
    };
  }

  /** Streams one answer: deltas, then one `done`; failures are thrown. */
  stream(req: ChatRequest, ctx: CallContext): AsyncIterable<ChatEvent> {
    // Serialized once for every attempt; the request's messages are not kept
    // while the answer streams (a long conversation's, per stream).
    const body = JSON.stringify(chatBody(req));
    const model = req.model;
    return this.#pool.stream((key, signal) => this.#attempt(body, model, key, signal), ctx);
  }

  /** The upstream's models, or the configured model when it cannot list them. */
  async listModels(ctx: CallContext): Promise<ModelInfo[]> {
    const fallback = [{ id: this.defaultModel, ownedBy: "openai", created: 0 }];
    let res: Response;
    try {
      res = await this.#pool.request(
        (key, signal) => this.#send("/models", { method: "GET", key, signal }),
        ctx,
      );
    } catch (err) {
      if (ctx.signal.aborted) throw abortReason(ctx.signal);
      ctx.logger.warn("cannot list upstream models", { err });
      return fallback;
    }
    try {
      if (!res.ok) {
        ctx.logger.warn("cannot list upstream models", { status: res.status });
        return fallback;
      }
      const body = await res.json() as { data?: unknown };
      if (!Array.isArray(body.data)) return fallback;
      const models = body.data.filter((m) => typeof m?.id === "string").map((m) => ({
        id: m.id as string,
        ownedBy: typeof m.owned_by === "string" ? m.owned_by : "openai",
        created: typeof m.created === "number" ? m.created : 0,
      }));
      return models.length > 0 ? models : fallback;
    } catch (err) {
      if (ctx.signal.aborted) throw abortReason(ctx.signal);
      ctx.logger.warn("cannot read upstream models", { err });
      return fallback;
    } finally {
      if (!res.bodyUsed) await res.body?.cancel().catch(() => {});
    }
  }

  /**
   * One streaming attempt with one key.
   * @param body the request body, serialized
   * @param model the model asked for, reported when the answer names none
   */
  #attempt(body: string, model: string, key: string, signal: AbortSignal) {
    return this.#http
      ? this.#attemptHttp1(this.#http, { body, model, key, signal })
      : this.#attemptFetch({ body, model, key, signal });
  }

  /** {@link #attempt} over the HTTP/1.1 client. */
  async *#attemptHttp1(http: Http1Client, a: Attempt): AsyncGenerator<ChatEvent> {
    const { model, signal } = a;
    let res: Http1Response;
    try {
      res = await http.request(endpoint(this.#baseUrl, "/chat/completions"), {
        method: "POST",
        headers: upstreamHeaders(a.key, true),
        body: a.body,
        signal,
      });
    } catch (err) {
      throw errorFromConnection(err, signal);
    }
    // Sent: the body is not kept while the answer streams.
    a.body = "";
    const folder = new ChunkFolder(model);
    try {
      if (!res.ok) throw await this.#failure(res, signal);
      const type = res.headers.get("content-type") ?? "";
      if (!type.includes("text/event-stream")) {
        yield* completionEvents(JSON.parse(await res.text(MAX_COMPLETION_BODY)), model);
        return;
      }
      // The body's views (no second buffer). This generator, not the loop,
      // ends the body: after the end marker the connection is kept.
      yield* streamChunks(() => res.readView(), folder);
    } catch (err) {
      if (err instanceof AppError && !signal.aborted) throw err;
      if (err instanceof SyntaxError) throw truncatedStream("the answer is not JSON", err);
      throw errorFromConnection(err, signal);
    } finally {
      if (folder.done !== null) res.release();
      else await res.cancel();
    }
  }

  /** {@link #attempt} over `fetch` (through the proxy, when one is set). */
  async *#attemptFetch(a: Attempt): AsyncGenerator<ChatEvent> {
    const { model, signal } = a;
    const res = await this.#send("/chat/completions", {
      method: "POST",
      key: a.key,
      body: a.body,
      signal,
      stream: true,
    });
    a.body = "";
    if (!res.ok) throw await this.#failure(res, signal);
    if (!res.body) throw truncatedStream("the answer has no body");
    const type = res.headers.get("content-type") ?? "";
    let reader: BytesReader | null = null;
    try {
      if (!type.includes("text/event-stream")) {
        yield* completionEvents(JSON.parse(await res.text()), model);
        return;
      }
      const bytes = reader = bodyReader(res.body);
      yield* streamChunks(async () => {
        const r = await bytes.read();
        return r.done ? null : r.value;
      }, new ChunkFolder(model));
    } catch (err) {
      if (err instanceof AppError && !signal.aborted) throw err;
      if (err instanceof SyntaxError) throw truncatedStream("the answer is not JSON", err);
      throw errorFromConnection(err, signal);
    } finally {
      // Also when the consumer stopped early: release the upstream body.
      if (reader !== null) await reader.cancel().catch(() => {});
      else if (!res.bodyUsed) await res.body.cancel().catch(() => {});
    }
  }

  /** Sends one request; connection failures become AppErrors. */
  async #send(path: string, req: SendRequest): Promise<Response> {
    const { signal } = req;
    try {
      return await this.#fetch(endpoint(this.#baseUrl, path), {
        method: req.method,
        headers: upstreamHeaders(req.key, req.stream ?? false),
        body: req.body,
        signal,
      });
    } catch (err) {
      throw errorFromConnection(err, signal);
    }
  }

  /** Reads an error response (bounded) into an AppError. */
  async #failure(res: Response | Http1Response, signal: AbortSignal): Promise<AppError> {
    let text = "";
    try {
      text = (await (res instanceof Response ? res.text() : res.text(MAX_ERROR_BODY * 4)))
        .slice(0, MAX_ERROR_BODY);
    } catch {
      if (signal.aborted) return abortReason(signal);
    }
    const err = errorFromResponse(res.status, res.headers, text);
    this.#logger.debug("upstream error response", {
      status: res.status,
      code: err.code,
      reason: err.reason,
      requestId: res.headers.get("x-request-id"),
    });
    return err;
  }

  /** The raw pass-through: the client's body as is, with our key. */
  #passThrough(body: Record<string, unknown>, ctx: CallContext): Promise<Response> {
    const text = JSON.stringify(body);
    const stream = body.stream === true;
    return this.#pool.request(
      (key, signal) =>
        this.#send("/chat/completions", { method: "POST", key, body: text, signal, stream }),
      ctx,
    );
  }
}
