/**
 * Micro-benchmark of context building: `store.path()` plus `buildContext()`
 * for a branch of depth 10, 100 and 1 000 in a store of 1 M messages, and the
 * same 1 000-deep branch in a store that holds only it (cost must grow with
 * the depth, not the database). The 1 M-message database is built once with
 * raw bulk inserts into a temp dir and kept there for the next run.
 *
 *   deno bench --allow-read --allow-write --allow-env bench/context_bench.ts
 * @module
 */

import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { buildContext } from "../lib/engine/context.ts";
import { DATABASE_FILE, openSqliteStore } from "../lib/store/sqlite.ts";
import type { ConversationStore, Message } from "../lib/store/store.ts";
import { tokenCounterFor } from "../lib/tokens.ts";
import type { ChatMessage } from "../lib/providers/provider.ts";

const DEPTH = 1000;
const TEXT = "Tell me more about the history of this city and its rivers, briefly.";

// Every message's token count, as the engine stores it when it writes the message.
const counter = await tokenCounterFor("gpt-4o-mini");
const textTokens = { encoding: counter.encoding, count: counter.count(TEXT) };

/** Fills a store with `conversations` chains of {@link DEPTH} messages each. */
function bulkFill(dir: string, conversations: number): void {
  const db = new DatabaseSync(join(dir, DATABASE_FILE));
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF");
  const conv = db.prepare(
    "INSERT INTO conversations (id, owner, title, current_node, created_at, updated_at) VALUES (?, 'anonymous', 't', ?, 0, 0)",
  );
  const msg = db.prepare(`INSERT INTO messages (id, conversation_id, parent_id, role, content,
    model, status, depth, created_at, content_tokens, token_encoding)
    VALUES (?, ?, ?, ?, ?, 'bench', 'complete', ?, ?, ?, ?)`);
  db.exec("BEGIN");
  for (let c = 0; c < conversations; c++) {
    const cid = `c${c}`;
    conv.run(cid, `m${c}-${DEPTH - 1}`);
    for (let d = 0; d < DEPTH; d++) {
      msg.run(
        `m${c}-${d}`,
        cid,
        d === 0 ? null : `m${c}-${d - 1}`,
        d % 2 === 0 ? "user" : "assistant",
        TEXT,
        d,
        c * DEPTH + d,
        textTokens.count,
        textTokens.encoding,
      );
    }
  }
  db.exec("COMMIT");
  db.close();
}

/** A store of `conversations` × 1 000 messages, built once and cached in the temp dir. */
async function storeOf(conversations: number): Promise<ConversationStore> {
  const tmp = Deno.env.get("TMPDIR") ?? "/tmp";
  const dir = join(tmp, `easybackend-context-bench-v2-${conversations}x${DEPTH}`);
  const done = join(dir, "complete");
  try {
    await Deno.stat(done);
  } catch {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    await (await openSqliteStore(dir)).close(); // the schema
    bulkFill(dir, conversations);
    await Deno.writeTextFile(done, "");
  }
  return await openSqliteStore(dir);
}

const big = await storeOf(1000); // 1 000 000 messages
const small = await storeOf(1); // 1 000 messages
const prompt: ChatMessage = { role: "user", content: TEXT };
const toChat = (m: Message) => ({ role: m.role, content: m.content, tokens: m.tokens });

async function build(store: ConversationStore, conversation: number, depth: number) {
  const path = await store.path(`m${conversation}-${depth - 1}`);
  if (path.length !== depth) throw new Error(`expected ${depth} messages, got ${path.length}`);
  await buildContext(path.map(toChat), prompt, { model: "gpt-4o-mini" });
}

for (const depth of [10, 100, 1000]) {
  Deno.bench({
    name: `path + buildContext, depth ${depth}, 1 M messages`,
    group: "context",
    baseline: depth === 1000,
    async fn() {
      await build(big, 500, depth);
    },
  });
}

Deno.bench({
  name: "path + buildContext, depth 1000, 1 000 messages",
  group: "context",
  async fn() {
    await build(small, 0, DEPTH);
  },
});

for (const depth of [10, 1000]) {
  Deno.bench({
    name: `path only, depth ${depth}, 1 M messages`,
    group: "path",
    async fn() {
      await big.path(`m500-${depth - 1}`);
    },
  });
}

globalThis.addEventListener("unload", () => {
  big.close();
  small.close();
});
