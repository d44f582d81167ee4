/**
 * The WebSocket transport against the fake OpenAI upstream: the context each
 * ask sends, a client leaving mid-stream, and a reader too slow to keep up.
 */

import assert from "node:assert/strict";
import { silentLogger } from "../../lib/log.ts";
import { OpenAIProvider } from "../../lib/providers/openai/client.ts";
import { KeyPool } from "../../lib/providers/pool.ts";
import type { CallContext } from "../../lib/providers/provider.ts";
import { ANONYMOUS } from "../../lib/store/store.ts";
import { chunk, type OpenAIFake, sse, startOpenAIFake } from "../_fakes/openai_upstream.ts";
import { QueueClient, startWs, type WsHarness } from "./ws_client.ts";
import type { WsOptions } from "../../lib/transports/ws.ts";

const CTX: CallContext = {
  signal: new AbortController().signal,
  requestId: "test",
  principal: ANONYMOUS,
  logger: silentLogger,
};

async function withUpstream(
  fn: (h: WsHarness, fake: OpenAIFake) => Promise<void>,
  ws?: WsOptions,
): Promise<void> {
  const fake = await startOpenAIFake();
  const pool = new KeyPool({
    keys: ["sk-test"],
    attempts: 1,
    firstTokenTimeoutMs: 5000,
    idleTimeoutMs: 60_000,
    logger: silentLogger,
  });
  const provider = new OpenAIProvider({
    baseUrl: fake.url,
    model: "gpt-4o-mini",
    pool,
    logger: silentLogger,
  });
  const h = await startWs(provider, { ws });
  try {
    await fn(h, fake);
  } finally {
    await h.close();
    await fake.close();
  }
}

async function eventually(check: () => Promise<boolean> | boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A stream that sends some text, then stays open and silent. */
function stallingScript(pieces: string[]) {
  const steps = [sse(chunk({ role: "assistant", content: "" }))];
  for (const p of pieces) steps.push(sse(chunk({ content: p })));
  return { steps, stall: true };
}

Deno.test("JSON asks send the upstream exactly the path when they continue and branch", async () => {
  await withUpstream(async (h, fake) => {
    const c = new QueueClient(h.url);
    await c.opened;
    try {
      c.send({ type: "ask", id: "1", conversation_id: "new", prompt: "one" });
      const first = (await c.jsonAnswer("1")).last;
      c.send({
        type: "ask",
        id: "2",
        conversation_id: first.conversation_id,
        parent_id: first.parent_id,
        prompt: "two",
      });
      assert.equal((await c.jsonAnswer("2")).last.type, "done");
      c.send({
        type: "ask",
        id: "3",
        conversation_id: first.conversation_id,
        parent_id: first.parent_id,
        prompt: "three $ 🌍",
      });
      const branch = await c.jsonAnswer("3");
      assert.equal(branch.last.type, "done");
      assert.equal(branch.last.model, "gpt-4o-mini-2024-07-18");
      const sent = fake.requests.map((r) =>
        (r.body as { messages: { role: string; content: string }[] }).messages
          .map((m) => `${m.role}: ${m.content}`)
      );
      assert.deepEqual(sent[0], ["user: one"]);
      assert.equal(sent[1].length, 3);
      assert.deepEqual([sent[1][0], sent[1][2]], ["user: one", "user: two"]);
      assert.deepEqual([sent[2][0], sent[2][1], sent[2][2]], [
        "user: one",
        sent[1][1],
        "user: three $ 🌍",
      ]);
      assert.match(branch.text, /^Heard 3 messages: /);
    } finally {
      await c.close();
    }
  });
});

Deno.test("closing the socket mid-stream closes the upstream within a second and stores the reply incomplete", async () => {
  await withUpstream(async (h, fake) => {
    fake.next(stallingScript(["partial ", "reply"]));
    const c = new QueueClient(h.url);
    await c.opened;
    c.send({ type: "ask", id: "c1", prompt: "tell me everything" });
    let text = "";
    while (text !== "partial reply") text += (await c.nextJson()).text as string;
    const closedAt = Date.now();
    await c.close();
    await eventually(() => fake.lastAbortedAt() !== null, 1000);
    assert.ok(fake.lastAbortedAt()! - closedAt <= 1000);
    await eventually(async () => {
      const [conv] = await h.engine.listConversations(CTX);
      const last = (await h.engine.getMessages(conv.id, null, CTX)).at(-1);
      return last?.status === "incomplete" && last.content === "partial reply";
    });
  });
});

/** A raw WebSocket client that sends one frame and then never reads. */
async function nonReadingClient(port: number, frame: string): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const enc = new TextEncoder();
  await conn.write(enc.encode(
    "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
  ));
  const head = new Uint8Array(1024);
  const n = await conn.read(head);
  assert.match(new TextDecoder().decode(head.subarray(0, n ?? 0)), /^HTTP\/1\.1 101/);
  const payload = enc.encode(frame);
  assert.ok(payload.length < 126);
  const mask = crypto.getRandomValues(new Uint8Array(4));
  const out = new Uint8Array(6 + payload.length);
  out.set([0x81, 0x80 | payload.length, ...mask]);
  payload.forEach((b, i) => (out[6 + i] = b ^ mask[i % 4]));
  await conn.write(out);
  return conn;
}

Deno.test("a reader that does not read pauses the upstream instead of buffering the answer", async () => {
  await withUpstream(async (h, fake) => {
    // 32 MiB of answer: far more than the socket buffers hold. Without the
    // high-water mark the server pulls all of it in well under the wait below.
    const piece = "x".repeat(256 * 1024);
    const steps = [sse(chunk({ role: "assistant", content: "" }))];
    for (let i = 0; i < 128; i++) steps.push(sse(chunk({ content: piece })));
    steps.push(sse(chunk({}, { finishReason: "stop" })), sse("[DONE]"));
    fake.next({ steps });
    const conn = await nonReadingClient(h.server.port, '{"type":"ask","id":"big","prompt":"hi"}');
    await eventually(() => fake.requests.length === 1);
    await new Promise((r) => setTimeout(r, 1000));
    // Still not complete: leaving now is an abort the fake sees.
    conn.close();
    await eventually(() => fake.lastAbortedAt() !== null, 1000);
    await eventually(async () => {
      const [conv] = await h.engine.listConversations(CTX);
      const last = (await h.engine.getMessages(conv.id, null, CTX)).at(-1);
      return last?.status === "incomplete";
    });
  }, { highWaterMark: 64 * 1024 });
});
