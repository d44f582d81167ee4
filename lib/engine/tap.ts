/**
 * A lightweight pass-through iterator for the engine's decorators (limits,
 * observation). It behaves like `async function*` with `yield*` and a
 * `finally` (lazy start, one end callback on completion, failure or an early
 * `return`), but costs one promise reaction per event instead of an async
 * generator's several; each chunk crosses every decorator, so this is on the
 * hottest path of the server (BENCHMARKS.md).
 * @module
 */

/** How a tapped stream ended. */
export type TapEnd =
  | { kind: "done" }
  | { kind: "error"; error: unknown }
  | { kind: "return" };

/** What {@link tapStream} calls. */
export interface StreamTap<T> {
  /** Opens the inner stream when the consumer first asks for an event; may throw to refuse. */
  open(): AsyncIterable<T>;
  /** Sees each event before the consumer does. */
  event?(value: T): void;
  /** Called once after the inner stream ended, failed or was returned (not when `open` threw). */
  end(how: TapEnd): void;
}

class Tapped<T> implements AsyncIterableIterator<T> {
  #tap: StreamTap<T>;
  #inner: AsyncIterator<T> | null = null;
  #state: "idle" | "open" | "closed" = "idle";
  #pending: Promise<unknown> | null = null;

  constructor(tap: StreamTap<T>) {
    this.#tap = tap;
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }

  next(): Promise<IteratorResult<T>> {
    if (this.#state === "closed") return Promise.resolve({ done: true, value: undefined });
    if (this.#state === "idle") {
      try {
        this.#inner = this.#tap.open()[Symbol.asyncIterator]();
      } catch (err) {
        this.#state = "closed";
        return Promise.reject(err);
      }
      this.#state = "open";
    }
    const p = this.#inner!.next().then(
      (r) => {
        if (r.done) this.#close({ kind: "done" });
        else this.#tap.event?.(r.value);
        return r;
      },
      (error) => {
        this.#close({ kind: "error", error });
        throw error;
      },
    );
    this.#pending = p;
    return p;
  }

  async return(value?: unknown): Promise<IteratorResult<T>> {
    // Like an async generator: a return waits for the event in flight.
    if (this.#pending !== null) await this.#pending.catch(() => {});
    if (this.#state === "idle") this.#state = "closed";
    if (this.#state === "closed") return { done: true, value: value as T };
    try {
      await this.#inner!.return?.();
    } finally {
      this.#close({ kind: "return" });
    }
    return { done: true, value: value as T };
  }

  #close(how: TapEnd): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#tap.end(how);
  }
}

/**
 * Wraps a stream that is opened lazily, watched event by event and closed
 * with one callback.
 * @param tap how to open it, what to do per event and at the end
 */
export function tapStream<T>(tap: StreamTap<T>): AsyncIterableIterator<T> {
  return new Tapped(tap);
}
