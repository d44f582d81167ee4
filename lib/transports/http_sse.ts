/**
 * The SSE answer of `POST /ask`: a byte stream that pulls the engine's events
 * one at a time (the client sets the pace), sends a keep-alive comment during
 * long upstream silences, ends with exactly one `done` or one `error` event,
 * and stops the engine when the client goes away.
 * @module
 */

import { AppError } from "../errors.ts";
import type { AskEvent } from "../engine/types.ts";
import type { Usage } from "../providers/provider.ts";
import { encodeSSE, encodeSSEComment } from "../sse/encode.ts";
import { errorBody } from "./wire_errors.ts";

/** Headers of every SSE answer. */
export const SSE_HEADERS: Record<string, string> = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache",
  "x-accel-buffering": "no",
};

/** Options of {@link askEventStream}. */
export interface AskEventStreamOptions {
  /** Milliseconds of silence before a `: keep-alive` comment. @default 15000 */
  keepAliveMs?: number;
  /** Called once when the client cancels the stream, before the iterator is returned. */
  onCancel?: () => void;
  /** Called once when the stream ends: null on success, the error otherwise. */
  onEnd?: (err: AppError | null) => void;
  /**
   * The ids of the answer (from its `start` event): an `error` event then also
   * carries `conversation_id` and `parent_id` (the partial reply, stored
   * `incomplete`), so a client can continue even from a new conversation.
   */
  started?: { conversationId: string; messageId: string };
}

/** Usage in the wire's snake_case, or null. */
export function wireUsage(usage: Usage | null | undefined): Record<string, number> | null {
  if (!usage) return null;
  return {
    prompt_tokens: usage.promptTokens,
    completion_tokens: usage.completionTokens,
    total_tokens: usage.totalTokens,
  };
}

const encoder = new TextEncoder();
const KEEP_ALIVE = encoder.encode(encodeSSEComment("keep-alive"));

/**
 * One delta event's text. JSON never contains a raw line break, so the data
 * is one `data:` line and the generic encoder's split is not needed.
 */
function deltaFrame(text: string): string {
  return `event: delta\ndata: ${JSON.stringify({ text })}\n\n`;
}

function frame(event: AskEvent): string | null {
  if (event.type === "delta") return deltaFrame(event.text);
  if (event.type === "done") {
    const data = {
      "conversation_id": event.conversationId,
      "parent_id": event.messageId,
      model: event.model,
      usage: wireUsage(event.usage),
    };
    return encodeSSE({ event: "done", data: JSON.stringify(data) });
  }
  return null;
}

/**
 * Turns the rest of an `ask` iteration into SSE bytes.
 *
 * The keep-alive is one timer per stream that checks when the last bytes
 * went out, not a timer and a `Promise.race` per event: those cost about as
 * much CPU as the relaying itself at full speed (BENCHMARKS.md). A comment
 * goes out only while the client waits for the next event.
 * @param iterator the engine's events after `start`
 * @param options keep-alive interval and lifecycle callbacks
 */
export function askEventStream(
  iterator: AsyncIterator<AskEvent>,
  options: AskEventStreamOptions = {},
): ReadableStream<Uint8Array> {
  const keepAliveMs = options.keepAliveMs ?? 15_000;
  let ended = false;
  let waiting = false;
  let lastSent = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const wake = () => {
    timer = undefined;
    if (ended) return;
    const now = performance.now();
    let left = lastSent + keepAliveMs - now;
    if (left <= 0) {
      if (waiting) controller.enqueue(KEEP_ALIVE);
      lastSent = now;
      left = keepAliveMs;
    }
    timer = setTimeout(wake, left);
  };
  const end = (err: AppError | null) => {
    if (ended) return;
    ended = true;
    clearTimeout(timer);
    options.onEnd?.(err);
  };
  const send = (text: string) => {
    lastSent = performance.now();
    controller.enqueue(encoder.encode(text));
  };
  return new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
      timer = setTimeout(wake, keepAliveMs);
    },
    async pull() {
      if (ended) return;
      let result: IteratorResult<AskEvent>;
      waiting = true;
      try {
        result = await iterator.next();
      } catch (err) {
        waiting = false;
        if (ended) return;
        const e = AppError.from(err);
        const data: Record<string, unknown> = { ...errorBody(e).error };
        if (options.started) {
          data.conversation_id = options.started.conversationId;
          data.parent_id = options.started.messageId;
        }
        send(encodeSSE({ event: "error", data: JSON.stringify(data) }));
        controller.close();
        end(e);
        return;
      }
      waiting = false;
      if (ended) return;
      if (result.done) {
        controller.close();
        end(null);
        return;
      }
      const text = frame(result.value);
      if (text !== null) send(text);
    },
    async cancel() {
      const wasEnded = ended;
      end(AppError.from(new DOMException("client went away", "AbortError")));
      if (wasEnded) return;
      options.onCancel?.();
      await iterator.return?.().catch(() => {});
    },
  }, { highWaterMark: 0 });
}
