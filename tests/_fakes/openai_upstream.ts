/**
 * A fake OpenAI upstream on loopback that speaks the real wire format
 * (UPSTREAMS.md §1–§3). Give `fake.url` as `API_BASE_URL`.
 *
 * With nothing queued it answers `POST /v1/chat/completions` with a
 * deterministic reply that reveals the context it received
 * (`Heard N messages: user: hi | …`), streamed in several chunks when asked to
 * stream (with a usage chunk when `stream_options.include_usage` is set), and
 * `GET /v1/models` with a few models. `fake.next(script)` queues a scripted
 * answer for the next request, whatever its path: raw bytes with delays, a
 * status with a JSON or HTML body and headers, a mid-stream error, an abrupt
 * close or reset, a stall. Helpers below build the usual scripts.
 *
 * @example
 * ```ts
 * const fake = await startOpenAIFake();
 * fake.next(errorScript(429, { code: "rate_limit_exceeded", headers: { "retry-after-ms": "10" } }));
 * fake.next(streamScript(["Hel", "lo"]));
 * // … point the provider at fake.url …
 * await fake.close();
 * ```
 * @module
 */

import {
  type FakeRequest,
  type FakeScript,
  type FakeServer,
  type FakeStep,
  parseJsonOrNull,
  startFakeServer,
} from "./fake_server.ts";

export type { FakeScript, FakeStep };

/** One request the fake received (the body parsed as JSON, or null). */
export type RecordedRequest = FakeRequest<unknown>;

/** Options of {@link startOpenAIFake}. */
export interface OpenAIFakeOptions {
  /** Accepted bearer keys; others get 401 `invalid_api_key`. @default any key */
  keys?: string[];
  /** The resolved model name put in chunks. @default the requested model + "-2024-07-18" */
  resolvedModel?: string;
  /** Model ids of `GET /v1/models`. @default gpt-4o-mini, gpt-4o, gpt-4.1 */
  models?: string[];
}

/** A running fake: the shared server's record and queue, and its base URL. */
export interface OpenAIFake extends Omit<FakeServer<unknown>, "origin"> {
  /** The base URL including `/v1`: give it as `API_BASE_URL`. */
  url: string;
}

/**
 * Starts the fake on 127.0.0.1 with a free port.
 * @param options accepted keys, model names
 */
export async function startOpenAIFake(options: OpenAIFakeOptions = {}): Promise<OpenAIFake> {
  const server = await startFakeServer({
    parseBody: parseJsonOrNull,
    defaultScript: (req) => defaultScript(req, options),
    streamHeaders: { "content-type": "text/event-stream", "cache-control": "no-cache" },
  });
  return { ...server, url: `${server.origin}/v1` };
}

function defaultScript(req: RecordedRequest, options: OpenAIFakeOptions): FakeScript {
  if (options.keys && (req.key === null || !options.keys.includes(req.key))) {
    return errorScript(401, { code: "invalid_api_key", message: "Incorrect API key provided." });
  }
  if (req.method === "GET" && req.path.endsWith("/models")) {
    const ids = options.models ?? ["gpt-4o-mini", "gpt-4o", "gpt-4.1"];
    return {
      json: {
        object: "list",
        data: ids.map((id) => ({ id, object: "model", created: 1700000000, owned_by: "openai" })),
      },
    };
  }
  if (req.method !== "POST" || !req.path.endsWith("/chat/completions")) {
    return errorScript(404, { code: "unknown_url", message: "Unknown request URL" });
  }
  const body = (req.body ?? {}) as Record<string, unknown>;
  const messages = Array.isArray(body.messages) ? body.messages as Record<string, unknown>[] : [];
  const requested = typeof body.model === "string" ? body.model : "gpt-4o-mini";
  const model = options.resolvedModel ?? `${requested}-2024-07-18`;
  const reply = heardReply(messages);
  const usage = usageOf(messages, reply);
  if (body.stream !== true) return { json: completionBody(reply, model, usage) };
  const options_ = body.stream_options as Record<string, unknown> | undefined;
  const pieces = reply.match(/\S+\s*/g) ?? [reply];
  return streamScript(pieces, { model, usage: options_?.include_usage === true ? usage : null });
}

/**
 * The default reply: what the fake heard, `Heard N messages: role: content | …`.
 * @param messages the request's messages
 */
export function heardReply(messages: Record<string, unknown>[]): string {
  const parts = messages.map((m) => `${m.role}: ${typeof m.content === "string" ? m.content : ""}`);
  return `Heard ${messages.length} messages: ${parts.join(" | ")}`;
}

function usageOf(messages: Record<string, unknown>[], reply: string): Usage {
  const words = (s: string) => s.split(/\s+/).filter((w) => w !== "").length;
  const prompt = messages.reduce((n, m) => n + 3 + words(String(m.content ?? "")), 3);
  const completion = words(reply);
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
  };
}

/** OpenAI's usage object. */
export interface Usage {
  "prompt_tokens": number;
  "completion_tokens": number;
  "total_tokens": number;
}

/**
 * A non-streaming `chat.completion` body.
 * @param text the reply
 * @param model the resolved model
 * @param usage the usage object
 */
export function completionBody(text: string, model: string, usage: Usage): unknown {
  return {
    id: "chatcmpl-fake",
    object: "chat.completion",
    created: 1700000000,
    model,
    choices: [{
      index: 0,
      message: { role: "assistant", content: text, refusal: null, annotations: [] },
      logprobs: null,
      "finish_reason": "stop",
    }],
    usage,
    "service_tier": "default",
    "system_fingerprint": "fp_fake",
  };
}

/** Options of {@link chunk}. */
export interface ChunkOptions {
  /** @default 0 */
  index?: number;
  /** @default null */
  finishReason?: string | null;
  /** @default "gpt-4o-mini-2024-07-18" */
  model?: string;
  /** `usage` field; left out when undefined (older captures). */
  usage?: Usage | null;
  /** Extra top-level fields (`obfuscation`, `service_tier`, unknown ones). */
  extra?: Record<string, unknown>;
}

/**
 * One `chat.completion.chunk` object with one choice.
 * @param delta the choice's delta
 * @param options index, finish reason, model, usage, extra fields
 */
export function chunk(delta: Record<string, unknown>, options: ChunkOptions = {}): unknown {
  const out: Record<string, unknown> = {
    id: "chatcmpl-fake",
    object: "chat.completion.chunk",
    created: 1700000000,
    model: options.model ?? "gpt-4o-mini-2024-07-18",
    "system_fingerprint": "fp_fake",
    choices: [{
      index: options.index ?? 0,
      delta,
      logprobs: null,
      "finish_reason": options.finishReason ?? null,
    }],
    ...options.extra,
  };
  if (options.usage !== undefined) out.usage = options.usage;
  return out;
}

/**
 * The usage chunk (`choices: []`) sent last with `include_usage`.
 * @param usage the usage object
 * @param model the resolved model
 */
export function usageChunk(usage: Usage, model = "gpt-4o-mini-2024-07-18"): unknown {
  return {
    id: "chatcmpl-fake",
    object: "chat.completion.chunk",
    created: 1700000000,
    model,
    choices: [],
    usage,
  };
}

/**
 * One SSE event `data: <json>` plus the blank line.
 * @param value an object (serialised) or a raw string (`[DONE]`)
 * @param eol the line ending @default "\n"
 */
export function sse(value: unknown, eol = "\n"): string {
  const data = typeof value === "string" ? value : JSON.stringify(value);
  return `data: ${data}${eol}${eol}`;
}

/** Options of {@link streamScript}. */
export interface StreamScriptOptions {
  /** @default "gpt-4o-mini-2024-07-18" */
  model?: string;
  /** A usage chunk before `[DONE]`; none when null or absent. */
  usage?: Usage | null;
  /** @default "stop" */
  finishReason?: string;
  /** `role` (2023: role only) or `role+content` (now: role, content "", refusal null). @default "role+content" */
  firstChunk?: "role" | "role+content" | "none";
  /** Line ending of every line. @default "\n" */
  eol?: string;
  /** Pause between events. */
  delayMs?: number;
  /** Write byte by byte. */
  byteByByte?: boolean;
  /** Leave out `[DONE]` (a truncated stream). */
  noDone?: boolean;
}

/**
 * A complete streamed answer: first chunk, one chunk per text piece, the
 * finish chunk, an optional usage chunk and `[DONE]`.
 * @param pieces the text pieces
 * @param options model, usage, finish reason, framing
 */
export function streamScript(pieces: string[], options: StreamScriptOptions = {}): FakeScript {
  const eol = options.eol ?? "\n";
  const model = options.model;
  const withUsage = options.usage ? null : undefined;
  const events: unknown[] = [];
  const first = options.firstChunk ?? "role+content";
  if (first === "role") events.push(chunk({ role: "assistant" }, { model, usage: withUsage }));
  if (first === "role+content") {
    events.push(
      chunk({ role: "assistant", content: "", refusal: null }, { model, usage: withUsage }),
    );
  }
  for (const p of pieces) events.push(chunk({ content: p }, { model, usage: withUsage }));
  events.push(chunk({}, { model, usage: withUsage, finishReason: options.finishReason ?? "stop" }));
  if (options.usage) events.push(usageChunk(options.usage, model));
  if (!options.noDone) events.push("[DONE]");
  const steps: FakeStep[] = [];
  for (const e of events) {
    if (options.delayMs && steps.length > 0) steps.push({ delayMs: options.delayMs });
    steps.push(sse(e, eol));
  }
  return { steps, byteByByte: options.byteByByte };
}

/** Options of {@link errorScript}. */
export interface ErrorScriptOptions {
  code?: string | null;
  /** @default "invalid_request_error", "rate_limit_error"/"insufficient_quota" on 429, "server_error" on 5xx */
  type?: string;
  message?: string;
  param?: string | null;
  /** Extra headers: `retry-after`, `retry-after-ms`, `x-should-retry`, `x-ratelimit-*`. */
  headers?: Record<string, string>;
}

/**
 * A pre-stream error: a status with OpenAI's JSON error body.
 * @param status the HTTP status
 * @param options code, type, message, headers
 */
export function errorScript(status: number, options: ErrorScriptOptions = {}): FakeScript {
  const type = options.type ??
    (status >= 500
      ? "server_error"
      : status === 429
      ? (options.code === "insufficient_quota" ? "insufficient_quota" : "requests")
      : "invalid_request_error");
  return {
    status,
    headers: { "x-request-id": "req_fake", ...options.headers },
    json: {
      error: {
        message: options.message ?? `Fake error ${status}`,
        type,
        param: options.param ?? null,
        code: options.code ?? null,
      },
    },
  };
}
