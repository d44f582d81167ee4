/**
 * A small push-to-pull bridge: callbacks (socket messages, gRPC `data`
 * events) push, one consumer pulls with `for await`. A failure ends the
 * iteration with that error after the values already queued.
 * @module
 */

/** An unbounded single-consumer queue; the producers are bounded by the server's answer. */
export class AsyncQueue<T> implements AsyncIterable<T> {
  #items: T[] = [];
  #error: unknown = null;
  #failed = false;
  #ended = false;
  #wake: (() => void) | null = null;

  /** Adds a value. */
  push(item: T): void {
    if (this.#ended || this.#failed) return;
    this.#items.push(item);
    this.#notify();
  }

  /** Ends the iteration once the queued values are consumed. */
  end(): void {
    this.#ended = true;
    this.#notify();
  }

  /** Ends the iteration at once with an error (queued values are dropped). */
  fail(err: unknown): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#error = err;
    this.#items = [];
    this.#notify();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    while (true) {
      if (this.#failed) throw this.#error;
      if (this.#items.length > 0) {
        yield this.#items.shift() as T;
        continue;
      }
      if (this.#ended) return;
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }
}
