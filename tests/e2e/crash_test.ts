/**
 * End to end: `kill -9` in the middle of a streamed answer, then a restart on
 * the same data directory. The database passes `PRAGMA integrity_check`, every
 * completed message is there, and the interrupted reply is marked incomplete.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { parseSSE } from "../../lib/sse/parse.ts";
import { startOpenAIFake, streamScript } from "../_fakes/openai_upstream.ts";
import { startServer } from "../_helpers/server_process.ts";

Deno.test("kill -9 mid-stream leaves an intact database with every completed message", async () => {
  const fake = await startOpenAIFake();
  const dataDir = await Deno.makeTempDir({ prefix: "eb-e2e-crash-" });
  const env = { API_KEY: "sk-crash", PROVIDER: "openai", API_BASE_URL: fake.url };
  let server = await startServer({ env, dataDir });
  try {
    const first = await (await fetch(`${server.httpUrl}/ask/new`, {
      method: "POST",
      body: JSON.stringify({ prompt: "kept" }),
    })).json();

    fake.next(streamScript(["one ", "two ", "three ", "four ", "five"], { delayMs: 300 }));
    const res = await fetch(`${server.httpUrl}/ask/${first.conversation_id}`, {
      method: "POST",
      body: JSON.stringify({ prompt: "interrupted", stream: true }),
    });
    const events = parseSSE(res.body!);
    const delta = await events.next();
    assert.equal(delta.value!.event, "delta");
    await server.kill();
    await events.return(undefined).catch(() => {});

    const db = new DatabaseSync(join(dataDir, "easybackend.db"));
    try {
      const row = db.prepare("PRAGMA integrity_check").get() as Record<string, unknown>;
      assert.equal(Object.values(row)[0], "ok");
    } finally {
      db.close();
    }

    server = await startServer({ env, dataDir });
    const tree = await (await fetch(`${server.httpUrl}/conversations/${first.conversation_id}`))
      .json();
    const messages = Object.values(tree.mapping).map((n) =>
      (n as { message: { author: { role: string }; status: string; content: { parts: string[] } } })
        .message
    );
    const byText = (t: string) => messages.find((m) => m.content.parts[0] === t);
    assert.equal(byText("kept")?.status, "complete");
    assert.equal(byText(first.message)?.status, "complete");
    assert.equal(byText("interrupted")?.status, "complete");
    const cut = messages.find((m) => m.author.role === "assistant" && m.status !== "complete");
    assert.ok(cut, "the interrupted reply is stored");
    assert.equal(cut.status, "incomplete");
  } finally {
    await server.stop();
    await fake.close();
    await Deno.remove(dataDir, { recursive: true });
  }
});
