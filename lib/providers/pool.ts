/**
 * The key pool: round-robin choice of upstream keys, retries with exponential
 * backoff and jitter before the first token, resting keys that keep failing,
 * and the first-token and idle timeouts of every upstream attempt.
 * @module
 */

import { abortReason, AppError, Code } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { CallContext, ChatEvent } from "./provider.ts";

/** Options of {@link KeyPool}. */
export interface KeyPoolOptions {
  /** The upstream keys; never logged. At least one. */
  keys: readonly string[];
  /** Attempts per call before the first token (1 = no retry). */
  attempts: number;
  /** Milliseconds an attempt may wait for its first event (or response headers). */
  firstTokenTimeoutMs: number;
  /** Milliseconds of silence tolerated between two events of a stream. */
  idleTimeoutMs: number;
  logger: Logger;
  /** First backoff delay. @default 500 */
  baseDelayMs?: number;
  /** Largest backoff delay. @default 8000 */
  maxDelayMs?: number;
  /** How long a key that keeps failing rests. @default 60000 */
  restMs?: number;
  /** Consecutive failures after which a key rests. @default 3 */
  restAfterFailures?: number;
  /** Source of jitter in [0, 1). @default Math.random */
  random?: () => number;
  /** Waits `ms`, rejecting with the signal's reason when it aborts. @default a timer */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** The clock, in epoch milliseconds. @default Date.now */
  now?: () => number;
}

/** The health of one key, as {@link KeyPool.state} reports it (never the key). */
export interface KeyState {
  index: number;
  healthy: boolean;
  failures: number;
  restingUntil: number | null;
  /** Upstream attempts made with this key since start. */
  attempts: number;
  /** Of those, the attempts that failed (any reason). */
  errors: number;
}

/** The longest `Retry-After` honoured; longer hints fall back to the backoff. */
const MAX_RETRY_AFTER_MS = 60_000;

interface Slot {
  index: number;
  key: string;
  failures: number;
  restingUntil: number | null;
  attempts: number;
  errors: number;
}

/** Rotates keys and retries upstream attempts. */
export class KeyPool {
  #slots: Slot[];
  #next = 0;
  #opts: Required<Omit<KeyPoolOptions, "keys">>;

  /** @param options keys, attempts, timeouts, backoff */
  constructor(options: KeyPoolOptions) {
    if (options.keys.length === 0) throw new RangeError("Cannot create a key pool: no keys");
    this.#slots = options.keys.map((key, index) => ({
      index,
      key,
      failures: 0,
      restingUntil: null,
      attempts: 0,
      errors: 0,
    }));
    this.#opts = {
      attempts: Math.max(1, options.attempts),
      firstTokenTimeoutMs: options.firstTokenTimeoutMs,
      idleTimeoutMs: options.idleTimeoutMs,
      logger: options.logger,
      baseDelayMs: options.baseDelayMs ?? 500,
      maxDelayMs: options.maxDelayMs ?? 8000,
      restMs: options.restMs ?? 60_000,
      restAfterFailures: options.restAfterFailures ?? 3,
      random: options.random ?? Math.random,
      sleep: options.sleep ?? sleep,
      now: options.now ?? Date.now,
    };
  }

  /** The health of every key, in configuration order. */
  state(): KeyState[] {
    const now = this.#opts.now();
    return this.#slots.map((s) => {
      const resting = s.restingUntil !== null && s.restingUntil > now;
      return {
        index: s.index,
        healthy: !resting,
        failures: s.failures,
        restingUntil: resting ? s.restingUntil : null,
        attempts: s.attempts,
        errors: s.errors,
      };
    });
  }

  /**
   * Streams one answer. Each attempt gets the next key and its own signal,
   * which follows `ctx.signal` and fires on a timeout. Retryable failures
   * before the first event are retried; nothing is retried after it.
   * @param attempt starts one upstream stream with a key
   * @param ctx the call's context
   */
  async *stream(
    attempt: (key: string, signal: AbortSignal) => AsyncIterable<ChatEvent>,
    ctx: CallContext,
  ): AsyncGenerator<ChatEvent> {
    for (let n = 0;; n++) {
      if (ctx.signal.aborted) throw abortReason(ctx.signal);
      const slot = this.#attempt(ctx);
      const watch = new Watchdog(ctx.signal);
      let started = false;
      let ended = false;
      let answered = false;
      let failure: AppError | null = null;
      const iterator = attempt(slot.key, watch.signal)[Symbol.asyncIterator]();
      try {
        watch.arm(this.#opts.firstTokenTimeoutMs, "first token");
        while (true) {
          const r = await watch.race(iterator.next());
          watch.disarm();
          if (r.done) break;
          if (!started) {
            this.#succeeded(slot);
            // Nothing is retried from here on: let go of the attempt's request
            // (a long conversation's body) while the answer streams.
            attempt = spentAttempt;
          }
          started = true;
          if (r.value.type === "done") answered = true;
          yield r.value;
          watch.arm(this.#opts.idleTimeoutMs, "next chunk");
        }
        ended = true;
        return;
      } catch (thrown) {
        ended = true;
        failure = watch.explain(thrown);
      } finally {
        watch.stop();
        // The consumer left early, or a timeout fired while the attempt was pending.
        // After the answer's `done` nothing is cut short: the attempt just ends
        // (and may keep its connection for the next call).
        if (!ended || failure !== null) {
          if (!answered || failure !== null) watch.abort();
          await iterator.return?.().catch(() => {});
        }
        watch.dispose();
      }
      this.#failed(slot, failure, ctx);
      if (started || !this.#shouldRetry(failure, n, ctx)) throw failure;
      await this.#backoff(failure, n, ctx);
    }
  }

  /**
   * Makes one non-streaming call (or starts a raw pass-through stream). The
   * response is returned once its status is not retryable, or after the last
   * attempt as it is; its body stays tied to `ctx.signal`.
   * @param attempt sends one upstream request with a key
   * @param ctx the call's context
   */
  async request(
    attempt: (key: string, signal: AbortSignal) => Promise<Response>,
    ctx: CallContext,
  ): Promise<Response> {
    for (let n = 0;; n++) {
      if (ctx.signal.aborted) throw abortReason(ctx.signal);
      const slot = this.#attempt(ctx);
      const watch = new Watchdog(ctx.signal);
      let res: Response;
      try {
        watch.arm(this.#opts.firstTokenTimeoutMs, "response headers");
        res = await watch.race(attempt(slot.key, watch.signal));
      } catch (thrown) {
        watch.disarm();
        watch.dispose();
        const err = watch.explain(thrown);
        this.#failed(slot, err, ctx);
        if (!this.#shouldRetry(err, n, ctx)) throw err;
        await this.#backoff(err, n, ctx);
        continue;
      }
      watch.stop();
      const verdict = await responseVerdict(res);
      if (verdict === null) {
        this.#succeeded(slot);
        return withIdleTimeout(res, watch, this.#opts.idleTimeoutMs);
      }
      // The body of a final error response stays tied to the call's signal.
      watch.dispose(true);
      this.#failed(slot, verdict, ctx);
      if (!this.#shouldRetry(verdict, n, ctx)) return res;
      watch.dispose();
      await res.body?.cancel().catch(() => {});
      await this.#backoff(verdict, n, ctx);
    }
  }

  /** The next key, counted as one attempt of this call and of the key. */
  #attempt(ctx: CallContext): Slot {
    const slot = this.#pick();
    slot.attempts++;
    if (ctx.stats) ctx.stats.upstreamAttempts++;
    return slot;
  }

  #pick(): Slot {
    const now = this.#opts.now();
    const count = this.#slots.length;
    for (let i = 0; i < count; i++) {
      const slot = this.#slots[(this.#next + i) % count];
      if (slot.restingUntil === null || slot.restingUntil <= now) {
        this.#next = (slot.index + 1) % count;
        return slot;
      }
    }
    // Every key rests: use the one whose rest ends first rather than fail.
    const slot = this.#slots.reduce((a, b) => (a.restingUntil! <= b.restingUntil! ? a : b));
    this.#next = (slot.index + 1) % count;
    return slot;
  }

  #succeeded(slot: Slot): void {
    slot.failures = 0;
    slot.restingUntil = null;
  }

  #failed(slot: Slot, err: AppError, ctx: CallContext): void {
    slot.errors++;
    if (!blamesKey(err)) return;
    slot.failures++;
    const fields = { key: slot.index, failures: slot.failures, code: err.code, reason: err.reason };
    if (slot.failures >= this.#opts.restAfterFailures) {
      slot.restingUntil = this.#opts.now() + this.#opts.restMs;
      ctx.logger.warn("upstream key rests", { ...fields, restMs: this.#opts.restMs });
    } else {
      ctx.logger.debug("upstream attempt failed", { ...fields, status: err.upstreamStatus });
    }
  }

  #shouldRetry(err: AppError, n: number, ctx: CallContext): boolean {
    return err.retryable && n + 1 < this.#opts.attempts && !ctx.signal.aborted;
  }

  async #backoff(err: AppError, n: number, ctx: CallContext): Promise<void> {
    const hint = err.retryAfterMs;
    let delay: number;
    if (hint !== undefined && hint >= 0 && hint <= MAX_RETRY_AFTER_MS) {
      delay = hint;
    } else {
      const base = Math.min(this.#opts.maxDelayMs, this.#opts.baseDelayMs * 2 ** n);
      delay = base * (1 - this.#opts.random() * 0.25);
    }
    ctx.logger.info("upstream retry", {
      attempt: n + 2,
      delayMs: Math.round(delay),
      status: err.upstreamStatus,
      reason: err.reason,
    });
    try {
      await this.#opts.sleep(delay, ctx.signal);
    } catch {
      throw abortReason(ctx.signal);
    }
  }
}

/** Whether a failure says something about the key rather than the request. */
function blamesKey(err: AppError): boolean {
  if (err.code === Code.Canceled || err.code === Code.InvalidArgument) return false;
  return err.retryable || err.reason === "upstream_auth" || err.code === Code.ResourceExhausted;
}

/**
 * Whether a response's status calls for another attempt, as an AppError that
 * says why (null when the response is final). `x-should-retry` decides when
 * present; otherwise 408, 409, 429 (but not `insufficient_quota`) and 5xx.
 */
async function responseVerdict(res: Response): Promise<AppError | null> {
  if (res.ok) return null;
  const status = res.status;
  const header = res.headers.get("x-should-retry");
  let retryable = status === 408 || status === 409 || status === 429 || status >= 500;
  if (header === "true") retryable = true;
  if (header === "false") retryable = false;
  if (retryable && status === 429 && header === null) {
    const text = await res.clone().text().catch(() => "");
    if (text.includes("insufficient_quota")) retryable = false;
  }
  const auth = status === 401 || status === 403;
  const code = status === 429 ? Code.ResourceExhausted : Code.Unavailable;
  return new AppError(code, `Cannot call the upstream: it answered status ${status}`, {
    retryable,
    upstreamStatus: status,
    retryAfterMs: retryAfterMs(res.headers),
    reason: auth ? "upstream_auth" : status === 429 ? "rate_limited" : "upstream_error",
  });
}

/**
 * The wait an upstream asks for: `retry-after-ms` (milliseconds), else
 * `retry-after` (seconds or an HTTP date); undefined when absent or invalid.
 * @param headers the response headers
 * @param now the clock, for HTTP dates
 */
export function retryAfterMs(headers: Headers, now: number = Date.now()): number | undefined {
  const ms = headers.get("retry-after-ms");
  if (ms !== null && ms.trim() !== "") {
    const n = Number(ms);
    if (Number.isFinite(n) && n >= 0) return n;
  }
  const after = headers.get("retry-after");
  if (after === null || after.trim() === "") return undefined;
  const seconds = Number(after);
  if (Number.isFinite(seconds)) return seconds >= 0 ? seconds * 1000 : undefined;
  const date = Date.parse(after);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * The response with a body that fails with upstream_timeout when the upstream
 * stays silent longer than `ms` while the consumer waits for the next chunk.
 * It pulls only when the consumer reads, so a slow consumer is not blamed.
 */
function withIdleTimeout(res: Response, watch: Watchdog, ms: number): Response {
  if (res.body === null) {
    watch.dispose();
    return res;
  }
  const reader = res.body.getReader();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      watch.arm(ms, "next chunk");
      try {
        const { done, value } = await watch.race(reader.read());
        if (done) {
          watch.dispose();
          controller.close();
        } else {
          controller.enqueue(value);
        }
      } catch (err) {
        watch.dispose();
        controller.error(watch.explain(err));
        await reader.cancel().catch(() => {});
      } finally {
        watch.disarm();
      }
    },
    cancel(reason) {
      watch.disarm();
      watch.dispose();
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
  return new Response(body, {
    status: res.status,
    statusText: res.statusText,
    headers: res.headers,
  });
}

/**
 * One attempt's signal and timer: it follows the call's signal, and aborts
 * with a DeadlineExceeded AppError when the armed deadline passes.
 *
 * Arming sets a deadline, not a new timer: one timer per attempt wakes up,
 * and sleeps again until the deadline when the stream moved meanwhile. Arming
 * and disarming per chunk thus costs two field writes instead of a
 * `setTimeout` and a `clearTimeout` (about 10 % of the server's CPU when
 * 64 streams relay chunks at full speed, BENCHMARKS.md).
 */
class Watchdog {
  readonly #local = new AbortController();
  readonly signal: AbortSignal = this.#local.signal;
  readonly #parent: AbortSignal;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** `performance.now()` at which the armed wait times out; 0 when disarmed. */
  #deadline = 0;
  #what = "";
  /** Rejects the race in flight, if any. */
  #rejectRace: ((reason: unknown) => void) | null = null;
  readonly #onAbort = () => this.#rejectRace?.(this.signal.reason);
  readonly #follow = () => this.#local.abort(this.#parent.reason);

  /** Follows `parent` with a listener (removed by dispose), not an `AbortSignal.any` chain. */
  constructor(parent: AbortSignal) {
    this.#parent = parent;
    this.signal.addEventListener("abort", this.#onAbort, { once: true });
    if (parent.aborted) this.#follow();
    else parent.addEventListener("abort", this.#follow, { once: true });
  }

  /** Starts the wait; `what` names what is awaited, for the message. */
  arm(ms: number, what: string): void {
    this.#deadline = performance.now() + ms;
    this.#what = what;
    if (this.#timer === undefined) this.#timer = setTimeout(() => this.#wake(), ms);
  }

  #wake(): void {
    this.#timer = undefined;
    if (this.#deadline === 0) return;
    const left = this.#deadline - performance.now();
    if (left > 0) {
      this.#timer = setTimeout(() => this.#wake(), left);
      return;
    }
    this.#deadline = 0;
    this.#local.abort(
      new AppError(
        Code.DeadlineExceeded,
        `Cannot read the upstream answer: no ${this.#what} in time`,
        { reason: "upstream_timeout" },
      ),
    );
  }

  /** Ends the wait; the timer may stay until its next wake-up, which then does nothing. */
  disarm(): void {
    this.#deadline = 0;
  }

  /** Ends the wait and clears the timer. */
  stop(): void {
    this.#deadline = 0;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Aborts the attempt (the consumer left early). */
  abort(): void {
    if (!this.#local.signal.aborted) {
      this.#local.abort(new DOMException("The consumer stopped reading", "AbortError"));
    }
  }

  /** Awaits `p`, or rejects as soon as the signal fires. */
  race<T>(p: Promise<T>): Promise<T> {
    // Not `Promise.race` with one abort promise: that adds a reaction to it
    // per chunk, kept until the stream ends. When the signal wins, `p`
    // settles later (usually rejecting) and is ignored.
    if (this.signal.aborted) {
      p.catch(() => {});
      return Promise.reject(this.signal.reason);
    }
    return new Promise<T>((resolve, reject) => {
      this.#rejectRace = reject;
      p.then(resolve, reject);
    });
  }

  /** The error to report: the signal's reason wins over what the attempt threw. */
  explain(thrown: unknown): AppError {
    if (this.signal.aborted) return abortReason(this.signal);
    return AppError.from(thrown);
  }

  /**
   * Ends the attempt's watch.
   * @param keepFollowing the attempt's signal keeps following the call's (a response
   *   body handed out as it is)
   */
  dispose(keepFollowing = false): void {
    this.stop();
    this.signal.removeEventListener("abort", this.#onAbort);
    if (!keepFollowing) this.#parent.removeEventListener("abort", this.#follow);
  }
}

/** What {@link KeyPool.stream} holds instead of its attempt once the answer started. */
function spentAttempt(): never {
  throw new Error("Cannot start another attempt: the answer has started");
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
