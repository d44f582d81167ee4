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

function frame(event: AskEvent): string | null {
  if (event.type === "delta") {
    return encodeSSE({ event: "delta", data: JSON.stringify({ text: event.text }) });
  }
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
 * @param iterator the engine's events after `start`
 * @param options keep-alive interval and lifecycle callbacks
 */
export function askEventStream(
  iterator: AsyncIterator<AskEvent>,
  options: AskEventStreamOptions = {},
): ReadableStream<Uint8Array> {
  const keepAliveMs = options.keepAliveMs ?? 15_000;
  const encoder = new TextEncoder();
  let pending: Promise<IteratorResult<AskEvent>> | null = null;
  let ended = false;
  const end = (err: AppError | null) => {
    if (ended) return;
    ended = true;
    options.onEnd?.(err);
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (ended) return;
      if (pending === null) {
        pending = iterator.next();
        // A rejection after a cancel has nobody waiting: keep it handled.
        pending.catch(() => {});
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const tick = new Promise<"tick">((resolve) => {
        timer = setTimeout(() => resolve("tick"), keepAliveMs);
      });
      let result: IteratorResult<AskEvent> | "tick";
      try {
        result = await Promise.race([pending, tick]);
      } catch (err) {
        const e = AppError.from(err);
        pending = null;
        if (ended) return;
        controller.enqueue(
          encoder.encode(encodeSSE({ event: "error", data: JSON.stringify(errorBody(e).error) })),
        );
        controller.close();
        end(e);
        return;
      } finally {
        clearTimeout(timer);
      }
      if (ended) return;
      if (result === "tick") {
        controller.enqueue(encoder.encode(encodeSSEComment("keep-alive")));
        return;
      }
      pending = null;
      if (result.done) {
        controller.close();
        end(null);
        return;
      }
      const text = frame(result.value);
      if (text !== null) controller.enqueue(encoder.encode(text));
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
