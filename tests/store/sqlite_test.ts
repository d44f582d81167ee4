import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { AppError, Code } from "../../lib/errors.ts";
import { DATABASE_FILE, openSqliteStore } from "../../lib/store/sqlite.ts";
import { LATEST_VERSION } from "../../lib/store/migrations.ts";
import { ANONYMOUS, type ConversationStore } from "../../lib/store/store.ts";

async function withStore(fn: (store: ConversationStore, dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "eb-store-" });
  const store = await openSqliteStore(dir);
  try {
    await fn(store, dir);
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Appends a chain of `n` messages (user, assistant, …) and returns their ids. */
async function chain(
  store: ConversationStore,
  conversationId: string,
  n: number,
  parentId: string | null = null,
): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const m = await store.appendMessage({
      conversationId,
      parentId,
      role: i % 2 === 0 ? "user" : "assistant",
      content: `m${i}`,
    });
    ids.push(m.id);
    parentId = m.id;
  }
  return ids;
}

Deno.test("createConversation records the owner and an empty tree when created", async () => {
  await withStore(async (store) => {
    const c = await store.createConversation({ owner: ANONYMOUS, title: "hi" });
    assert.equal(c.owner, ANONYMOUS);
    assert.equal(c.title, "hi");
    assert.equal(c.currentNode, null);
    assert.deepEqual(await store.getConversation(c.id, ANONYMOUS), c);
    assert.equal(await store.getConversation(c.id, "someone-else"), null);
    assert.deepEqual(await store.messages(c.id), []);
  });
});

Deno.test("appendMessage sets depth and the current node when messages chain", async () => {
  await withStore(async (store) => {
    const c = await store.createConversation({ owner: ANONYMOUS });
    const [a, b] = await chain(store, c.id, 2);
    const ma = await store.getMessage(a);
    const mb = await store.getMessage(b);
    assert.equal(ma?.depth, 0);
    assert.equal(ma?.parentId, null);
    assert.equal(ma?.status, "complete");
    assert.equal(mb?.depth, 1);
    assert.equal(mb?.parentId, a);
    assert.equal((await store.getConversation(c.id, ANONYMOUS))?.currentNode, b);
  });
});

Deno.test("appendMessage throws NotFound when the parent is in another conversation", async () => {
  await withStore(async (store) => {
    const c1 = await store.createConversation({ owner: ANONYMOUS });
    const c2 = await store.createConversation({ owner: ANONYMOUS });
    const [a] = await chain(store, c1.id, 1);
    await assert.rejects(
      store.appendMessage({ conversationId: c2.id, parentId: a, role: "user", content: "x" }),
      (e) => e instanceof AppError && e.code === Code.NotFound,
    );
    await assert.rejects(
      store.appendMessage({ conversationId: "nope", parentId: null, role: "user", content: "x" }),
      (e) => e instanceof AppError && e.code === Code.NotFound,
    );
    assert.equal((await store.messages(c2.id)).length, 0);
  });
});

Deno.test("finishMessage stores text, status, model, usage and upstream ids when a reply ends", async () => {
  await withStore(async (store) => {
    const c = await store.createConversation({ owner: ANONYMOUS });
    const [u] = await chain(store, c.id, 1);
    const a = await store.appendMessage({
      conversationId: c.id,
      parentId: u,
      role: "assistant",
      content: "",
      model: "gpt-4o",
      status: "in_progress",
    });
    assert.equal(a.status, "in_progress");
    assert.equal(a.usage, null);
    await store.finishMessage(a.id, {
      content: "hello there",
      status: "complete",
      model: "gpt-4o-2024-08-06",
      finishReason: "stop",
      usage: { promptTokens: 10, completionTokens: 3, totalTokens: 13 },
      upstream: { conversationId: "up-c", messageId: "up-m" },
    });
    const done = (await store.getMessage(a.id))!;
    assert.equal(done.content, "hello there");
    assert.equal(done.status, "complete");
    assert.equal(done.model, "gpt-4o-2024-08-06");
    assert.equal(done.finishReason, "stop");
    assert.deepEqual(done.usage, { promptTokens: 10, completionTokens: 3, totalTokens: 13 });
    assert.deepEqual(done.upstream, { conversationId: "up-c", messageId: "up-m" });
    const before = (await store.getConversation(c.id, ANONYMOUS))!.updatedAt;
    await new Promise((r) => setTimeout(r, 5));
    await store.finishMessage(a.id, { content: "hel", status: "incomplete" });
    const cut = (await store.getMessage(a.id))!;
    assert.ok(
      (await store.getConversation(c.id, ANONYMOUS))!.updatedAt > before,
      "finishing a reply makes its conversation the most recently updated",
    );
    assert.equal(cut.status, "incomplete");
    assert.equal(cut.model, "gpt-4o-2024-08-06", "a missing model keeps the stored one");
    await assert.rejects(
      store.finishMessage("nope", { content: "", status: "complete" }),
      (e) => e instanceof AppError && e.code === Code.NotFound,
    );
  });
});

Deno.test("path returns root to message in order when the tree branches", async () => {
  await withStore(async (store) => {
    const c = await store.createConversation({ owner: ANONYMOUS });
    const main = await chain(store, c.id, 5);
    const branch = await chain(store, c.id, 2, main[1]);
    assert.deepEqual((await store.path(main[4])).map((m) => m.id), main);
    assert.deepEqual((await store.path(branch[1])).map((m) => m.id), [
      ...main.slice(0, 2),
      ...branch,
    ]);
    assert.deepEqual(await store.path("unknown"), []);
    const all = await store.messages(c.id);
    assert.deepEqual(all.map((m) => m.id), [...main, ...branch]);
  });
});

Deno.test("list pages newest first and shows only the owner's conversations", async () => {
  await withStore(async (store) => {
    const mine = [];
    for (let i = 0; i < 5; i++) mine.push(await store.createConversation({ owner: "alice" }));
    await store.createConversation({ owner: "bob" });
    // Touching the oldest makes it the newest.
    await chain(store, mine[0].id, 1);
    const order = [mine[0], mine[4], mine[3], mine[2], mine[1]].map((c) => c.id);
    const page1 = await store.list("alice", { limit: 2 });
    assert.deepEqual(page1.map((c) => c.id), order.slice(0, 2));
    const page2 = await store.list("alice", { limit: 2, before: page1[1].updatedAt });
    assert.deepEqual(page2.map((c) => c.id), order.slice(2, 4));
    const page3 = await store.list("alice", { limit: 2, before: page2[1].updatedAt });
    assert.deepEqual(page3.map((c) => c.id), order.slice(4));
    assert.equal((await store.list("bob")).length, 1);
    assert.equal((await store.list("carol")).length, 0);
  });
});

Deno.test("rename changes the title only when the owner matches", async () => {
  await withStore(async (store) => {
    const c = await store.createConversation({ owner: "alice", title: "old" });
    assert.equal(await store.rename(c.id, "bob", "stolen"), false);
    assert.equal(await store.rename(c.id, "alice", "new"), true);
    assert.equal((await store.getConversation(c.id, "alice"))?.title, "new");
    assert.equal(await store.rename("unknown", "alice", "x"), false);
  });
});

Deno.test("delete removes a deep conversation with its messages only for the owner", async () => {
  await withStore(async (store) => {
    const c = await store.createConversation({ owner: "alice" });
    const other = await store.createConversation({ owner: "alice" });
    // Deeper than sqlite's trigger depth limit (1000), which a parent cascade would hit.
    const ids = await chain(store, c.id, 1100);
    const kept = await chain(store, other.id, 2);
    assert.equal(await store.delete(c.id, "bob"), false);
    assert.equal((await store.messages(c.id)).length, 1100);
    assert.equal(await store.delete(c.id, "alice"), true);
    assert.equal(await store.getConversation(c.id, "alice"), null);
    assert.equal(await store.getMessage(ids[0]), null);
    assert.equal(await store.getMessage(ids[1099]), null);
    assert.deepEqual(await store.messages(c.id), []);
    assert.deepEqual((await store.path(kept[1])).map((m) => m.id), kept);
    assert.equal(await store.delete(c.id, "alice"), false);
  });
});

Deno.test("openSqliteStore records the schema version and pragmas when it creates the file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "eb-store-" });
  try {
    const store = await openSqliteStore(join(dir, "nested", "data"));
    await store.close();
    const db = new DatabaseSync(join(dir, "nested", "data", DATABASE_FILE));
    try {
      const v = db.prepare("SELECT max(version) AS v FROM schema_version").get();
      assert.equal(v?.v, LATEST_VERSION);
      assert.equal(db.prepare("PRAGMA journal_mode").get()?.journal_mode, "wal");
      const names = db.prepare("SELECT name FROM sqlite_master WHERE type = 'index'").all()
        .map((r) => r.name);
      for (const n of ["conversations_owner_updated", "messages_conversation", "messages_parent"]) {
        assert.ok(names.includes(n), n);
      }
    } finally {
      db.close();
    }
    // Opening again applies nothing twice.
    const again = await openSqliteStore(join(dir, "nested", "data"));
    await again.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("openSqliteStore keeps everything when the database is closed and reopened", async () => {
  const dir = await Deno.makeTempDir({ prefix: "eb-store-" });
  try {
    let store = await openSqliteStore(dir);
    const c = await store.createConversation({ owner: "alice", title: "kept" });
    const ids = await chain(store, c.id, 3);
    await store.close();
    await assert.rejects(store.list("alice"), (e) => e instanceof AppError);
    store = await openSqliteStore(dir);
    assert.equal((await store.getConversation(c.id, "alice"))?.currentNode, ids[2]);
    assert.deepEqual((await store.path(ids[2])).map((m) => m.content), ["m0", "m1", "m2"]);
    await store.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("openSqliteStore marks in_progress replies incomplete, with their saved text, when a killed process left them", async () => {
  const dir = await Deno.makeTempDir({ prefix: "eb-store-" });
  try {
    // A real crash: a child process writes a reply in progress and is SIGKILLed mid-answer.
    const storeUrl = new URL("../../lib/store/sqlite.ts", import.meta.url).href;
    const script = `
      const { openSqliteStore } = await import(${JSON.stringify(storeUrl)});
      const store = await openSqliteStore(${JSON.stringify(dir)});
      const c = await store.createConversation({ owner: "anonymous" });
      const u = await store.appendMessage({ conversationId: c.id, parentId: null, role: "user", content: "q" });
      const a = await store.appendMessage({
        conversationId: c.id, parentId: u.id, role: "assistant", content: "", status: "in_progress",
      });
      // The text streamed so far, saved without waiting for the disk.
      await store.saveDraft(a.id, "Partial rep");
      console.log(JSON.stringify({ user: u.id, reply: a.id }));
      Deno.kill(Deno.pid, "SIGKILL");
    `;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", script],
      stdout: "piped",
      stderr: "null",
    }).output();
    assert.equal(out.signal, "SIGKILL");
    const ids = JSON.parse(new TextDecoder().decode(out.stdout));
    const store = await openSqliteStore(dir);
    try {
      const reply = await store.getMessage(ids.reply);
      assert.equal(reply?.status, "incomplete");
      assert.equal(reply?.content, "Partial rep");
      assert.equal((await store.getMessage(ids.user))?.status, "complete");
    } finally {
      await store.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("openSqliteStore throws FailedPrecondition when the data dir cannot be written", async () => {
  const dir = await Deno.makeTempDir({ prefix: "eb-store-" });
  try {
    const file = join(dir, "a-file");
    await Deno.writeTextFile(file, "");
    await assert.rejects(
      openSqliteStore(join(file, "data")),
      (e) =>
        e instanceof AppError && e.code === Code.FailedPrecondition &&
        e.message.startsWith("Cannot open the store: the data directory"),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("openSqliteStore throws FailedPrecondition when the file is not a database", async () => {
  const dir = await Deno.makeTempDir({ prefix: "eb-store-" });
  try {
    await Deno.writeTextFile(join(dir, DATABASE_FILE), "this is not sqlite ".repeat(100));
    await assert.rejects(
      openSqliteStore(dir),
      (e) =>
        e instanceof AppError && e.code === Code.FailedPrecondition &&
        e.message.startsWith("Cannot open the database in"),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("openSqliteStore refuses a database whose schema is newer than this build", async () => {
  const dir = await Deno.makeTempDir({ prefix: "eb-store-" });
  try {
    await (await openSqliteStore(dir)).close();
    const db = new DatabaseSync(join(dir, DATABASE_FILE));
    db.prepare("INSERT INTO schema_version (version) VALUES (?)").run(LATEST_VERSION + 1);
    db.close();
    await assert.rejects(
      openSqliteStore(dir),
      (e) => e instanceof AppError && e.code === Code.FailedPrecondition,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("path costs the same in a 100k-message database as in a small one", async () => {
  await withStore(async (store, dir) => {
    const c = await store.createConversation({ owner: ANONYMOUS });
    const ids = await chain(store, c.id, 40);
    const timePath = async () => {
      let best = Infinity;
      for (let i = 0; i < 20; i++) {
        const t0 = performance.now();
        assert.equal((await store.path(ids[39])).length, 40);
        best = Math.min(best, performance.now() - t0);
      }
      return best;
    };
    const small = await timePath();
    // Fill the table with 100k messages of another conversation, in one fast transaction.
    const db = new DatabaseSync(join(dir, DATABASE_FILE));
    db.exec(`
      BEGIN;
      INSERT INTO conversations VALUES ('bulk', 'bulk', '', NULL, 0, 0);
      WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
      INSERT INTO messages (id, conversation_id, parent_id, role, content, status, depth, created_at)
        SELECT 'b' || i, 'bulk', CASE WHEN i = 1 THEN NULL ELSE 'b' || (i - 1) END, 'user',
               'filler text', 'complete', i - 1, i FROM n;
      COMMIT;
    `);
    const plan = db.prepare(
      `EXPLAIN QUERY PLAN WITH RECURSIVE walk(id, parent_id) AS (
        SELECT id, parent_id FROM messages WHERE id = ?
        UNION ALL SELECT m.id, m.parent_id FROM messages m JOIN walk w ON m.id = w.parent_id)
      SELECT * FROM messages WHERE id IN (SELECT id FROM walk)`,
    ).all("x").map((r) => String(r.detail));
    db.close();
    assert.ok(!plan.some((d) => /^SCAN m(essages)?\b/.test(d)), plan.join("; "));
    const large = await timePath();
    // Proportional to depth: a table scan of 100k rows would cost tens of milliseconds.
    assert.ok(large < small * 5 + 2, `small ${small}ms, large ${large}ms`);
  });
});

Deno.test("writes made together share a commit and a failing one changes nothing of the others", async () => {
  const dir = await Deno.makeTempDir({ prefix: "eb-store-" });
  try {
    const store = await openSqliteStore(dir);
    const conv = await store.createConversation({ owner: ANONYMOUS });
    const [root] = await chain(store, conv.id, 1);
    // Started in one turn of the event loop: the worker receives them as one batch.
    const results = await Promise.allSettled([
      ...Array.from(
        { length: 10 },
        (_, i) =>
          store.startTurn({ conversationId: conv.id, parentId: root, prompt: `q${i}`, model: "m" })
            .then(async (t) => {
              await t.durable;
              return store.finishMessage(t.assistant.id, { content: `a${i}`, status: "complete" });
            }),
      ),
      store.startTurn({ conversationId: conv.id, parentId: "no-such-id", prompt: "x", model: "m" }),
      store.appendMessage({ conversationId: conv.id, parentId: root, role: "user", content: "ok" }),
    ]);
    const failed = results.filter((r) => r.status === "rejected");
    assert.equal(failed.length, 1, "only the write with the unknown parent fails");
    const reason = (failed[0] as PromiseRejectedResult).reason;
    assert.ok(reason instanceof AppError && reason.code === Code.NotFound);
    await store.close();
    // What was acknowledged is in the file, read by a fresh connection.
    const db = new DatabaseSync(join(dir, DATABASE_FILE));
    try {
      const rows = db.prepare(
        "SELECT role, content, status FROM messages WHERE conversation_id = ?",
      )
        .all(conv.id);
      assert.equal(rows.length, 1 + 10 * 2 + 1);
      for (let i = 0; i < 10; i++) {
        assert.ok(rows.some((r) => r.content === `q${i}`));
        assert.ok(rows.some((r) => r.content === `a${i}` && r.status === "complete"));
      }
      assert.ok(!rows.some((r) => r.content === "x"), "the failed turn left no row");
    } finally {
      db.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("saveDraft keeps the text of a reply in progress and leaves a finished one as it is", async () => {
  const dir = await Deno.makeTempDir({ prefix: "eb-store-" });
  const store = await openSqliteStore(dir);
  try {
    const c = await store.createConversation({ owner: "alice" });
    const u = await store.appendMessage({
      conversationId: c.id,
      parentId: null,
      role: "user",
      content: "q",
    });
    const a = await store.appendMessage({
      conversationId: c.id,
      parentId: u.id,
      role: "assistant",
      content: "",
      status: "in_progress",
    });
    await store.saveDraft(a.id, "Half an");
    assert.deepEqual(
      [(await store.getMessage(a.id))?.status, (await store.getMessage(a.id))?.content],
      ["in_progress", "Half an"],
    );
    await store.finishMessage(a.id, { content: "Half an answer.", status: "complete" });
    // A late save (its timer fired while the end was being written) changes nothing.
    await store.saveDraft(a.id, "Half an");
    assert.equal((await store.getMessage(a.id))?.content, "Half an answer.");
    assert.equal((await store.getMessage(a.id))?.status, "complete");
    // A user message is never in progress: untouched too.
    await store.saveDraft(u.id, "changed");
    assert.equal((await store.getMessage(u.id))?.content, "q");
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writes that gather while an fsync runs commit together, and close keeps every one it acknowledges", async () => {
  const dir = await Deno.makeTempDir({ prefix: "eb-store-" });
  try {
    // On this thread, as the store's worker runs it.
    const store = await openSqliteStore(dir);
    const conv = await store.createConversation({ owner: ANONYMOUS });
    const writes: Promise<unknown>[] = [];
    for (let turn = 0; turn < 5; turn++) {
      // Each turn of the event loop adds durable writes and one that fails;
      // the first durable write starts an fsync, the next ones gather meanwhile.
      for (let i = 0; i < 8; i++) {
        writes.push(store.appendMessage({
          conversationId: conv.id,
          parentId: null,
          role: "user",
          content: `t${turn}m${i}`,
        }));
      }
      writes.push(
        store.appendMessage({
          conversationId: conv.id,
          parentId: "nope",
          role: "user",
          content: "x",
        })
          .then(() => assert.fail("a message with an unknown parent was stored"), (err) => {
            assert.ok(err instanceof AppError && err.code === Code.NotFound);
          }),
      );
      await new Promise((r) => setTimeout(r, 0));
    }
    // Writes made in the same turn as close are still committed and synced by it.
    const last = store.appendMessage({
      conversationId: conv.id,
      parentId: null,
      role: "user",
      content: "last",
    });
    await store.close();
    await Promise.all([...writes, last]);
    const db = new DatabaseSync(join(dir, DATABASE_FILE));
    try {
      const rows = db.prepare("SELECT content FROM messages WHERE conversation_id = ?").all(
        conv.id,
      );
      assert.equal(rows.length, 5 * 8 + 1);
      assert.ok(!rows.some((r) => r.content === "x"));
      assert.ok(rows.some((r) => r.content === "last"));
    } finally {
      db.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a write waits for another process's lock without blocking the event loop, in order, and gives up at the busy timeout changing nothing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "eb-store-" });
  const store = await openSqliteStore(dir, { busyTimeoutMs: 300 });
  const other = new DatabaseSync(join(dir, DATABASE_FILE));
  try {
    const conv = await store.createConversation({ owner: ANONYMOUS });
    other.exec("BEGIN IMMEDIATE");
    const started = performance.now();
    const first = store.appendMessage({
      conversationId: conv.id,
      parentId: null,
      role: "user",
      content: "first",
    });
    const second = first.then((m) =>
      store.appendMessage({ conversationId: conv.id, parentId: m.id, role: "user", content: "2" })
    );
    const third = store.rename(conv.id, ANONYMOUS, "renamed");
    // The event loop runs while the writes wait: timers fire and reads answer.
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    await new Promise((r) => setTimeout(r, 100));
    clearInterval(timer);
    assert.ok(ticks >= 5, `the event loop stalled (${ticks} ticks in 100 ms)`);
    assert.equal((await store.getConversation(conv.id, ANONYMOUS))?.title, "");
    other.exec("COMMIT");
    const m = await first;
    assert.equal((await second).parentId, m.id);
    assert.equal(await third, true);
    assert.ok(performance.now() - started >= 100);
    assert.equal((await store.getConversation(conv.id, ANONYMOUS))?.title, "renamed");

    // Held past the busy timeout: the waiting writes fail, and store nothing.
    other.exec("BEGIN IMMEDIATE");
    const t0 = performance.now();
    const late = await Promise.allSettled([
      store.appendMessage({ conversationId: conv.id, parentId: null, role: "user", content: "x" }),
      store.rename(conv.id, ANONYMOUS, "late"),
    ]);
    const waited = performance.now() - t0;
    other.exec("ROLLBACK");
    for (const r of late) {
      assert.equal(r.status, "rejected");
      const err = (r as PromiseRejectedResult).reason;
      assert.ok(err instanceof AppError && err.code === Code.Unavailable, String(err));
      assert.match(err.message, /another process holds the database's write lock/);
    }
    assert.ok(waited >= 250 && waited < 2000, `gave up after ${waited} ms`);
    const rows = await store.messages(conv.id);
    assert.deepEqual(rows.map((r) => r.content), ["first", "2"]);
    assert.equal((await store.getConversation(conv.id, ANONYMOUS))?.title, "renamed");
    // And the store writes again once the lock is free.
    assert.equal(await store.rename(conv.id, ANONYMOUS, "again"), true);
  } finally {
    other.close();
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("close lets a write waiting for another process's lock finish first", async () => {
  const dir = await Deno.makeTempDir({ prefix: "eb-store-" });
  const store = await openSqliteStore(dir, { busyTimeoutMs: 5000 });
  const other = new DatabaseSync(join(dir, DATABASE_FILE));
  try {
    const conv = await store.createConversation({ owner: ANONYMOUS });
    other.exec("BEGIN IMMEDIATE");
    const write = store.appendMessage({
      conversationId: conv.id,
      parentId: null,
      role: "user",
      content: "kept",
    });
    const closed = store.close();
    setTimeout(() => other.exec("COMMIT"), 50);
    await closed;
    assert.equal((await write).content, "kept");
    const rows = other.prepare("SELECT content FROM messages").all();
    assert.deepEqual(rows.map((r) => r.content), ["kept"]);
  } finally {
    other.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("startTurn sets each new message's depth, with and without a system message and when continuing", async () => {
  await withStore(async (store) => {
    const a = await store.startTurn({
      newConversation: { owner: ANONYMOUS, title: "t", system: "be brief" },
      parentId: null,
      prompt: "q1",
      model: "m",
    });
    await a.durable;
    const path = await store.path(a.assistant.id);
    assert.deepEqual(path.map((m) => [m.role, m.depth]), [
      ["system", 0],
      ["user", 1],
      ["assistant", 2],
    ]);
    assert.equal(a.user.parentId, path[0].id);
    const b = await store.startTurn({
      newConversation: { owner: ANONYMOUS, title: "t" },
      parentId: null,
      prompt: "q1",
      model: "m",
    });
    assert.deepEqual([b.user.depth, b.assistant.depth], [0, 1]);
    await store.finishMessage(b.assistant.id, { content: "a1", status: "complete" });
    const c = await store.startTurn({
      conversationId: b.user.conversationId,
      parentId: b.assistant.id,
      prompt: "q2",
      model: "m",
    });
    assert.deepEqual([c.user.depth, c.assistant.depth], [2, 3]);
    assert.deepEqual((await store.path(c.assistant.id)).map((m) => m.depth), [0, 1, 2, 3]);
    // A new conversation cannot start under a message of another one.
    await assert.rejects(
      store.startTurn({
        newConversation: { owner: ANONYMOUS, title: "t" },
        parentId: b.assistant.id,
        prompt: "q",
        model: "m",
      }),
      (err: unknown) => err instanceof AppError && err.code === Code.NotFound,
    );
  });
});
