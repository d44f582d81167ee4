import assert from "node:assert/strict";
import { EchoProvider } from "../../lib/providers/echo/client.ts";
import type { CallContext } from "../../lib/providers/provider.ts";
import { ANONYMOUS } from "../../lib/store/store.ts";
import { silentLogger } from "../../lib/log.ts";
import { QueueClient, startWs, type WsHarness } from "./ws_client.ts";

function ctx(principal = ANONYMOUS): CallContext {
  return {
    signal: new AbortController().signal,
    requestId: "test",
    principal,
    logger: silentLogger,
  };
}

async function withServer(
  fn: (h: WsHarness) => Promise<void>,
  options: Parameters<typeof startWs>[1] & { delayMs?: number } = {},
): Promise<void> {
  const h = await startWs(new EchoProvider({ delayMs: options.delayMs }), options);
  try {
    await fn(h);
  } finally {
    await h.close();
  }
}

async function connect(url: string, protocols?: string | string[]): Promise<QueueClient> {
  const c = new QueueClient(url, protocols);
  await c.opened;
  return c;
}

/** Polls until `check` holds, for at most `ms`. */
async function eventually(check: () => Promise<boolean>, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

Deno.test("legacy ask streams pieces then <|end|> when the prompt holds $, newlines and emoji", async () => {
  await withServer(async (h) => {
    const c = await connect(h.url);
    try {
      const prompt = "price: $5 $$ 10\nsecond line 👋 世界 é";
      c.send(`<|ask|>$new$new$${prompt}`);
      const first = await c.legacyAnswer();
      const m = /^<\|end\|>\$([^$]+)\$([^$]+)$/.exec(first.last);
      assert.ok(m, first.last);
      assert.match(first.text, /I received 1 message \(user\)/);
      assert.ok(first.text.includes("price: $5 $$ 10 second line 👋 世界 é"), first.text);
      const [, conversationId, parentId] = m;
      const path = await h.engine.getMessages(conversationId, parentId, ctx());
      assert.deepEqual(path.map((x) => x.role), ["user", "assistant"]);
      assert.equal(path[0].content, prompt);
      assert.equal(path[1].content, first.text);
      assert.equal(path[1].status, "complete");

      c.send(`<|ask|>$${conversationId}$${parentId}$and again`);
      const second = await c.legacyAnswer();
      assert.match(second.text, /I received 3 messages \(user, assistant, user\)/);
      assert.match(second.last, new RegExp(`^<\\|end\\|>\\$${conversationId}\\$`));
    } finally {
      await c.close();
    }
  });
});

Deno.test("legacy frame gets <|err|> and the socket stays usable when it is malformed", async () => {
  await withServer(async (h) => {
    const c = await connect(h.url);
    try {
      c.send("hello there");
      assert.match(await c.next(), /^<\|err\|>\$Cannot parse the message: /);
      c.send("<|ask|>$only-one");
      assert.match(await c.next(), /^<\|err\|>\$/);
      c.send("<|ask|>$unknown-conversation$$hi");
      const missing = await c.legacyAnswer();
      assert.match(missing.last, /^<\|err\|>\$Cannot /);
      c.send("<|ask|>$$$still works");
      const ok = await c.legacyAnswer();
      assert.match(ok.last, /^<\|end\|>\$/);
    } finally {
      await c.close();
    }
  });
});

Deno.test("JSON ask streams deltas then done with ids, model and usage", async () => {
  await withServer(async (h) => {
    const c = await connect(h.url);
    try {
      c.send({
        type: "ask",
        id: "c1",
        conversation_id: "new",
        parent_id: null,
        prompt: "日本語 🎉",
      });
      const { text, last } = await c.jsonAnswer("c1");
      assert.ok(text.includes('you said "日本語 🎉"'), text);
      assert.equal(last.type, "done");
      assert.equal(last.model, "echo");
      assert.equal(typeof last.conversation_id, "string");
      assert.equal(typeof last.parent_id, "string");
      const usage = last.usage as Record<string, number>;
      assert.ok(usage.prompt_tokens > 0 && usage.completion_tokens > 0);
      assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens);

      c.send({
        type: "ask",
        id: "c2",
        conversation_id: last.conversation_id,
        parent_id: last.parent_id,
        prompt: "next",
      });
      const next = await c.jsonAnswer("c2");
      assert.match(next.text, /I received 3 messages/);
      assert.equal(next.last.conversation_id, last.conversation_id);
    } finally {
      await c.close();
    }
  });
});

Deno.test("JSON frame gets an error frame and the socket stays usable when it is bad", async () => {
  await withServer(async (h) => {
    const c = await connect(h.url);
    try {
      c.send("{not json");
      const bad = await c.nextJson();
      assert.deepEqual({ type: bad.type, id: bad.id, code: bad.code }, {
        type: "error",
        id: null,
        code: "invalid_argument",
      });
      c.send({ type: "ask", id: "c1", prompt: "" });
      assert.equal((await c.nextJson()).code, "invalid_argument");
      c.send({ type: "ask", id: "c2", conversation_id: "no-such-conversation", prompt: "x" });
      const missing = await c.jsonAnswer("c2");
      assert.equal(missing.last.type, "error");
      assert.equal(missing.last.code, "not_found");
      c.send({ type: "ask", id: "c3", prompt: "fine" });
      assert.equal((await c.jsonAnswer("c3")).last.type, "done");
    } finally {
      await c.close();
    }
  });
});

Deno.test("two JSON asks run at once on one socket when their ids differ", async () => {
  await withServer(async (h) => {
    const c = await connect(h.url);
    try {
      c.send({ type: "ask", id: "a", prompt: "first question" });
      c.send({ type: "ask", id: "b", prompt: "second question" });
      c.send({ type: "ask", id: "a", prompt: "duplicate" });
      const aside: Record<string, unknown>[] = [];
      const a = await c.jsonAnswer("a", aside);
      // The duplicate is refused while "a" runs: its error comes before a's done.
      assert.equal(a.last.type, "error");
      assert.equal(a.last.code, "already_exists");
      const a2 = await c.jsonAnswer("a", aside);
      assert.equal(a2.last.type, "done");
      const bFrames = aside.filter((f) => f.id === "b");
      let b = { text: bFrames.map((f) => f.text ?? "").join(""), last: bFrames.at(-1) };
      if (b.last?.type !== "done") {
        const rest = await c.jsonAnswer("b");
        b = { text: b.text + rest.text, last: rest.last };
      }
      assert.equal(b.last?.type, "done");
      assert.ok(a2.text.includes("first question"), a2.text);
      assert.ok(b.text.includes("second question"), b.text);
      // Interleaved: b's deltas arrived before a finished.
      assert.ok(bFrames.some((f) => f.type === "delta"), "b streamed while a ran");
      assert.notEqual(a2.last.conversation_id, b.last?.conversation_id);
    } finally {
      await c.close();
    }
  }, { delayMs: 5 });
});

Deno.test("cancel ends the ask with a canceled error and stores the reply incomplete", async () => {
  await withServer(async (h) => {
    const c = await connect(h.url);
    try {
      c.send({ type: "ask", id: "c1", prompt: "please take your time" });
      const first = await c.nextJson();
      assert.equal(first.type, "delta");
      c.send({ type: "cancel", id: "c1" });
      const { last } = await c.jsonAnswer("c1");
      assert.equal(last.type, "error");
      assert.equal(last.code, "canceled");
      const [conv] = await h.engine.listConversations(ctx());
      const path = await h.engine.getMessages(conv.id, null, ctx());
      assert.equal(path.at(-1)?.role, "assistant");
      assert.equal(path.at(-1)?.status, "incomplete");
      // The error names the new conversation and the partial reply, to continue from.
      assert.equal(last.conversation_id, conv.id);
      assert.equal(last.parent_id, path.at(-1)?.id);
      // A cancel of an id that is not running is ignored; the socket still works.
      c.send({ type: "cancel", id: "c1" });
      c.send({
        type: "ask",
        id: "c1",
        prompt: "again",
        conversation_id: last.conversation_id,
        parent_id: last.parent_id,
      });
      const again = (await c.jsonAnswer("c1")).last;
      assert.equal(again.type, "done");
      assert.equal(again.conversation_id, conv.id);
    } finally {
      await c.close();
    }
  }, { delayMs: 40 });
});

Deno.test("closing the socket mid-stream stores the partial reply incomplete", async () => {
  await withServer(async (h) => {
    const c = await connect(h.url);
    c.send({ type: "ask", id: "c1", prompt: "a long answer please" });
    assert.equal((await c.nextJson()).type, "delta");
    await c.close();
    await eventually(async () => {
      const [conv] = await h.engine.listConversations(ctx());
      const path = await h.engine.getMessages(conv.id, null, ctx());
      return path.at(-1)?.status === "incomplete";
    });
  }, { delayMs: 40 });
});

Deno.test("a frame gets a payload_too_large error when it exceeds MAX_WS_FRAME_BYTES", async () => {
  await withServer(async (h) => {
    const c = await connect(h.url);
    try {
      c.send({ type: "ask", id: "big", prompt: "é".repeat(1024) });
      const json = await c.nextJson();
      assert.equal(json.code, "resource_exhausted");
      assert.equal(json.reason, "payload_too_large");
      c.send(`<|ask|>$$$${"x".repeat(2048)}`);
      assert.match(await c.next(), /^<\|err\|>\$Cannot accept the frame: it is too large$/);
      c.send({ type: "ask", id: "small", prompt: "fits" });
      assert.equal((await c.jsonAnswer("small")).last.type, "done");
    } finally {
      await c.close();
    }
  }, { env: { MAX_WS_FRAME_BYTES: "2000" } });
});

Deno.test("a binary frame gets answers and errors in the protocol its text starts with", async () => {
  await withServer(async (h) => {
    const c = await connect(h.url);
    const bytes = (text: string) => new TextEncoder().encode(text);
    try {
      c.socket.send(bytes(`  {"type":"ask","id":"bin","prompt":"${"x".repeat(2048)}"}`));
      const json = await c.nextJson();
      assert.equal(json.id, null);
      assert.equal(json.reason, "payload_too_large");
      c.socket.send(bytes(`<|ask|>$$$${"x".repeat(2048)}`));
      assert.match(await c.next(), /^<\|err\|>\$Cannot accept the frame: it is too large$/);
      c.socket.send(bytes(JSON.stringify({ type: "ask", id: "small", prompt: "fits" })));
      assert.equal((await c.jsonAnswer("small")).last.type, "done");
    } finally {
      await c.close();
    }
  }, { env: { MAX_WS_FRAME_BYTES: "2000" } });
});

Deno.test("plain GET gets 426 when it asks no upgrade", async () => {
  await withServer(async (h) => {
    const res = await fetch(h.url.replace("ws:", "http:") + "/anything");
    assert.equal(res.status, 426);
    assert.match(await res.text(), /upgrade required/);
  });
});

Deno.test("upgrade is refused with 401 when a token is required and missing or wrong", async () => {
  await withServer(async (h) => {
    for (const url of [h.url, `${h.url}/?token=wrong`]) {
      const c = new QueueClient(url);
      await assert.rejects(c.opened);
      await c.closed;
    }
    const bad = new QueueClient(h.url, "bearer.wrong");
    await assert.rejects(bad.opened);
    await bad.closed;
  }, { env: { AUTH_TOKENS: "s3cret,other" } });
});

Deno.test("upgrade succeeds with the token in the query or the protocol, scoped to that token", async () => {
  await withServer(async (h) => {
    const q = await connect(`${h.url}/chat?token=s3cret`);
    const p = await connect(h.url, ["easybackend", "bearer.other"]);
    try {
      assert.equal(p.socket.protocol, "bearer.other");
      q.send({ type: "ask", id: "c1", prompt: "mine" });
      const mine = await q.jsonAnswer("c1");
      assert.equal(mine.last.type, "done");
      // The other token cannot continue that conversation.
      p.send({ type: "ask", id: "c1", conversation_id: mine.last.conversation_id, prompt: "x" });
      assert.equal((await p.jsonAnswer("c1")).last.code, "not_found");
    } finally {
      await q.close();
      await p.close();
    }
  }, { env: { AUTH_TOKENS: "s3cret,other" } });
});

Deno.test("close lets a running ask finish when the grace signal has not fired", async () => {
  const h = await startWs(new EchoProvider({ delayMs: 10 }));
  const c = await connect(h.url);
  try {
    c.send({ type: "ask", id: "c1", prompt: "finish me" });
    assert.equal((await c.nextJson()).type, "delta");
    const closing = h.server.close(new AbortController().signal);
    const { last } = await c.jsonAnswer("c1");
    assert.equal(last.type, "done");
    await closing;
    const ev = await c.closed;
    assert.equal(ev.code, 1001);
  } finally {
    await c.close();
    await h.close();
  }
});

Deno.test("close aborts running asks and closes sockets with 1001 when the grace signal fires", async () => {
  const h = await startWs(new EchoProvider({ delayMs: 200 }));
  const c = await connect(h.url);
  try {
    c.send({ type: "ask", id: "c1", prompt: "never finishes in time" });
    assert.equal((await c.nextJson()).type, "delta");
    const grace = new AbortController();
    const closing = h.server.close(grace.signal);
    c.send({ type: "ask", id: "c2", prompt: "too late" });
    const late = await c.jsonAnswer("c2");
    assert.equal(late.last.code, "unavailable");
    assert.equal(late.last.reason, "shutting_down");
    grace.abort();
    const { last } = await c.jsonAnswer("c1");
    assert.equal(last.code, "unavailable");
    await closing;
    assert.equal((await c.closed).code, 1001);
  } finally {
    await c.close();
    await h.close();
  }
});

Deno.test("an idle socket gets pings and is dropped when the peer never answers them", async () => {
  await withServer(async (h) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: h.server.port });
    try {
      await conn.write(new TextEncoder().encode(
        "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
      ));
      // Read until the server hangs up; never answer its pings.
      const seen: number[] = [];
      const buf = new Uint8Array(4096);
      const started = Date.now();
      for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
        // The first frame may share a read with the 101 head; its header ends in a blank line.
        const text = new TextDecoder().decode(buf.subarray(0, n));
        const at = text.startsWith("HTTP/1.1 101") ? text.indexOf("\r\n\r\n") + 4 : 0;
        if (at < n) seen.push(buf[at] & 0x0f);
        if (Date.now() - started > 10_000) throw new Error("the server kept the dead peer");
      }
      assert.ok(seen.includes(0x9), `a ping frame arrived (opcodes ${seen})`);
    } finally {
      conn.close();
    }
  }, { ws: { idleTimeoutSeconds: 1 } });
});
