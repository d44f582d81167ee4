/**
 * End to end: `main.ts` as a child process against the fake OpenAI upstream.
 * A three-turn conversation and a branch over JSON and SSE, checking the exact
 * context the upstream received at each step, then a restart that continues
 * the same conversation from the database.
 */

import assert from "node:assert/strict";
import { parseSSE } from "../../lib/sse/parse.ts";
import { startOpenAIFake } from "../_fakes/openai_upstream.ts";
import { startServer } from "../_helpers/server_process.ts";

const KEY = "sk-e2e-secret-key-0123456789";

interface Sent {
  role: string;
  content: string;
}

function lastContext(fake: { requests: { body: unknown }[] }): Sent[] {
  const body = fake.requests.at(-1)!.body as { messages: Sent[] };
  return body.messages.map((m) => ({ role: m.role, content: m.content }));
}

function heard(messages: Sent[]): string {
  return `Heard ${messages.length} messages: ${
    messages.map((m) => `${m.role}: ${m.content}`).join(" | ")
  }`;
}

async function ask(url: string, body: Record<string, unknown>) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  assert.equal(res.status, 200);
  return await res.json();
}

async function askStream(url: string, body: Record<string, unknown>) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "text/event-stream" },
    body: JSON.stringify(body),
  });
  assert.equal(res.status, 200);
  let text = "";
  let done: Record<string, unknown> | null = null;
  for await (const e of parseSSE(res.body!)) {
    if (e.event === "delta") text += JSON.parse(e.data).text;
    if (e.event === "done") done = JSON.parse(e.data);
    assert.notEqual(e.event, "error", e.data);
  }
  assert.ok(done);
  return { text, done: done as { conversation_id: string; parent_id: string } };
}

Deno.test("a conversation of three turns and a branch sends the upstream exactly the path, and survives a restart", async () => {
  const fake = await startOpenAIFake();
  const dataDir = await Deno.makeTempDir({ prefix: "eb-e2e-conv-" });
  const env = { API_KEY: KEY, PROVIDER: "openai", API_BASE_URL: fake.url };
  let server = await startServer({ env, dataDir });
  try {
    const one = { role: "user", content: "first question" };
    const r1 = await ask(`${server.httpUrl}/ask/new`, { prompt: one.content, parent_id: null });
    assert.deepEqual(lastContext(fake), [one]);
    assert.equal(r1.message, heard([one]));
    assert.equal(fake.requests.at(-1)!.key, KEY);
    const a1 = { role: "assistant", content: r1.message };

    const two = { role: "user", content: "second, streamed" };
    const r2 = await askStream(`${server.httpUrl}/ask/${r1.conversation_id}`, {
      prompt: two.content,
      parent_id: r1.parent_id,
    });
    assert.deepEqual(lastContext(fake), [one, a1, two]);
    assert.equal(r2.text, heard([one, a1, two]));
    assert.equal(r2.done.conversation_id, r1.conversation_id);
    const a2 = { role: "assistant", content: r2.text };

    const three = { role: "user", content: "third, no parent: continue" };
    const r3 = await ask(`${server.httpUrl}/ask/${r1.conversation_id}`, { prompt: three.content });
    assert.deepEqual(lastContext(fake), [one, a1, two, a2, three]);
    const a3 = { role: "assistant", content: r3.message };

    const branch = { role: "user", content: "second, edited" };
    const rb = await askStream(`${server.httpUrl}/ask/${r1.conversation_id}`, {
      prompt: branch.content,
      parent_id: r1.parent_id,
      stream: true,
    });
    assert.deepEqual(lastContext(fake), [one, a1, branch]);

    const tree = await (await fetch(`${server.httpUrl}/conversations/${r1.conversation_id}`))
      .json();
    assert.equal(tree.mapping[r1.parent_id].children.length, 2);
    assert.equal(tree.current_node, rb.done.parent_id);
    assert.equal(Object.keys(tree.mapping).length, 8);
    assert.ok(!JSON.stringify(tree).includes(KEY));

    assert.equal(await server.stop(), 0);
    server = await startServer({ env, dataDir });

    const four = { role: "user", content: "after the restart" };
    const r4 = await ask(`${server.httpUrl}/ask/${r1.conversation_id}`, {
      prompt: four.content,
      parent_id: r3.parent_id,
    });
    assert.deepEqual(lastContext(fake), [one, a1, two, a2, three, a3, four]);
    assert.equal(r4.conversation_id, r1.conversation_id);
    const list = await (await fetch(`${server.httpUrl}/conversations`)).json();
    assert.deepEqual(list.items.map((c: { id: string }) => c.id), [r1.conversation_id]);
    assert.ok(!server.logs().some((l) => l.includes(KEY) || l.includes("first question")));
  } finally {
    await server.stop();
    await fake.close();
    await Deno.remove(dataDir, { recursive: true });
  }
});
