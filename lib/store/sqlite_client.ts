/**
 * The sqlite store as the event loop sees it: a proxy that sends each call to
 * the worker owning the connection (`sqlite.ts` run as a worker, `sqlite_worker.ts`) and resolves with its
 * answer. Statements, commits and checkpoints (about a quarter of the server's
 * CPU per ask, BENCHMARKS.md) thus leave the event loop. The calls made in one
 * turn of the event loop cross as one message (a structured-clone round trip
 * costs about 10 µs), and the worker runs them in one transaction.
 * @module
 */

import { AppError, Code } from "../errors.ts";
import type { Logger } from "../log.ts";
import type {
  Conversation,
  ConversationStore,
  FinishedMessage,
  ListOptions,
  Message,
  NewMessage,
  NewTurn,
  StartedTurn,
} from "./store.ts";
import { fromWire, type FromWorker, type StoreMethod, type ToWorker } from "./sqlite_wire.ts";
import { STORE_WORKER_NAME } from "./sqlite_worker.ts";

interface Pending {
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

function closedError(): AppError {
  return new AppError(Code.Unavailable, "Cannot use the store: it is closed", {
    reason: "shutting_down",
  });
}

/** A {@link ConversationStore} whose sqlite connection lives in a worker. */
class WorkerStore implements ConversationStore {
  #worker: Worker | null;
  #logger: Logger;
  #next = 0;
  #pending = new Map<number, Pending>();
  #durable = new Map<number, Pending>();
  #closing: Promise<void> | null = null;

  /** The reads, on a read-only connection of this thread. */
  #reader: ConversationStore;

  constructor(worker: Worker, logger: Logger, reader: ConversationStore) {
    this.#worker = worker;
    this.#logger = logger;
    this.#reader = reader;
    worker.onmessage = (e: MessageEvent<FromWorker>) => this.#receive(e.data);
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      this.#logger.error("the store's worker failed", { err: e.message });
      this.#fail(
        new AppError(Code.Internal, "Cannot use the store: its worker stopped", { cause: e }),
      );
    };
  }

  #receive(m: FromWorker): void {
    if (m.type === "many") {
      for (const one of m.messages) this.#receive(one);
      return;
    }
    if (m.type === "log") {
      this.#logger[m.level](m.msg, m.fields);
      return;
    }
    if (m.type === "opened") return;
    const table = m.type === "durable" ? this.#durable : this.#pending;
    const p = table.get(m.id);
    if (p === undefined) return;
    table.delete(m.id);
    if (m.type === "result") p.resolve(m.value);
    else if (m.type === "failed") p.reject(fromWire(m.error));
    else if (m.error === null) p.resolve(undefined);
    else p.reject(fromWire(m.error));
  }

  #fail(err: AppError): void {
    for (const table of [this.#pending, this.#durable]) {
      for (const p of table.values()) p.reject(err);
      table.clear();
    }
    this.#worker?.terminate();
    this.#worker = null;
  }

  /** Calls not yet posted: all those of one turn of the event loop go as one message. */
  #outbox: { id: number; method: StoreMethod; args: unknown[] }[] = [];

  #flush = (): void => {
    const calls = this.#outbox;
    this.#outbox = [];
    if (this.#worker === null || calls.length === 0) return;
    this.#worker.postMessage(
      (calls.length === 1
        ? { type: "call", ...calls[0] }
        : { type: "calls", calls }) satisfies ToWorker,
    );
  };

  #call<T>(method: StoreMethod, ...args: unknown[]): Promise<T> {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      if (this.#worker === null || this.#closing !== null) return reject(closedError());
      this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      if (this.#outbox.push({ id, method, args }) === 1) queueMicrotask(this.#flush);
    });
  }

  createConversation(input: { id?: string; owner: string; title?: string }) {
    return this.#call<Conversation>("createConversation", input);
  }
  getConversation(id: string, owner: string) {
    return this.#reader.getConversation(id, owner);
  }
  appendMessage(input: NewMessage) {
    return this.#call<Message>("appendMessage", input);
  }
  async startTurn(turn: NewTurn): Promise<StartedTurn> {
    // The call below takes this id; its second answer (durable) finds this entry.
    const id = this.#next;
    const durable = new Promise<void>((resolve, reject) => {
      this.#durable.set(id, { resolve: () => resolve(), reject });
    });
    // The caller may stop (a client gone) before it awaits this: keep a failure handled.
    durable.catch(() => {});
    try {
      const started = await this.#call<Omit<StartedTurn, "durable">>("startTurn", turn);
      return { ...started, durable };
    } catch (err) {
      this.#durable.delete(id);
      throw err;
    }
  }
  finishMessage(id: string, done: FinishedMessage) {
    return this.#call<void>("finishMessage", id, done);
  }
  saveDraft(id: string, content: string) {
    return this.#call<void>("saveDraft", id, content);
  }
  getMessage(id: string) {
    return this.#reader.getMessage(id);
  }
  path(messageId: string) {
    return this.#reader.path(messageId);
  }
  messages(conversationId: string) {
    return this.#reader.messages(conversationId);
  }
  list(owner: string, options?: ListOptions) {
    return this.#reader.list(owner, options);
  }
  rename(id: string, owner: string, title: string) {
    return this.#call<boolean>("rename", id, owner, title);
  }
  delete(id: string, owner: string) {
    return this.#call<boolean>("delete", id, owner);
  }

  /** Lets running calls and fsyncs end, closes the database and stops the worker. */
  close(): Promise<void> {
    if (this.#closing !== null) return this.#closing;
    if (this.#worker === null) return Promise.resolve();
    this.#flush();
    const id = this.#next++;
    const worker = this.#worker;
    const done = new Promise<unknown>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      worker.postMessage({ type: "close", id } satisfies ToWorker);
    });
    this.#closing = done.then(() => {}, (err) => {
      this.#logger.error("cannot close the store", { err });
    }).finally(async () => {
      this.#fail(closedError());
      await this.#reader.close();
    });
    return this.#closing;
  }
}

/**
 * Starts the worker and opens the store in it.
 * @param dataDir the directory of the database file
 * @param options the logger (the worker's lines go to it), the busy timeout, and
 *   the opener of the read-only connection for the reads (once the worker migrated)
 * @throws {AppError} what opening the store threw in the worker
 */
export function openWorkerStore(
  dataDir: string,
  options: { logger: Logger; busyTimeoutMs?: number; openReader: () => ConversationStore },
): Promise<ConversationStore> {
  // The worker runs `sqlite.ts`, which serves calls when it finds itself in a worker of this name.
  const worker = new Worker(new URL("./sqlite.ts", import.meta.url), {
    type: "module",
    name: STORE_WORKER_NAME,
  });
  return new Promise<ConversationStore>((resolve, reject) => {
    worker.onmessage = (e: MessageEvent<FromWorker>) => {
      const m = e.data;
      if (m.type === "log") options.logger[m.level](m.msg, m.fields);
      else if (m.type === "opened") {
        let reader: ConversationStore;
        try {
          reader = options.openReader();
        } catch (err) {
          worker.terminate();
          return reject(
            new AppError(
              Code.FailedPrecondition,
              `Cannot open the database in ${dataDir}: ${err}`,
              {
                cause: err,
              },
            ),
          );
        }
        resolve(new WorkerStore(worker, options.logger, reader));
      } else if (m.type === "failed") {
        worker.terminate();
        reject(fromWire(m.error));
      }
    };
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      worker.terminate();
      reject(
        new AppError(Code.Internal, "Cannot open the store: its worker failed", { cause: e }),
      );
    };
    worker.postMessage(
      { type: "open", dataDir, busyTimeoutMs: options.busyTimeoutMs } satisfies ToWorker,
    );
  });
}
