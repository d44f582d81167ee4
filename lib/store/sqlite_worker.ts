/**
 * The worker side of the sqlite store: the worker (started on `sqlite.ts`
 * itself, named {@link STORE_WORKER_NAME}) owns the connection, so that
 * statements, commits and checkpoints run off the server's event loop. It runs
 * the in-thread store and answers the proxy's calls in order; a write's answer
 * is sent only once it is durable (the store's group commit), `startTurn`'s
 * once committed and its `durable` in a second message. Calls that arrive in
 * one message share one transaction, each in its own savepoint, and the
 * answers ready in one turn go back as one message.
 * @module
 */

import type { LogFields, Logger } from "../log.ts";
import type { ConversationStore, StartedTurn } from "./store.ts";
import { type FromWorker, toWire, type ToWorker } from "./sqlite_wire.ts";

/** The name of the store's worker, by which `sqlite.ts` knows it runs in it. */
export const STORE_WORKER_NAME = "easybackend-sqlite-store";

/** The worker's global scope, as far as used here. */
interface WorkerScope {
  name?: string;
  postMessage(message: unknown): void;
  onmessage: ((event: MessageEvent<ToWorker>) => void) | null;
}

const scope = globalThis as unknown as WorkerScope;

/** Whether this module runs in the store's worker. */
export function inStoreWorker(): boolean {
  return scope.name === STORE_WORKER_NAME && typeof scope.postMessage === "function";
}

/** Answers not yet posted: all those of one turn go out as one message. */
let outbox: FromWorker[] = [];

function flush(): void {
  const messages = outbox;
  outbox = [];
  scope.postMessage(messages.length === 1 ? messages[0] : { type: "many", messages });
}

function post(message: FromWorker): void {
  if (outbox.push(message) === 1) queueMicrotask(flush);
}

/** A logger whose lines go to the proxy's logger. */
function relayLogger(bound: LogFields = {}): Logger {
  const line = (level: "debug" | "info" | "warn" | "error") => (msg: string, fields?: LogFields) =>
    post({ type: "log", level, msg, fields: { ...bound, ...fields } });
  return {
    debug: line("debug"),
    info: line("info"),
    warn: line("warn"),
    error: line("error"),
    child: (fields) => relayLogger({ ...bound, ...fields }),
  };
}

let store: ConversationStore | null = null;

async function call(id: number, method: string, args: unknown[]): Promise<void> {
  try {
    if (store === null) throw new Error("the store is not open");
    const fn = (store as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[method];
    const value = await fn.apply(store, args);
    if (method === "startTurn") {
      const { user, assistant, durable } = value as StartedTurn;
      post({ type: "result", id, value: { user, assistant } });
      durable.then(
        () => post({ type: "durable", id, error: null }),
        (err) => post({ type: "durable", id, error: toWire(err) }),
      );
      return;
    }
    post({ type: "result", id, value });
  } catch (err) {
    post({ type: "failed", id, error: toWire(err) });
  }
}

/** What the worker opens the store with (`sqlite.ts`'s in-thread opener). */
export type OpenInThread = (
  dataDir: string,
  options: { logger: Logger; busyTimeoutMs?: number },
) => Promise<ConversationStore>;

/**
 * Serves the proxy's calls on this worker.
 * @param openSqliteStoreInThread opens the store on this thread
 */
export function serveStoreWorker(openSqliteStoreInThread: OpenInThread): void {
  scope.onmessage = (event) => void receive(event.data, openSqliteStoreInThread);
}

async function receive(message: ToWorker, openSqliteStoreInThread: OpenInThread): Promise<void> {
  if (message.type === "call") {
    await call(message.id, message.method, message.args);
  } else if (message.type === "calls") {
    // Calls that arrived together share one transaction (the store's batch, each in its own savepoint).
    for (const c of message.calls) void call(c.id, c.method, c.args);
  } else if (message.type === "open") {
    try {
      store = await openSqliteStoreInThread(message.dataDir, {
        logger: relayLogger(),
        busyTimeoutMs: message.busyTimeoutMs,
      });
      post({ type: "opened" });
    } catch (err) {
      post({ type: "failed", id: -1, error: toWire(err) });
    }
  } else if (message.type === "close") {
    try {
      await store?.close();
      post({ type: "result", id: message.id, value: null });
    } catch (err) {
      post({ type: "failed", id: message.id, error: toWire(err) });
    }
  }
}
