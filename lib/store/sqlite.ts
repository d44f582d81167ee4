/**
 * The conversation store on sqlite (`node:sqlite`, the only module that imports
 * it). One file `<dataDir>/easybackend.db` in WAL mode. Every acknowledged
 * write survives a process crash and a power cut: a write's promise resolves
 * only after the WAL file has been fsynced (an ask writes twice, its start
 * and its end, and waits for two fsyncs that other writes share, never per delta).
 *
 * The fsync is a group commit off the event loop: sqlite commits with
 * `synchronous=NORMAL` (the WAL write, no fsync: sqlite's own guarantee is
 * that this never corrupts the database), then `syncData()` on the WAL file
 * runs on the runtime's blocking-task thread, and one fsync covers every
 * commit made before it started. With `synchronous=FULL` each commit blocked
 * the event loop for the whole fsync (about 5 ms on the benchmark machine),
 * which capped the server at about 40 asks per second whatever the load
 * (BENCHMARKS.md).
 *
 * The commits follow the fsyncs: the writes that arrive while one runs share
 * one open transaction (each in its own savepoint), committed when it ends
 * and covered by the next. They would wait for that fsync anyway; sharing one
 * commit writes each changed page to the WAL once instead of once per write
 * (about half the bytes per answer, BENCHMARKS.md).
 *
 * The statements and commits run on the event loop's thread: a turn's writes
 * cost 0.05-0.07 ms of CPU there, less than handing them to a worker thread
 * and back cost (two thread wake-ups per call, each waiting for a core on a
 * loaded machine: 3-4 ms per call, BENCHMARKS.md). The writer never waits
 * for another process's lock with the event loop blocked: its busy timeout
 * is 0, and a write that finds the lock taken waits on timers
 * ({@link SqliteStore.#acquire}). The WAL's checkpoints (copying its pages
 * into the database file, and the fsyncs around that) run on a worker with
 * its own connection ({@link Checkpointer}), not inside a commit here: the
 * writer's automatic checkpoint is off.
 * @module
 */

import { DatabaseSync, type StatementSync } from "node:sqlite";
import { join } from "node:path";
import { AppError, Code } from "../errors.ts";
import { type Logger, silentLogger } from "../log.ts";
import type {
  Conversation,
  ConversationStore,
  FinishedMessage,
  ListOptions,
  Message,
  MessageStatus,
  NewMessage,
  NewTurn,
  StartedTurn,
} from "./store.ts";
import { migrate } from "./migrations.ts";
import { newRowId } from "./row_id.ts";
import { Checkpointer, type CheckpointerOptions } from "./checkpointer.ts";
import type { Role } from "../providers/provider.ts";

/** The file name of the database inside the data dir. */
export const DATABASE_FILE = "easybackend.db";

/** Options of {@link openSqliteStore}. */
export interface SqliteStoreOptions {
  /** @default silentLogger */
  logger?: Logger;
  /** How long a writer waits for a lock held by another connection. @default 5000 */
  busyTimeoutMs?: number;
  /** When the WAL checkpoints run on their worker ({@link Checkpointer}); defaults suit a server. */
  checkpoint?: Pick<CheckpointerOptions, "everyCommits" | "targetFrames" | "minIntervalMs">;
}

type Row = Record<string, unknown>;

const MESSAGE_COLUMNS = `id, conversation_id, parent_id, role, content, model, status,
  finish_reason, prompt_tokens, completion_tokens, total_tokens,
  upstream_conversation_id, upstream_message_id, depth, created_at, content_tokens,
  token_encoding`;

const SQL = {
  getConversation: "SELECT * FROM conversations WHERE id = ? AND owner = ?",
  conversationExists: "SELECT id FROM conversations WHERE id = ?",
  insertConversation: `INSERT INTO conversations (id, owner, title, current_node, created_at,
    updated_at) VALUES (?, ?, ?, NULL, ?, ?)`,
  touchConversation: "UPDATE conversations SET current_node = ?, updated_at = ? WHERE id = ?",
  updatedAtOfMessage: `UPDATE conversations SET updated_at = ?
    WHERE id = (SELECT conversation_id FROM messages WHERE id = ?)`,
  insertMessage: `INSERT INTO messages (${MESSAGE_COLUMNS})
    VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL, NULL, NULL, NULL, ?, ?, ?, ?)`,
  finishMessage: `UPDATE messages SET content = ?, status = ?, model = coalesce(?, model),
    finish_reason = ?, prompt_tokens = ?, completion_tokens = ?, total_tokens = ?,
    upstream_conversation_id = ?, upstream_message_id = ?, content_tokens = ?,
    token_encoding = ? WHERE id = ?`,
  saveDraft: "UPDATE messages SET content = ? WHERE id = ? AND status = 'in_progress'",
  getMessage: `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE id = ?`,
  parentOf: "SELECT conversation_id, depth FROM messages WHERE id = ?",
  // Walks parent ids by primary key: cost grows with the depth, not the table.
  // Walks parent ids by primary key, reading each row once on the way: cost
  // grows with the depth, not the table.
  path: `WITH RECURSIVE walk AS (
      SELECT ${MESSAGE_COLUMNS} FROM messages WHERE id = ?
      UNION ALL
      SELECT ${MESSAGE_COLUMNS.replace(/(\w+)/g, "m.$1")} FROM messages m
        JOIN walk w ON m.id = w.parent_id
    )
    SELECT * FROM walk ORDER BY depth`,
  messages: `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ?
    ORDER BY created_at, rowid`,
  list: `SELECT * FROM conversations WHERE owner = ? AND updated_at < ?
    ORDER BY updated_at DESC LIMIT ?`,
  rename: "UPDATE conversations SET title = ?, updated_at = ? WHERE id = ? AND owner = ?",
  // Messages first, in one statement: a cascade along parent ids would recurse as deep as the tree.
  deleteMessages: `DELETE FROM messages WHERE conversation_id =
    (SELECT id FROM conversations WHERE id = ? AND owner = ?)`,
  delete: "DELETE FROM conversations WHERE id = ? AND owner = ?",
  // Prepared once, like the others: exec() would parse them at every write.
  begin: "BEGIN IMMEDIATE",
  commit: "COMMIT",
  savepoint: "SAVEPOINT call",
  release: "RELEASE call",
  rollbackTo: "ROLLBACK TO call",
} as const;

/**
 * Opens (creating if needed) the store in `dataDir`, applies migrations and
 * marks replies left `in_progress` by a crash as `incomplete`. Two connections
 * on this thread: the writer, and a read-only one for the reads, which sees
 * every commit and never a write not yet committed. `close()` closes both.
 * @param dataDir the directory of the database file; created when missing
 * @throws {AppError} FailedPrecondition when the directory cannot be written
 */
export async function openSqliteStore(
  dataDir: string,
  options: SqliteStoreOptions = {},
): Promise<ConversationStore> {
  await ensureWritableDir(dataDir);
  const logger = options.logger ?? silentLogger;
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  const file = join(dataDir, DATABASE_FILE);
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(file, { enableForeignKeyConstraints: true, timeout: busyTimeoutMs });
  } catch (err) {
    throw new AppError(Code.FailedPrecondition, `Cannot open the database in ${dataDir}: ${err}`, {
      cause: err,
    });
  }
  let reader: DatabaseSync;
  try {
    db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON");
    migrate(db, logger);
    const recovered = db.prepare(
      "UPDATE messages SET status = 'incomplete' WHERE status = 'in_progress'",
    ).run().changes;
    if (Number(recovered) > 0) {
      logger.warn("store recovered interrupted replies", { count: Number(recovered) });
    }
    // From now on a write never blocks the event loop on another process's
    // lock: the store retries on a timer instead (SqliteStore.#acquire).
    db.exec("PRAGMA busy_timeout = 0");
    // Checkpoints run on a worker (Checkpointer), not inside a commit on the event loop.
    db.exec("PRAGMA wal_autocheckpoint = 0");
    reader = new DatabaseSync(file, { readOnly: true, timeout: busyTimeoutMs });
  } catch (err) {
    db.close();
    if (err instanceof AppError) throw err;
    throw new AppError(Code.FailedPrecondition, `Cannot open the database in ${dataDir}: ${err}`, {
      cause: err,
    });
  }
  const checkpointer = new Checkpointer({
    file,
    logger,
    ...options.checkpoint,
    onUnavailable: () => {
      // sqlite's default: the commit that takes the WAL past 1 000 pages checkpoints it.
      if (db.isOpen) db.exec("PRAGMA wal_autocheckpoint = 1000");
    },
  });
  checkpointer.prewarm();
  return new SqliteStore(db, reader, file + "-wal", busyTimeoutMs, checkpointer);
}

async function ensureWritableDir(dataDir: string): Promise<void> {
  try {
    await Deno.mkdir(dataDir, { recursive: true });
    const probe = join(dataDir, `.write-probe-${crypto.randomUUID()}`);
    await Deno.writeTextFile(probe, "");
    await Deno.remove(probe);
  } catch (err) {
    throw new AppError(
      Code.FailedPrecondition,
      `Cannot open the store: the data directory ${dataDir} is not writable (${
        (err as Error).name
      })`,
      { cause: err },
    );
  }
}

function toConversation(row: Row): Conversation {
  return {
    id: row.id as string,
    owner: row.owner as string,
    title: row.title as string,
    currentNode: (row.current_node as string | null) ?? null,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

function toMessage(row: Row): Message {
  const upstream = row.upstream_conversation_id != null && row.upstream_message_id != null
    ? {
      conversationId: row.upstream_conversation_id as string,
      messageId: row.upstream_message_id as string,
    }
    : null;
  const usage = row.total_tokens != null
    ? {
      promptTokens: Number(row.prompt_tokens),
      completionTokens: Number(row.completion_tokens),
      totalTokens: Number(row.total_tokens),
    }
    : null;
  return {
    id: row.id as string,
    conversationId: row.conversation_id as string,
    parentId: (row.parent_id as string | null) ?? null,
    role: row.role as Role,
    content: row.content as string,
    model: (row.model as string | null) ?? null,
    status: row.status as MessageStatus,
    finishReason: (row.finish_reason as string | null) ?? null,
    usage,
    upstream,
    depth: Number(row.depth),
    createdAt: Number(row.created_at),
    tokens: row.content_tokens != null
      ? { encoding: row.token_encoding as string, count: Number(row.content_tokens) }
      : null,
  };
}

/** The writes of one transaction, committed together. */
interface Batch {
  /** Settles when the transaction commits (or fails to). */
  committed: PromiseWithResolvers<void>;
  /** Settles when the commit is on disk; null while no write of the batch needs it. */
  durable: PromiseWithResolvers<void> | null;
}

/** A write waiting for the write lock ({@link SqliteStore.#acquire}). */
interface QueuedWrite {
  fn: () => unknown;
  committed: PromiseWithResolvers<unknown>;
  durable: PromiseWithResolvers<void> | null;
}

/** The {@link ConversationStore} on a writing and a read-only sqlite connection. */
class SqliteStore implements ConversationStore {
  #db: DatabaseSync | null;
  #reader: DatabaseSync;
  #statements = new Map<string, StatementSync>();
  #readStatements = new Map<string, StatementSync>();
  #lastTime = 0;
  #walPath: string;
  #wal: Deno.FsFile | null = null;
  #busyTimeoutMs: number;
  /** The open transaction that writes join, if any ({@link SqliteStore.#write}). */
  #batch: Batch | null = null;
  /** Writes waiting, in order, while another connection holds the write lock. */
  #queue: QueuedWrite[] = [];
  /** Settles when the queue is empty again (the lock taken, or the wait given up). */
  #acquiring: Promise<void> | null = null;
  /** The running fsync of the WAL, if any. */
  #syncing: Promise<void> | null = null;
  /** Batches committed since the running fsync started: the next one covers them. */
  #unsynced: PromiseWithResolvers<void>[] = [];
  #checkpointer: Checkpointer;

  constructor(
    db: DatabaseSync,
    reader: DatabaseSync,
    walPath: string,
    busyTimeoutMs: number,
    checkpointer: Checkpointer,
  ) {
    this.#db = db;
    this.#reader = reader;
    this.#walPath = walPath;
    this.#busyTimeoutMs = busyTimeoutMs;
    this.#checkpointer = checkpointer;
  }

  #open(): DatabaseSync {
    if (this.#db === null) throw closedError();
    return this.#db;
  }

  /** A statement of the writing connection (the writes, and the reads they make). */
  #stmt(key: keyof typeof SQL): StatementSync {
    let stmt = this.#statements.get(key);
    if (stmt === undefined) {
      stmt = this.#open().prepare(SQL[key]);
      this.#statements.set(key, stmt);
    }
    return stmt;
  }

  /** A statement of the read-only connection. */
  #readStmt(key: keyof typeof SQL): StatementSync {
    let stmt = this.#readStatements.get(key);
    if (stmt === undefined) {
      this.#open();
      stmt = this.#reader.prepare(SQL[key]);
      this.#readStatements.set(key, stmt);
    }
    return stmt;
  }

  /** Strictly increasing epoch ms, so paging by `updated_at` never skips a tie. */
  #now(): number {
    this.#lastTime = Math.max(Date.now(), this.#lastTime + 1);
    return this.#lastTime;
  }

  /** Runs synchronous work behind the async seam: a throw becomes a rejection. */
  #run<T>(fn: () => T): Promise<T> {
    try {
      this.#open();
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Runs a write in the open transaction (opening one when none is), inside
   * its own savepoint: a write that throws changes nothing, and the others of
   * the transaction still commit. The transaction commits at the end of this
   * turn of the event loop when no fsync runs, else as soon as the running
   * fsync ends: the writes that arrive meanwhile (they would wait for the next
   * fsync anyway) share one commit, and the WAL gets their pages once instead
   * of once per write. The next fsync then covers the commit. While another
   * connection holds the write lock, the write waits in order
   * ({@link SqliteStore.#acquire}).
   * @param fn the statements, synchronous
   * @param durable whether `durable` is wanted (else it is null)
   * @returns `committed` with `fn`'s result once committed (every write of a
   *   failed commit fails), `durable` once that commit is on disk
   */
  #batchWrite<T>(
    fn: () => T,
    durable: boolean,
  ): { committed: Promise<T>; durable: Promise<void> | null } {
    let batch: Batch | null;
    let out: T;
    try {
      batch = this.#queue.length > 0 ? null : this.#joinBatch();
      if (batch === null) return this.#enqueue(fn, durable);
      this.#stmt("savepoint").run();
      try {
        out = fn();
        this.#stmt("release").run();
      } catch (err) {
        this.#stmt("rollbackTo").run();
        this.#stmt("release").run();
        throw err;
      }
    } catch (err) {
      return { committed: Promise.reject(err), durable: null };
    }
    if (durable && batch.durable === null) {
      batch.durable = Promise.withResolvers<void>();
      // The caller may stop (a client gone) before it awaits this: keep a failure handled.
      batch.durable.promise.catch(() => {});
    }
    return {
      committed: batch.committed.promise.then(() => out),
      durable: durable ? batch.durable!.promise : null,
    };
  }

  /** A write ({@link SqliteStore.#batchWrite}) that resolves once committed, and on disk when `durable`. */
  async #write<T>(fn: () => T, durable = true): Promise<T> {
    const write = this.#batchWrite(fn, durable);
    const out = await write.committed;
    if (write.durable !== null) await write.durable;
    return out;
  }

  /** The open transaction, opening one; null when another connection holds the write lock. */
  #joinBatch(): Batch | null {
    if (this.#batch !== null) return this.#batch;
    try {
      this.#stmt("begin").run();
    } catch (err) {
      if (isBusy(err)) return null;
      throw err;
    }
    const batch: Batch = { committed: Promise.withResolvers<void>(), durable: null };
    batch.committed.promise.catch(() => {});
    this.#batch = batch;
    // While an fsync runs, its end commits the batch (see #startSync).
    if (this.#syncing === null) {
      queueMicrotask(() => {
        if (this.#batch === batch) this.#commitBatch();
      });
    }
    return batch;
  }

  /** Queues a write until the write lock is free, and starts waiting for it. */
  #enqueue<T>(
    fn: () => T,
    durable: boolean,
  ): { committed: Promise<T>; durable: Promise<void> | null } {
    const write: QueuedWrite = {
      fn,
      committed: Promise.withResolvers<unknown>(),
      durable: durable ? Promise.withResolvers<void>() : null,
    };
    write.durable?.promise.catch(() => {});
    this.#queue.push(write);
    this.#acquiring ??= this.#acquire();
    return {
      committed: write.committed.promise as Promise<T>,
      durable: write.durable?.promise ?? null,
    };
  }

  /**
   * Waits on timers, never blocking the event loop, for the write lock another
   * connection holds (up to the busy timeout), then runs the queued writes in
   * order; past the timeout they fail, and change nothing.
   */
  async #acquire(): Promise<void> {
    const deadline = Date.now() + this.#busyTimeoutMs;
    let delay = 1;
    try {
      for (;;) {
        await new Promise((resolve) => setTimeout(resolve, delay));
        if (this.#db === null) throw closedError();
        let batch: Batch | null;
        try {
          batch = this.#joinBatch();
        } catch (err) {
          throw new AppError(Code.Internal, `Cannot store the change: ${err}`, { cause: err });
        }
        if (batch !== null) break;
        if (Date.now() >= deadline) {
          throw new AppError(
            Code.Unavailable,
            "Cannot store the change: another process holds the database's write lock",
            { reason: "store_busy", retryAfterMs: 1000 },
          );
        }
        // The checkpoint worker holds the lock a few ms: poll often enough.
        delay = Math.min(delay * 2, 10);
      }
      const queue = this.#queue;
      this.#queue = [];
      for (const q of queue) {
        const r = this.#batchWrite(q.fn, q.durable !== null);
        r.committed.then(q.committed.resolve, q.committed.reject);
        r.durable?.then(q.durable!.resolve, q.durable!.reject);
      }
    } catch (err) {
      const queue = this.#queue;
      this.#queue = [];
      for (const q of queue) {
        q.committed.reject(err);
        q.durable?.reject(err);
      }
    } finally {
      this.#acquiring = null;
    }
  }

  /** Commits the open transaction, if any; a batch that wants durability waits for the next fsync. */
  #commitBatch(): void {
    const batch = this.#batch;
    if (batch === null) return;
    this.#batch = null;
    try {
      this.#stmt("commit").run();
    } catch (err) {
      try {
        this.#db?.exec("ROLLBACK");
      } catch { /* the transaction is already gone */ }
      const error = new AppError(Code.Internal, "Cannot store the change: the commit failed", {
        cause: err,
      });
      batch.committed.reject(error);
      batch.durable?.reject(error);
      return;
    }
    batch.committed.resolve();
    this.#checkpointer.committed();
    if (batch.durable === null) return;
    this.#unsynced.push(batch.durable);
    if (this.#syncing === null) this.#startSync();
  }

  /**
   * Fsyncs the WAL for every batch committed so far (group commit, off the
   * event loop); when it ends, commits the batch that gathered meanwhile and
   * starts the next fsync if anything waits for one.
   */
  #startSync(): void {
    const waiting = this.#unsynced;
    this.#unsynced = [];
    this.#syncing = this.#syncWal().then(
      () => waiting.forEach((w) => w.resolve()),
      (err) => waiting.forEach((w) => w.reject(err)),
    ).finally(() => {
      this.#syncing = null;
      if (this.#db === null) return;
      this.#commitBatch();
      if (this.#syncing === null && this.#unsynced.length > 0) this.#startSync();
    });
  }

  async #syncWal(): Promise<void> {
    // Closing checkpoints the WAL into the database file and syncs it.
    if (this.#db === null) return;
    try {
      this.#wal ??= await Deno.open(this.#walPath, { read: true, write: true });
      await this.#wal.syncData();
    } catch (err) {
      throw new AppError(Code.Internal, `Cannot store the change: the disk sync failed`, {
        cause: err,
      });
    }
  }

  createConversation(input: { id?: string; owner: string; title?: string }) {
    return this.#write(
      () => {
        const id = input.id ?? newRowId();
        const now = this.#now();
        this.#stmt("insertConversation").run(id, input.owner, input.title ?? "", now, now);
        return toConversation(this.#stmt("getConversation").get(id, input.owner)!);
        // An empty conversation acknowledges nothing: the first message's fsync covers it.
      },
      false,
    );
  }

  getConversation(id: string, owner: string) {
    return this.#run(() => {
      const row = this.#readStmt("getConversation").get(id, owner);
      return row ? toConversation(row) : null;
    });
  }

  /**
   * Inserts one message inside a write (no commit, no re-read: the row is
   * built here) and returns it; the caller moves the conversation's current node.
   * @param depth the message's depth, when the caller wrote its parent (or its
   *   conversation) in this same write: no lookup then
   */
  #insertMessage(input: NewMessage, depth = -1): Message {
    if (depth >= 0) {
      // Written by the caller a moment ago, in this transaction.
    } else if (input.parentId !== null) {
      const parent = this.#stmt("parentOf").get(input.parentId);
      if (!parent || parent.conversation_id !== input.conversationId) {
        throw new AppError(
          Code.NotFound,
          `Cannot find message ${input.parentId} in conversation ${input.conversationId}`,
        );
      }
      depth = Number(parent.depth) + 1;
    } else if (!this.#stmt("conversationExists").get(input.conversationId)) {
      throw new AppError(Code.NotFound, `Cannot find conversation ${input.conversationId}`);
    } else {
      depth = 0;
    }
    const message: Message = {
      id: input.id ?? newRowId(),
      conversationId: input.conversationId,
      parentId: input.parentId,
      role: input.role,
      content: input.content,
      model: input.model ?? null,
      status: input.status ?? "complete",
      finishReason: null,
      usage: null,
      upstream: null,
      depth,
      createdAt: this.#now(),
      tokens: input.tokens ?? null,
    };
    this.#stmt("insertMessage").run(
      message.id,
      message.conversationId,
      message.parentId,
      message.role,
      message.content,
      message.model,
      message.status,
      depth,
      message.createdAt,
      message.tokens?.count ?? null,
      message.tokens?.encoding ?? null,
    );
    return message;
  }

  appendMessage(input: NewMessage) {
    return this.#write(
      () => {
        const message = this.#insertMessage(input);
        this.#stmt("touchConversation").run(message.id, message.createdAt, input.conversationId);
        return message;
        // A reply placeholder holds no text yet: finishMessage's fsync covers it.
      },
      input.status !== "in_progress",
    );
  }

  async startTurn(turn: NewTurn): Promise<StartedTurn> {
    const write = this.#batchWrite(() => {
      let conversationId = turn.conversationId ?? "";
      let parentId = turn.parentId;
      // The user message's depth when this write made its parent (-1: look it up).
      let userDepth = -1;
      if (turn.newConversation) {
        const { owner, title, system } = turn.newConversation;
        conversationId = turn.ids?.conversationId ?? newRowId();
        const now = this.#now();
        this.#stmt("insertConversation").run(conversationId, owner, title, now, now);
        if (parentId === null) userDepth = 0;
        if (system) {
          parentId = this.#insertMessage({
            conversationId,
            parentId: null,
            role: "system",
            content: system,
            tokens: turn.systemTokens,
          }, 0).id;
          userDepth = 1;
        }
      }
      const user = this.#insertMessage({
        id: turn.ids?.userMessageId,
        conversationId,
        parentId,
        role: "user",
        content: turn.prompt,
        tokens: turn.promptTokens,
      }, userDepth);
      const assistant = this.#insertMessage({
        id: turn.ids?.assistantMessageId,
        conversationId,
        parentId: user.id,
        role: "assistant",
        content: "",
        model: turn.model,
        status: "in_progress",
      }, user.depth + 1);
      this.#stmt("touchConversation").run(assistant.id, assistant.createdAt, conversationId);
      return { user, assistant };
    }, true);
    const { user, assistant } = await write.committed;
    return { user, assistant, durable: write.durable! };
  }

  finishMessage(id: string, done: FinishedMessage) {
    return this.#write(() => {
      const changed = this.#stmt("finishMessage").run(
        done.content,
        done.status,
        done.model ?? null,
        done.finishReason ?? null,
        done.usage?.promptTokens ?? null,
        done.usage?.completionTokens ?? null,
        done.usage?.totalTokens ?? null,
        done.upstream?.conversationId ?? null,
        done.upstream?.messageId ?? null,
        done.tokens?.count ?? null,
        done.tokens?.encoding ?? null,
        id,
      ).changes;
      if (Number(changed) === 0) throw new AppError(Code.NotFound, `Cannot find message ${id}`);
      this.#stmt("updatedAtOfMessage").run(this.#now(), id);
    });
  }

  saveDraft(id: string, content: string) {
    return this.#write(
      () => {
        this.#stmt("saveDraft").run(content, id);
      },
      false,
    );
  }

  getMessage(id: string) {
    return this.#run(() => {
      const row = this.#readStmt("getMessage").get(id);
      return row ? toMessage(row) : null;
    });
  }

  path(messageId: string) {
    return this.#run(() => this.#readStmt("path").all(messageId).map(toMessage));
  }

  messages(conversationId: string) {
    return this.#run(() => this.#readStmt("messages").all(conversationId).map(toMessage));
  }

  list(owner: string, options: ListOptions = {}) {
    const limit = Math.max(1, Math.min(options.limit ?? 50, 1000));
    const before = options.before ?? Number.MAX_SAFE_INTEGER;
    return this.#run(() => this.#readStmt("list").all(owner, before, limit).map(toConversation));
  }

  rename(id: string, owner: string, title: string) {
    return this.#write(() =>
      Number(this.#stmt("rename").run(title, this.#now(), id, owner).changes) > 0
    );
  }

  delete(id: string, owner: string) {
    return this.#write(() => {
      this.#stmt("deleteMessages").run(id, owner);
      return Number(this.#stmt("delete").run(id, owner).changes) > 0;
    });
  }

  async close() {
    // The checkpoint worker ends first (it may hold the write lock a moment),
    // so that no connection but these two is left when they close.
    await this.#checkpointer.close();
    // Writes waiting for another process's lock run (or give up) first.
    while (this.#acquiring !== null) await this.#acquiring;
    if (this.#db !== null) {
      // Commit what was written, and let the fsyncs that cover it end.
      for (;;) {
        this.#commitBatch();
        if (this.#syncing === null) break;
        await this.#syncing;
      }
      const db = this.#db;
      this.#db = null;
      this.#statements.clear();
      this.#readStatements.clear();
      this.#wal?.close();
      this.#wal = null;
      db.close();
      this.#reader.close();
    }
  }
}

function closedError(): AppError {
  return new AppError(Code.Unavailable, "Cannot use the store: it is closed", {
    reason: "shutting_down",
  });
}

/** Whether a sqlite error says another connection holds the lock (SQLITE_BUSY). */
function isBusy(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith("database is locked");
}
