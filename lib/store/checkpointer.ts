/**
 * WAL checkpoints off the event loop. sqlite's automatic checkpoint runs inside
 * the commit that takes the WAL past 1 000 pages, on the committing thread: it
 * copies the WAL's pages into the database file and fsyncs both, and every
 * stream the process serves waits meanwhile (2–10 ms on the benchmark
 * machine's disk, 45 ms where an fsync takes 20 ms; BENCHMARKS.md). The store
 * turns that off on its writer and asks this checkpointer instead, after a
 * number of commits that it adapts so that a checkpoint finds about as many
 * WAL pages as sqlite's own would (1 000: one commit writes a few pages when
 * asks come one by one, hundreds when a busy server's commits gather many);
 * a worker with its own connection (`checkpoint_worker.ts`) does the work and
 * reports back.
 *
 * The worker starts with {@link Checkpointer.prewarm} (the store calls it
 * when it opens) or at the first checkpoint, and ends after
 * {@link CheckpointerOptions.idleMs} without one, so an idle server keeps no
 * second isolate. When the worker cannot run, the checkpointer says so once
 * and calls `onUnavailable`: the writer then checkpoints in its commits again,
 * as sqlite does by default.
 * @module
 */

import type { Logger } from "../log.ts";

/** A message to the checkpoint worker. */
export type CheckpointRequest =
  | { type: "checkpoint"; file: string; busyTimeoutMs: number }
  | { type: "close" };

/** A message from the checkpoint worker. */
export type CheckpointReply =
  | { type: "checkpointed"; busy: boolean; frames: number; copied: number; ms: number }
  | { type: "failed"; error: string }
  | { type: "closed" };

/** Options of {@link Checkpointer}. */
export interface CheckpointerOptions {
  /** The database file. */
  file: string;
  logger: Logger;
  /** Called once when the worker cannot checkpoint: the writer must do it again. */
  onUnavailable: () => void;
  /**
   * A checkpoint starts after this many commits, always; when not set, the
   * number adapts (from 64, between 4 and 512) to {@link targetFrames}.
   */
  everyCommits?: number;
  /** The WAL pages a checkpoint should find, when the commits adapt. @default 1000 */
  targetFrames?: number;
  /** The least time between the starts of two checkpoints, in ms. @default 250 */
  minIntervalMs?: number;
  /** The worker ends after this many ms without a checkpoint. @default 60000 */
  idleMs?: number;
  /**
   * How long a checkpoint waits for the writer's transaction and for readers
   * before it gives up until the next one. @default 1000
   */
  busyTimeoutMs?: number;
  /** The worker's module. @default checkpoint_worker.ts beside this module */
  workerUrl?: URL;
}

/** How long closing waits for the checkpoint in flight, then for the worker to close its connection. */
const CLOSE_WAIT_MS = 5000;

/** Runs the store's WAL checkpoints on a worker thread. */
export class Checkpointer {
  readonly #file: string;
  readonly #logger: Logger;
  readonly #onUnavailable: () => void;
  #everyCommits: number;
  readonly #adapt: boolean;
  readonly #targetFrames: number;
  /** The commits the checkpoint in flight covers. */
  #covered = 0;
  /** WAL pages per commit, smoothed over the checkpoints so far (0: none yet). */
  #framesPerCommit = 0;
  readonly #minIntervalMs: number;
  /** When the last checkpoint started (`performance.now()`). */
  #lastStart = -Infinity;
  readonly #idleMs: number;
  readonly #busyTimeoutMs: number;
  readonly #workerUrl: URL;
  #worker: Worker | null = null;
  #commits = 0;
  /** The checkpoint in flight, if any. */
  #running: PromiseWithResolvers<void> | null = null;
  /** The worker's close in flight, if any. */
  #closing: PromiseWithResolvers<void> | null = null;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  #unavailable = false;
  #closed = false;
  /** Checkpoints that ran to completion on the worker. */
  completed = 0;

  /** @param options the file, when to checkpoint, and what to do when it cannot */
  constructor(options: CheckpointerOptions) {
    this.#file = options.file;
    this.#logger = options.logger;
    this.#onUnavailable = options.onUnavailable;
    this.#everyCommits = Math.max(1, options.everyCommits ?? 64);
    this.#adapt = options.everyCommits === undefined;
    this.#targetFrames = options.targetFrames ?? 1000;
    this.#minIntervalMs = options.minIntervalMs ?? 250;
    this.#idleMs = options.idleMs ?? 60_000;
    this.#busyTimeoutMs = options.busyTimeoutMs ?? 1000;
    this.#workerUrl = options.workerUrl ?? new URL("./checkpoint_worker.ts", import.meta.url);
  }

  /** Whether the worker is running (it ends after `idleMs` without a checkpoint). */
  get workerRunning(): boolean {
    return this.#worker !== null;
  }

  /** Whether checkpoints run on the worker (false once it could not). */
  get available(): boolean {
    return !this.#unavailable;
  }

  /**
   * Starts the worker ahead of the first checkpoint (it ends when idle, as
   * always). Creating a worker holds the calling thread until the worker's
   * runtime is up (~10 ms here): better at start-up than under load.
   */
  prewarm(): void {
    if (this.#unavailable || this.#closed || this.#worker !== null) return;
    try {
      this.#spawn();
    } catch (err) {
      this.#fail(err);
      return;
    }
    this.#armIdle();
  }

  /** Counts one commit, and starts a checkpoint when one is due and none runs. */
  committed(): void {
    if (this.#unavailable || this.#closed) return;
    if (++this.#commits < this.#everyCommits || this.#running !== null) return;
    // Many small checkpoints copy the same hot pages (the tables' right edges)
    // and fsync again and again: at most one per minIntervalMs.
    if (performance.now() - this.#lastStart < this.#minIntervalMs) return;
    this.#lastStart = performance.now();
    this.#covered = this.#commits;
    this.#commits = 0;
    this.#start();
  }

  /** Waits for the checkpoint in flight (a few seconds at most), then ends the worker. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#idleTimer);
    if (this.#running !== null) await within(this.#running.promise, CLOSE_WAIT_MS);
    await this.#stopWorker();
  }

  #start(): void {
    clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    let worker: Worker;
    try {
      worker = this.#worker ?? this.#spawn();
    } catch (err) {
      this.#fail(err);
      return;
    }
    this.#running = Promise.withResolvers<void>();
    const request: CheckpointRequest = {
      type: "checkpoint",
      file: this.#file,
      busyTimeoutMs: this.#busyTimeoutMs,
    };
    worker.postMessage(request);
  }

  #spawn(): Worker {
    const worker = new Worker(this.#workerUrl, { type: "module" });
    worker.onmessage = (e: MessageEvent<CheckpointReply>) => this.#onReply(e.data);
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      this.#fail(new Error(e.message));
    };
    this.#worker = worker;
    return worker;
  }

  #onReply(reply: CheckpointReply): void {
    if (reply.type === "closed") {
      this.#closing?.resolve();
      return;
    }
    if (reply.type === "failed") {
      this.#fail(new Error(reply.error));
      return;
    }
    if (!reply.busy) this.completed++;
    if (this.#adapt && reply.frames > 0 && this.#covered > 0) {
      // Pages per commit, smoothed: one checkpoint's count is a noisy guide.
      const perCommit = reply.frames / this.#covered;
      this.#framesPerCommit = this.#framesPerCommit === 0
        ? perCommit
        : 0.7 * this.#framesPerCommit + 0.3 * perCommit;
      const next = Math.round(this.#targetFrames / this.#framesPerCommit);
      this.#everyCommits = Math.min(512, Math.max(4, next));
    }
    this.#logger.debug("store checkpointed", {
      commits: this.#covered,
      frames: reply.frames,
      copied: reply.copied,
      busy: reply.busy,
      ms: Math.round(reply.ms * 10) / 10,
    });
    this.#settle();
    this.#armIdle();
  }

  /** Ends the worker after idleMs without a checkpoint. */
  #armIdle(): void {
    if (this.#closed) return;
    clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = undefined;
      if (this.#running === null) void this.#stopWorker();
    }, this.#idleMs);
    Deno.unrefTimer(this.#idleTimer);
  }

  #settle(): void {
    const running = this.#running;
    this.#running = null;
    running?.resolve();
  }

  #fail(err: unknown): void {
    if (this.#unavailable) return;
    this.#unavailable = true;
    this.#logger.warn("cannot checkpoint the store on a worker; commits checkpoint it instead", {
      err,
    });
    this.#worker?.terminate();
    this.#worker = null;
    this.#closing?.resolve();
    this.#settle();
    try {
      this.#onUnavailable();
    } catch (e) {
      this.#logger.error("cannot restore the store's own checkpoints", { err: e });
    }
  }

  /** Closes the worker's connection, then ends the worker. */
  async #stopWorker(): Promise<void> {
    const worker = this.#worker;
    if (worker === null) return;
    this.#worker = null;
    this.#closing = Promise.withResolvers<void>();
    const request: CheckpointRequest = { type: "close" };
    worker.postMessage(request);
    await within(this.#closing.promise, CLOSE_WAIT_MS);
    this.#closing = null;
    worker.terminate();
  }
}

/** Waits for `promise`, or `ms` at most. */
async function within(promise: Promise<void>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([promise, new Promise<void>((resolve) => timer = setTimeout(resolve, ms))]);
  clearTimeout(timer);
}
