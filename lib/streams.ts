/**
 * A response whose end is noticed: the engine's limits count a pass-through
 * as a stream until its body ends, and the HTTP transport lets go of a
 * call's signals then. Neutral (no layer's types), so both may use it.
 * @module
 */

/**
 * The same response; `onEnd` runs once its body has ended, failed or been
 * canceled by the reader (at once when it has no body).
 * @param res the response
 * @param onEnd called when the body is over (it may be called more than once
 * only if the reader misbehaves; make it idempotent)
 */
export function whenBodyEnds(res: Response, onEnd: () => void): Response {
  if (res.body === null) {
    onEnd();
    return res;
  }
  const reader = res.body.getReader();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          onEnd();
          controller.close();
        } else controller.enqueue(value);
      } catch (err) {
        onEnd();
        controller.error(err);
      }
    },
    async cancel(reason) {
      onEnd();
      await reader.cancel(reason).catch(() => {});
    },
  }, { highWaterMark: 0 });
  return new Response(body, {
    status: res.status,
    statusText: res.statusText,
    headers: res.headers,
  });
}
