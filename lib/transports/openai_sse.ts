/**
 * The SSE response of the OpenAI-compatible routes, pulled from a generator of
 * event texts: the client's read pace drives the generator, and a client that
 * leaves cancels the stream, which returns the generator, whose `finally`
 * stops the engine call (and so the upstream request).
 * @module
 */

import { encodeSSE } from "../sse/encode.ts";
import { SSE_HEADERS } from "./http_sse.ts";

/** One event with a JSON payload, optionally named (the Responses API names them). */
export function jsonEvent(data: unknown, event?: string): string {
  return encodeSSE({ event, data: JSON.stringify(data) });
}

/** Streams the texts a generator yields as a `text/event-stream` response. */
export function sseResponse(events: AsyncGenerator<string, void, undefined>): Response {
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const next = await events.next();
        if (next.done) controller.close();
        else controller.enqueue(encoder.encode(next.value));
      } catch (err) {
        controller.error(err);
      }
    },
    async cancel() {
      await events.return();
    },
  }, { highWaterMark: 0 });
  return new Response(body, { status: 200, headers: SSE_HEADERS });
}
