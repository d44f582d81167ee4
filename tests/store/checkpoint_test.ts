import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { createLogger, type Logger, silentLogger } from "../../lib/log.ts";
import { Checkpointer, type CheckpointerOptions } from "../../lib/store/checkpointer.ts";
import { DATABASE_FILE, openSqliteStore } from "../../lib/store/sqlite.ts";
import type { ConversationStore } from "../../lib/store/store.ts";

const REPLY = "a reply that fills some of a page ".repeat(60);

/**
 * `turns` turns by `askers` concurrent askers, as the engine writes them; each
 * asker waits `answerMs` between a turn's start and its end (the answer).
 */
async function writeTurns(
  store: ConversationStore,
  turns: number,
  askers: number,
  answerMs = 0,
) {
  let started = 0;
  const asker = async () => {
    while (started < turns) {
      started++;
      const turn = await store.startTurn({
        newConversation: { owner: "alice", title: "t" },
        parentId: null,
        prompt: "hello there",
        model: "m",
      });
      await turn.durable;
      if (answerMs > 0) await new Promise((r) => setTimeout(r, answerMs));
      await store.finishMessage(turn.assistant.id, {
        content: REPLY,
        status: "complete",
        model: "m",
        finishReason: "stop",
      });
    }
  };
  await Promise.all(Array.from({ length: askers }, asker));
}

/** Waits until `done()` (10 s at most). */
async function until(done: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
}

/**
 * A WAL database that never checkpoints itself, with table `t`, and a
 * checkpointer for it; both closed (and the files removed) after `fn`.
 */
async function withCheckpointer(
  options: Omit<CheckpointerOptions, "file" | "logger" | "onUnavailable"> & {
    logger?: Logger;
  },
  fn: (db: DatabaseSync, checkpointer: Checkpointer, file: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "eb-ckpt-" });
  const file = join(dir, "t.db");
  const db = new DatabaseSync(file);
  db.exec("PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0; CREATE TABLE t (v TEXT)");
  const checkpointer = new Checkpointer({
    logger: silentLogger,
    ...options,
    file,
    onUnavailable: () => assert.fail("the worker must run"),
  });
  try {
    await fn(db, checkpointer, file);
  } finally {
    await checkpointer.close();
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
}

async function walBytes(dir: string): Promise<number> {
  return (await Deno.stat(join(dir, `${DATABASE_FILE}-wal`))).size;
}

function countRows(dir: string): { conversations: number; complete: number } {
  const db = new DatabaseSync(join(dir, DATABASE_FILE), { readOnly: true });
  try {
    const c = db.prepare("SELECT count(*) AS n FROM conversations").get()!;
    const m = db.prepare("SELECT count(*) AS n FROM messages WHERE status = 'complete'").get()!;
    return { conversations: Number(c.n), complete: Number(m.n) };
  } finally {
    db.close();
  }
}

Deno.test("the writer's commits never checkpoint: without the worker's checkpoints the WAL only grows", async () => {
  const dir = await Deno.makeTempDir({ prefix: "eb-ckpt-" });
  // A checkpoint would be due after 10^9 commits: none runs in this test.
  const store = await openSqliteStore(dir, { checkpoint: { everyCommits: 1e9 } });
  try {
    await writeTurns(store, 400, 8);
    // ~2 KiB per reply and three rows per turn: far past sqlite's own 1 000-page
    // (4 MiB) checkpoint, which would have restarted the WAL below that.
    assert.ok(await walBytes(dir) > 5 * 1024 * 1024, `WAL ${await walBytes(dir)} bytes`);
  } finally {
    await store.close();
  }
  // Closing checkpoints everything; every row is there.
  assert.deepEqual(countRows(dir), { conversations: 400, complete: 800 });
  await Deno.remove(dir, { recursive: true });
});

Deno.test("the worker's checkpoints keep the WAL small under concurrent writes, and every write lands", async () => {
  const dir = await Deno.makeTempDir({ prefix: "eb-ckpt-" });
  const lines: string[] = [];
  const logger = createLogger({ level: "debug", write: (line) => lines.push(line) });
  const store = await openSqliteStore(dir, {
    checkpoint: { everyCommits: 8, minIntervalMs: 0 },
    logger,
  });
  const checkpoints = () =>
    lines.map((l) => JSON.parse(l)).filter((l) => l.msg === "store checkpointed");
  try {
    // The worker starts with the first checkpoint; the WAL file keeps the size
    // it reached meanwhile (sqlite restarts it from its beginning, in place).
    await writeTurns(store, 100, 8);
    await until(() => checkpoints().length > 0);
    const before = await walBytes(dir);
    // 300 more turns add ~4 MiB to a WAL nobody checkpoints (the test above);
    // restarted after each checkpoint, it grows by what is written while one
    // runs (its fsyncs), far less. (Unpaced writes can outrun the worker for
    // a while on a slow disk: the WAL then grows until it catches up.)
    await writeTurns(store, 300, 8, 5);
    const after = await walBytes(dir);
    assert.ok(after < before + 1.5 * 1024 * 1024, `WAL ${before} -> ${after} bytes`);
    const done = checkpoints();
    assert.ok(done.length >= 5, `${done.length} checkpoints`);
    assert.ok(done.some((l) => l.copied > 0 && l.busy === false));
    assert.ok(!lines.some((l) => l.includes("cannot checkpoint")), lines.join("\n"));
    // The database file got the pages: it holds the replies written so far.
    assert.ok((await Deno.stat(join(dir, DATABASE_FILE))).size > 400 * REPLY.length / 2);
  } finally {
    await store.close();
  }
  assert.deepEqual(countRows(dir), { conversations: 400, complete: 800 });
  await Deno.remove(dir, { recursive: true });
});

Deno.test("the checkpoint worker starts at the first checkpoint and ends when idle", async () => {
  await withCheckpointer({ everyCommits: 3, idleMs: 50 }, async (db, checkpointer) => {
    const insert = db.prepare("INSERT INTO t VALUES (?)");
    for (let i = 0; i < 2; i++) {
      insert.run("x".repeat(3000));
      checkpointer.committed();
    }
    assert.equal(checkpointer.workerRunning, false, "no checkpoint due yet");
    insert.run("x".repeat(3000));
    checkpointer.committed();
    assert.equal(checkpointer.workerRunning, true);
    await until(() => checkpointer.completed > 0);
    assert.equal(checkpointer.completed, 1);
    // Every frame went into the database: the next write restarts the WAL.
    const row = db.prepare("PRAGMA wal_checkpoint(PASSIVE)").get()!;
    assert.equal(row.log, row.checkpointed);
    await until(() => !checkpointer.workerRunning);
    assert.equal(checkpointer.workerRunning, false, "the idle worker ended");
    assert.ok(checkpointer.available);
  });
});

Deno.test("a checkpoint worker that cannot run hands the checkpoints back to the writer once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "eb-ckpt-" });
  const broken = join(dir, "broken_worker.ts");
  // A worker that cannot open the database answers as the real one does then.
  await Deno.writeTextFile(
    broken,
    "self.onmessage = () => self.postMessage({ type: 'failed', error: 'unable to open' });\n",
  );
  const lines: string[] = [];
  let handedBack = 0;
  const checkpointer = new Checkpointer({
    file: join(dir, "t.db"),
    logger: createLogger({ write: (line) => lines.push(line) }),
    everyCommits: 1,
    onUnavailable: () => handedBack++,
    workerUrl: new URL(`file://${broken}`),
  });
  try {
    checkpointer.committed();
    await until(() => !checkpointer.available);
    assert.equal(checkpointer.available, false);
    for (let i = 0; i < 5; i++) checkpointer.committed();
    assert.equal(handedBack, 1);
    assert.equal(checkpointer.workerRunning, false);
    const warned = lines.map((l) => JSON.parse(l)).filter((l) => l.level === "warn");
    assert.equal(warned.length, 1);
    assert.match(warned[0].msg, /cannot checkpoint the store on a worker/);
  } finally {
    await checkpointer.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the commits between checkpoints adapt to the WAL pages the commits write", async () => {
  const lines: string[] = [];
  const logger = createLogger({ level: "debug", write: (line) => lines.push(line) });
  await withCheckpointer({ logger, minIntervalMs: 0 }, async (db, checkpointer) => {
    const checkpoints = () =>
      lines.map((l) => JSON.parse(l)).filter((l) => l.msg === "store checkpointed");
    // Commits of ~50 pages each: the first checkpoint, after 64 commits, finds
    // ~3 200 pages; the next is due after about 1 000 / 50 = 20 commits.
    const insert = db.prepare("INSERT INTO t VALUES (?)");
    const commit = () => {
      insert.run("x".repeat(200_000));
      checkpointer.committed();
    };
    for (let i = 0; i < 64; i++) commit();
    await until(() => checkpoints().length === 1);
    assert.equal(checkpoints()[0].commits, 64);
    assert.ok(checkpoints()[0].frames > 2000, JSON.stringify(checkpoints()[0]));
    const due = Math.round(1000 / (checkpoints()[0].frames / 64));
    assert.ok(due >= 15 && due <= 25, `due after ${due} commits`);
    for (let i = 0; i < due - 1; i++) commit();
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(checkpoints().length, 1, "not due yet");
    commit();
    await until(() => checkpoints().length === 2);
    assert.equal(checkpoints()[1].commits, due);
    assert.ok(checkpoints()[1].frames < 1500, JSON.stringify(checkpoints()[1]));
  });
});

Deno.test("a checkpoint waits for the writer's open transaction, copies it too and restarts the WAL", async () => {
  await withCheckpointer({ everyCommits: 1 }, async (db, checkpointer, file) => {
    const insert = db.prepare("INSERT INTO t VALUES (?)");
    const write = () => {
      for (let i = 0; i < 30; i++) insert.run("x".repeat(40_000));
    };
    const wal = () => Deno.statSync(`${file}-wal`).size;
    write();
    // A transaction is open when the checkpoint starts, and commits while it waits.
    db.exec("BEGIN IMMEDIATE");
    write();
    checkpointer.committed();
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(checkpointer.completed, 0, "it waits for the writer");
    db.exec("COMMIT");
    await until(() => checkpointer.completed > 0);
    assert.equal(checkpointer.completed, 1);
    // Every frame was copied, so the next writes start the WAL from its
    // beginning: the file (sized by the most it held) does not grow.
    const size = wal();
    assert.ok(size > 2 * 1024 * 1024, `WAL ${size} bytes`);
    write();
    assert.equal(wal(), size);
    assert.equal(Number(db.prepare("SELECT count(*) AS n FROM t").get()!.n), 90);
  });
});

Deno.test("a checkpoint that cannot get the lock in time gives up until the next one", async () => {
  const lines: string[] = [];
  const logger = createLogger({ level: "debug", write: (line) => lines.push(line) });
  await withCheckpointer(
    { everyCommits: 1, minIntervalMs: 0, busyTimeoutMs: 50, logger },
    async (db, checkpointer) => {
      const insert = db.prepare("INSERT INTO t VALUES (?)");
      insert.run("x".repeat(40_000));
      // Another writer keeps the lock well past the checkpoint's busy timeout.
      db.exec("BEGIN IMMEDIATE");
      insert.run("x".repeat(40_000));
      checkpointer.committed();
      const reported = () =>
        lines.map((l) => JSON.parse(l)).filter((l) => l.msg === "store checkpointed");
      await until(() => reported().length > 0);
      assert.equal(reported()[0].busy, true);
      assert.equal(checkpointer.completed, 0);
      db.exec("COMMIT");
      assert.ok(checkpointer.available, "still checkpointing on the worker");
      checkpointer.committed();
      await until(() => checkpointer.completed > 0);
      assert.equal(checkpointer.completed, 1);
      assert.ok(!lines.some((l) => l.includes("cannot checkpoint")), lines.join("\n"));
    },
  );
});
