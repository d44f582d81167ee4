/**
 * `POST /ask/{conversation_id}`: the original's JSON answer, or SSE when the
 * body says `"stream": true` or the client accepts `text/event-stream`.
 * @module
 */

import { AppError, Code } from "../errors.ts";
import type { AskEvent, AskInput, Engine } from "../engine/types.ts";
import type { CallContext } from "../providers/provider.ts";
import { askEventStream, SSE_HEADERS, wireUsage } from "./http_sse.ts";
import { jsonResponse } from "./http_response.ts";

/** The validated body of `POST /ask`. */
export interface AskBody {
  prompt: string;
  parentId: string | null;
  model: string | null;
  stream: boolean;
}

function invalid(message: string): AppError {
  return new AppError(Code.InvalidArgument, message);
}

function optionalString(body: Record<string, unknown>, field: string): string | null {
  const v = body[field];
  if (v === undefined || v === null) return null;
  if (typeof v !== "string") {
    throw invalid(`Cannot read the request: "${field}" must be a string or null, got ${typeOf(v)}`);
  }
  return v === "" ? null : v;
}

function typeOf(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  return typeof v === "object" ? "an object" : `a ${typeof v}`;
}

/**
 * Checks the JSON body of `POST /ask`.
 * @throws {AppError} InvalidArgument naming the field that is wrong
 */
export function parseAskBody(value: unknown): AskBody {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw invalid(`Cannot read the request: the body must be a JSON object, got ${typeOf(value)}`);
  }
  const body = value as Record<string, unknown>;
  if (typeof body.prompt !== "string") {
    const got = body.prompt === undefined ? "nothing" : typeOf(body.prompt);
    throw invalid(`Cannot read the request: "prompt" must be a string, got ${got}`);
  }
  if (body.prompt.trim() === "") throw invalid('Cannot read the request: "prompt" is empty');
  const stream = body.stream ?? false;
  if (typeof stream !== "boolean") {
    throw invalid(`Cannot read the request: "stream" must be true or false, got ${typeOf(stream)}`);
  }
  return {
    prompt: body.prompt,
    parentId: optionalString(body, "parent_id"),
    model: optionalString(body, "model"),
    stream,
  };
}

/** The original's `finish_details`: ChatGPT's `{"type": "stop"}` or `{"type": "max_tokens"}`. */
export function finishDetails(reason: string): { type: string } {
  return { type: reason === "length" ? "max_tokens" : reason };
}

/** Whether the client asked for SSE. */
export function wantsStream(req: Request, body: AskBody): boolean {
  return body.stream || (req.headers.get("accept") ?? "").includes("text/event-stream");
}

/** Options of {@link handleAsk}. */
export interface AskHandlerOptions {
  /** Milliseconds of silence before an SSE keep-alive comment. */
  keepAliveMs?: number;
  /** Aborts this call (the client's stream was canceled). */
  abort: () => void;
  /** Called once with the conversation id, as soon as it is known. */
  onConversation: (id: string) => void;
  /** For streams: called once when the stream ends (null on success). */
  onStreamEnd: (err: AppError | null) => void;
}

/**
 * Answers one ask. Failures before the first event (bad ids, unknown
 * conversation) are thrown, so the caller answers them with a status code;
 * failures after that end an SSE stream with `event: error`.
 */
export async function handleAsk(
  req: Request,
  input: { conversationId: string; body: AskBody },
  ctx: CallContext,
  engine: Engine,
  options: AskHandlerOptions,
): Promise<Response> {
  const { body } = input;
  const ask: AskInput = {
    conversationId: input.conversationId,
    parentId: body.parentId,
    prompt: body.prompt,
    model: body.model,
  };
  const iterator = engine.ask(ask, ctx)[Symbol.asyncIterator]();
  if (!wantsStream(req, body)) return await collectAnswer(iterator, options);
  let first: IteratorResult<AskEvent>;
  try {
    first = await iterator.next();
  } catch (err) {
    await iterator.return?.().catch(() => {});
    throw err;
  }
  if (first.done) throw new AppError(Code.Internal, "Cannot answer: the engine gave no events");
  if (first.value.type === "start") options.onConversation(first.value.conversationId);
  const rest: AsyncIterator<AskEvent> = first.value.type === "start"
    ? iterator
    : prepend(first.value, iterator);
  const stream = askEventStream(rest, {
    keepAliveMs: options.keepAliveMs,
    onCancel: options.abort,
    onEnd: options.onStreamEnd,
    started: first.value.type === "start" ? first.value : undefined,
  });
  return new Response(stream, { status: 200, headers: SSE_HEADERS });
}

async function collectAnswer(
  iterator: AsyncIterator<AskEvent>,
  options: AskHandlerOptions,
): Promise<Response> {
  let message = "";
  while (true) {
    const r = await iterator.next();
    if (r.done) break;
    const e = r.value;
    if (e.type === "start") options.onConversation(e.conversationId);
    else if (e.type === "delta") message += e.text;
    else {
      // Let the engine's generators run their `finally` (the answer's log
      // line and metrics, the stream slot) before answering.
      await iterator.return?.().catch(() => {});
      return jsonResponse(200, {
        message,
        conversation_id: e.conversationId,
        parent_id: e.messageId,
        model: e.model,
        finish_details: finishDetails(e.finishReason),
        usage: wireUsage(e.usage),
      });
    }
  }
  throw new AppError(Code.Internal, "Cannot answer: the engine ended without a done event");
}

function prepend(first: AskEvent, rest: AsyncIterator<AskEvent>): AsyncIterator<AskEvent> {
  let used = false;
  return {
    next: () => {
      if (used) return rest.next();
      used = true;
      return Promise.resolve({ done: false, value: first });
    },
    return: () => rest.return?.() ?? Promise.resolve({ done: true, value: undefined }),
  };
}
