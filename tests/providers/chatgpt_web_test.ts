import assert from "node:assert/strict";
import { AppError, Code } from "../../lib/errors.ts";
import { createLogger, silentLogger } from "../../lib/log.ts";
import { ChatGPTWebProvider } from "../../lib/providers/chatgpt_web/client.ts";
import { applyOp, DeltaDocuments, isDeltaOp } from "../../lib/providers/chatgpt_web/delta.ts";
import { KeyPool } from "../../lib/providers/pool.ts";
import type {
  CallContext,
  ChatEvent,
  ChatMessage,
  ChatRequest,
  Provider,
  UpstreamIds,
} from "../../lib/providers/provider.ts";
import {
  type ChatGPTWebFake,
  type ChatGPTWebFakeOptions,
  cumulativeSteps,
  type FakeScript,
  sseEvent,
  startChatGPTWebFake,
  v1Steps,
  webErrorScript,
} from "../_fakes/chatgpt_web_upstream.ts";

interface Setup {
  fake: ChatGPTWebFake;
  provider: ChatGPTWebProvider;
  [Symbol.asyncDispose](): Promise<void>;
}

async function setup(
  options: ChatGPTWebFakeOptions & { attempts?: number; idleTimeoutMs?: number } = {},
): Promise<Setup> {
  const fake = await startChatGPTWebFake(options);
  const pool = new KeyPool({
    keys: ["token-1"],
    attempts: options.attempts ?? 1,
    firstTokenTimeoutMs: 5000,
    idleTimeoutMs: options.idleTimeoutMs ?? 5000,
    logger: silentLogger,
    baseDelayMs: 1,
    maxDelayMs: 5,
  });
  const provider = new ChatGPTWebProvider({
    baseUrl: fake.url,
    model: "auto",
    pool,
    logger: silentLogger,
  });
  return { fake, provider, [Symbol.asyncDispose]: () => fake.close() };
}

function context(signal: AbortSignal = new AbortController().signal): CallContext {
  return { signal, requestId: "req-1", principal: "anonymous", logger: silentLogger };
}

function request(
  prompt: string,
  upstreamParent?: UpstreamIds,
  history: ChatMessage[] = [],
): ChatRequest {
  return {
    model: "auto",
    messages: [...history, { role: "user", content: prompt }],
    upstreamParent,
    userMessageId: crypto.randomUUID(),
  };
}

type Done = Extract<ChatEvent, { type: "done" }>;

async function ask(s: Setup, req: ChatRequest, ctx = context()) {
  let text = "";
  let done: Done | null = null;
  let deltas = 0;
  for await (const event of s.provider.stream(req, ctx)) {
    assert.equal(done, null, "nothing may follow done");
    if (event.type === "delta") {
      text += event.text;
      deltas++;
    } else done = event;
  }
  assert.ok(done, "the stream must end with done");
  return { text, done, deltas };
}

/** Asks and returns the thrown AppError, with the text that came before it. */
async function askFailing(s: Setup, req: ChatRequest, ctx = context()) {
  let text = "";
  try {
    for await (const event of s.provider.stream(req, ctx)) {
      if (event.type === "delta") text += event.text;
    }
  } catch (err) {
    assert.ok(err instanceof AppError, `expected an AppError, got ${err}`);
    return { err, text };
  }
  throw new Error("the stream did not fail");
}

function answer(pieces: string[], extra: Record<string, unknown> = {}) {
  return { conversationId: "c-9", messageId: "a-9", pieces, ...extra };
}

Deno.test("ChatGPTWebProvider starts a new conversation and returns the upstream ids", async () => {
  await using s = await setup();
  const req = request("Hello");
  const { text, done, deltas } = await ask(s, req);
  assert.equal(text, "Heard 1 messages: user: Hello");
  assert.ok(deltas > 1, "the answer streams in several deltas");
  assert.equal(done.model, "gpt-4o-mini");
  assert.equal(done.finishReason, "stop");
  assert.ok(done.upstreamIds?.conversationId);
  assert.ok(done.upstreamIds?.messageId);
  const [sent] = s.fake.requests;
  assert.equal(sent.method, "POST");
  assert.equal(sent.path, "/backend-api/conversation");
  assert.equal(sent.headers.authorization, "Bearer token-1");
  assert.equal(sent.headers.accept, "text/event-stream");
  const body = sent.body!;
  assert.equal(body.action, "next");
  assert.equal(body.conversation_id, undefined);
  assert.match(String(body.parent_message_id), /^[0-9a-f-]{36}$/);
  assert.deepEqual(body.supported_encodings, ["v1"]);
  assert.equal(body.model, "auto");
  assert.deepEqual(body.messages, [{
    id: req.userMessageId,
    author: { role: "user" },
    content: { "content_type": "text", parts: ["Hello"] },
    metadata: {},
  }]);
});

Deno.test("ChatGPTWebProvider sends both upstream ids when continuing a conversation", async () => {
  await using s = await setup();
  const first = await ask(s, request("First"));
  const ids = first.done.upstreamIds!;
  const history: ChatMessage[] = [
    { role: "user", content: "First" },
    { role: "assistant", content: first.text },
  ];
  const second = await ask(s, request("Second", ids, history));
  assert.equal(second.text, "Heard 1 messages: user: Second");
  assert.equal(second.done.upstreamIds?.conversationId, ids.conversationId);
  assert.notEqual(second.done.upstreamIds?.messageId, ids.messageId);
  const body = s.fake.requests[1].body!;
  assert.equal(body.conversation_id, ids.conversationId);
  assert.equal(body.parent_message_id, ids.messageId);
  assert.equal((body.messages as unknown[]).length, 1);
});

Deno.test("ChatGPTWebProvider sends the whole path when the upstream has no parent", async () => {
  await using s = await setup();
  const history: ChatMessage[] = [
    { role: "system", content: "Be brief." },
    { role: "user", content: "Hi" },
    { role: "assistant", content: "Hello." },
  ];
  const { text } = await ask(s, request("Again", undefined, history));
  assert.equal(
    text,
    "Heard 4 messages: system: Be brief. | user: Hi | assistant: Hello. | user: Again",
  );
});

Deno.test("ChatGPTWebProvider reads the cumulative format when the upstream uses it", async () => {
  await using s = await setup({ format: "cumulative" });
  const first = await ask(s, request("Hello"));
  assert.equal(first.text, "Heard 1 messages: user: Hello");
  assert.ok(first.deltas > 1);
  const second = await ask(s, request("Next", first.done.upstreamIds));
  assert.equal(second.text, "Heard 1 messages: user: Next");
  assert.equal(second.done.upstreamIds?.conversationId, first.done.upstreamIds?.conversationId);
});

/** A short v1 stream (the fake's full one is long to send a byte at a time). */
const COMPACT_V1 = [
  'event: delta\ndata: {"p":"","o":"add","v":{"message":{"id":"a-9","author":{"role":"assistant"},' +
  '"content":{"content_type":"text","parts":[""]}},"conversation_id":"c-9"},"c":0}\n\n',
  'event: delta\ndata: {"p":"/message/content/parts/0","o":"append","v":"h\u00e9"}\r\n\r\n',
  'data: {"v":"llo \u20ac"}\r\r',
  'event: delta\ndata: {"p":"","o":"patch","v":[{"p":"/message/content/parts/0","o":"append",' +
  '"v":" \u{1F600}"},{"p":"/message/status","o":"replace","v":"finished_successfully"}]}\n\n',
  "data: [DONE]\n\n",
];

/** The steps' bytes cut every `n` bytes, so cuts fall inside characters and lines. */
function splitBytes(steps: string[], n: number): Uint8Array[] {
  const bytes = new TextEncoder().encode(steps.join(""));
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += n) out.push(bytes.slice(i, i + n));
  return out;
}

const STREAM_CASES: { name: string; script: FakeScript; text: string; finish?: string }[] = [
  {
    name: "the v1 header is missing",
    script: { steps: v1Steps({ ...answer(["a", "b", "c"]), header: false }) },
    text: "abc",
  },
  {
    name: "v1 ops come as bare data lines",
    script: { steps: v1Steps({ ...answer(["Hel", "lo", "!"]), bareOps: true }) },
    text: "Hello!",
  },
  {
    name: "a tool message comes first in its own channel",
    script: { steps: v1Steps({ ...answer(["An", "swer"]), toolMessage: true }) },
    text: "Answer",
  },
  {
    name: "the v1 stream arrives one byte at a time",
    script: { steps: COMPACT_V1, byteByByte: true },
    text: "h\u00e9llo \u20ac \u{1F600}",
  },
  {
    name: "the v1 stream uses CRLF line endings",
    script: { steps: v1Steps(answer(["x", "y"])).map((t) => t.replaceAll("\n", "\r\n")) },
    text: "xy",
  },
  {
    name: "CRLF pairs are split across writes",
    script: {
      steps: v1Steps(answer(["x", "y"])).flatMap((t) =>
        t.replaceAll("\n", "\r\n").split(/(?<=\r)/)
      ),
    },
    text: "xy",
  },
  {
    name: "events are split inside a UTF-8 character",
    script: { steps: splitBytes(v1Steps(answer(["\u00e9\u00e9", "\u20ac\u20ac"])), 3) },
    text: "\u00e9\u00e9\u20ac\u20ac",
  },
  {
    name: "the v1 answer stops at max_tokens",
    script: { steps: v1Steps(answer(["long", " text"], { finish: "max_tokens" })) },
    text: "long text",
    finish: "length",
  },
  {
    name: "cumulative snapshots carry escapes and padding",
    script: { steps: cumulativeSteps(answer(["h\u00e9", "llo \u20ac"], { userText: "hey" })) },
    text: "h\u00e9llo \u20ac",
  },
  {
    name: "the cumulative answer stops at max_tokens",
    script: { steps: cumulativeSteps(answer(["a", "b"], { finish: "max_tokens" })) },
    text: "ab",
    finish: "length",
  },
  {
    name: "a reply holds a raw U+2028",
    script: { steps: v1Steps(answer(["a\u2028b", "c"])) },
    text: "a\u2028bc",
  },
  {
    name: "bytes follow [DONE]",
    script: {
      steps: [...v1Steps(answer(["ok"])), sseEvent(JSON.stringify({ v: "junk" }), "delta")],
    },
    text: "ok",
  },
  {
    name: "comments and unknown envelopes are mixed in",
    script: {
      steps: [
        ": keep-alive\n\n",
        sseEvent(JSON.stringify({ type: "server_ste_metadata", metadata: {} })),
        ...v1Steps(answer(["p", "q"])),
      ],
    },
    text: "pq",
  },
];

for (const c of STREAM_CASES) {
  Deno.test(`ChatGPTWebProvider yields the answer when ${c.name}`, async () => {
    await using s = await setup();
    s.fake.next(c.script);
    const { text, done } = await ask(s, request("hi"));
    assert.equal(text, c.text);
    assert.equal(done.finishReason, c.finish ?? "stop");
    assert.deepEqual(done.upstreamIds, { conversationId: "c-9", messageId: "a-9" });
  });
}

const ERROR_CASES: {
  name: string;
  script: FakeScript;
  code: Code;
  reason?: string;
  retryable: boolean;
  retryAfterMs?: number;
}[] = [
  {
    name: "the token expired",
    script: webErrorScript("token_expired"),
    code: Code.Unavailable,
    reason: "upstream_auth",
    retryable: false,
  },
  {
    name: "the upstream rate-limits",
    script: webErrorScript("rate_limited", { "retry-after": "2" }),
    code: Code.ResourceExhausted,
    reason: "rate_limited",
    retryable: true,
    retryAfterMs: 2000,
  },
  {
    name: "the upstream conversation is gone",
    script: webErrorScript("conversation_not_found"),
    code: Code.FailedPrecondition,
    retryable: false,
  },
  {
    name: "the upstream conversation is gone (string detail)",
    script: webErrorScript("conversation_not_found_string"),
    code: Code.FailedPrecondition,
    retryable: false,
  },
  {
    name: "a Cloudflare page blocks the request",
    script: webErrorScript("cloudflare"),
    code: Code.Unavailable,
    reason: "upstream_error",
    retryable: false,
  },
  {
    name: "the upstream rejects the body",
    script: webErrorScript("invalid_body"),
    code: Code.InvalidArgument,
    retryable: false,
  },
  {
    name: "the upstream fails with 500",
    script: webErrorScript("server_error"),
    code: Code.Unavailable,
    reason: "upstream_error",
    retryable: true,
  },
  {
    name: "a 200 answer is a JSON error",
    script: webErrorScript("json_200"),
    code: Code.Unavailable,
    reason: "upstream_error",
    retryable: false,
  },
];

for (const c of ERROR_CASES) {
  Deno.test(`ChatGPTWebProvider throws a safe AppError when ${c.name}`, async () => {
    await using s = await setup();
    s.fake.next(c.script);
    const { err, text } = await askFailing(s, request("secret prompt"));
    assert.equal(text, "");
    assert.equal(err.code, c.code);
    assert.equal(err.reason, c.reason);
    assert.equal(err.retryable, c.retryable);
    assert.equal(err.retryAfterMs, c.retryAfterMs);
    assert.match(err.message, /^Cannot \w+ .+: .+[^.]$/);
    for (const leak of ["secret", "token-1", "cf-please-wait", "<", "Too many", "authentication"]) {
      assert.ok(!err.message.includes(leak), `the message leaks ${leak}: ${err.message}`);
    }
    assert.equal(s.fake.requests.length, 1);
  });
}

Deno.test("ChatGPTWebProvider retries before the first token when the upstream fails with 429 or 5xx", async () => {
  await using s = await setup({ attempts: 3 });
  s.fake.next(webErrorScript("rate_limited", { "retry-after-ms": "5" }));
  s.fake.next(webErrorScript("server_error"));
  const { text } = await ask(s, request("again"));
  assert.equal(text, "Heard 1 messages: user: again");
  assert.equal(s.fake.requests.length, 3);
});

Deno.test("ChatGPTWebProvider throws FailedPrecondition when the fake upstream forgot the conversation", async () => {
  await using s = await setup();
  const { err } = await askFailing(s, request("hi", { conversationId: "nope", messageId: "m" }));
  assert.equal(err.code, Code.FailedPrecondition);
  assert.match(err.message, /upstream conversation is gone/);
});

const MID_STREAM: { name: string; tail: string[] }[] = [
  {
    name: "the root reports an error",
    tail: [sseEvent(JSON.stringify({ message: null, "conversation_id": "c-9", error: "boom" }))],
  },
  {
    name: "an op sets error_code",
    tail: [sseEvent(JSON.stringify({ p: "/error_code", o: "replace", v: "overloaded" }), "delta")],
  },
  { name: "a plain Internal Server Error line arrives", tail: ["data: Internal Server Error\n\n"] },
  { name: "the stream ends before completion", tail: [] },
  { name: "the stream stops mid-event", tail: ['event: delta\ndata: {"v":"x"}'] },
];

for (const c of MID_STREAM) {
  Deno.test(`ChatGPTWebProvider throws Unavailable after the text when ${c.name}`, async () => {
    await using s = await setup();
    s.fake.next({ steps: [...v1Steps(answer(["par", "tial", "!"], { cut: true })), ...c.tail] });
    const { err, text } = await askFailing(s, request("hi"));
    assert.equal(text, "partial!");
    assert.equal(err.code, Code.Unavailable);
    assert.equal(err.reason, "upstream_error");
  });
}

Deno.test("ChatGPTWebProvider throws Unavailable when the connection resets mid-stream", async () => {
  await using s = await setup();
  s.fake.next({ steps: [...v1Steps(answer(["a", "b"], { cut: true })), { reset: true }] });
  const { err, text } = await askFailing(s, request("hi"));
  assert.equal(text, "ab");
  assert.equal(err.code, Code.Unavailable);
});

Deno.test("ChatGPTWebProvider throws Unavailable when a cumulative stream is cut", async () => {
  await using s = await setup();
  s.fake.next({ steps: cumulativeSteps(answer(["a", "b"], { cut: true })) });
  const { err, text } = await askFailing(s, request("hi"));
  assert.equal(text, "ab");
  assert.equal(err.code, Code.Unavailable);
});

Deno.test("ChatGPTWebProvider stops the upstream when the consumer breaks early", async () => {
  await using s = await setup();
  s.fake.next({ steps: v1Steps(answer(["one", "two"], { cut: true })), stall: true });
  for await (const event of s.provider.stream(request("hi"), context())) {
    assert.equal(event.type, "delta");
    break;
  }
  for (let i = 0; i < 100 && s.fake.lastAbortedAt() === null; i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.ok(s.fake.lastAbortedAt() !== null, "the fake saw the client leave");
});

Deno.test("ChatGPTWebProvider throws Canceled when the call's signal aborts mid-stream", async () => {
  await using s = await setup();
  s.fake.next({ steps: v1Steps(answer(["one", "two"], { cut: true })), stall: true });
  const ac = new AbortController();
  let text = "";
  await assert.rejects(async () => {
    for await (const event of s.provider.stream(request("hi"), context(ac.signal))) {
      if (event.type === "delta") text += event.text;
      if (text === "onetwo") ac.abort();
    }
  }, (err) => err instanceof AppError && err.code === Code.Canceled);
  assert.equal(text, "onetwo");
});

Deno.test("ChatGPTWebProvider throws DeadlineExceeded when the upstream goes silent", async () => {
  await using s = await setup({ idleTimeoutMs: 150 });
  s.fake.next({ steps: v1Steps(answer(["one"], { cut: true })), stall: true });
  const { err, text } = await askFailing(s, request("hi"));
  assert.equal(text, "one");
  assert.equal(err.code, Code.DeadlineExceeded);
  assert.equal(err.reason, "upstream_timeout");
});

Deno.test("ChatGPTWebProvider lists the upstream's models when it answers", async () => {
  await using s = await setup();
  const models = await s.provider.listModels(context());
  assert.deepEqual(models.map((m) => m.id), ["auto", "gpt-4o", "gpt-4o-mini"]);
  assert.equal(s.fake.requests[0].path, "/backend-api/models");
});

Deno.test("ChatGPTWebProvider lists the configured model when the upstream has no list", async () => {
  await using s = await setup();
  s.fake.next(webErrorScript("cloudflare"));
  const models = await s.provider.listModels(context());
  assert.deepEqual(models.map((m) => m.id), ["auto"]);
});

Deno.test("ChatGPTWebProvider says it is stateful and has no pass-through", async () => {
  await using s = await setup();
  assert.equal(s.provider.name, "chatgpt-web");
  assert.equal(s.provider.stateful, true);
  const provider: Provider = s.provider;
  assert.equal(provider.passThrough, undefined);
  assert.equal(s.provider.defaultModel, "auto");
});

Deno.test("applyOp edits arrays, merges objects and removes keys when ops say so", () => {
  const doc = { message: { parts: ["a"], metadata: { x: 1 }, gone: true } };
  applyOp(doc, "/message/parts/-", "add", "b");
  applyOp(doc, "/message/parts/0", "append", "!");
  applyOp(doc, "/message/metadata", "append", { y: 2 });
  applyOp(doc, "/message/gone", "remove", undefined);
  applyOp(doc, "/message/new~1key", "replace", 3);
  assert.deepEqual(doc, {
    message: { parts: ["a!", "b"], metadata: { x: 1, y: 2 }, "new/key": 3 },
  });
  assert.deepEqual(applyOp(doc, "", "add", { fresh: true }), { fresh: true });
});

Deno.test("DeltaDocuments reuses the previous path and op when an op is bare", () => {
  const docs = new DeltaDocuments();
  docs.apply({ p: "", o: "add", v: { t: "" }, c: 0 });
  docs.apply({ p: "/t", o: "append", v: "a" });
  docs.apply({ v: "b" });
  docs.apply({ v: "c" });
  assert.deepEqual(docs.current, { t: "abc" });
  docs.apply({ p: "", o: "add", v: { t: "tool" }, c: 1 });
  assert.equal(docs.channel, 1);
  assert.deepEqual(docs.current, { t: "tool" });
  assert.ok(isDeltaOp({ v: "x" }) && isDeltaOp({ p: "/a", o: "remove" }));
  assert.ok(!isDeltaOp({ type: "title_generation" }) && !isDeltaOp({ message: {}, v: 1 }));
});

Deno.test("ChatGPTWebProvider never logs the token, the prompt or the reply", async () => {
  const lines: string[] = [];
  const logger = createLogger({ level: "debug", write: (line) => lines.push(line) });
  await using s = await setup();
  const ctx = { ...context(), logger };
  await ask(s, request("private words"), ctx);
  s.fake.next(webErrorScript("token_expired"));
  await askFailing(s, request("private words"), ctx);
  s.fake.next(webErrorScript("cloudflare"));
  await s.provider.listModels(ctx);
  assert.ok(lines.length > 0, "something was logged");
  for (const leak of ["token-1", "private", "Heard", "cf-please-wait", "authentication token"]) {
    assert.ok(!lines.join("\n").includes(leak), `a log line leaks ${leak}`);
  }
});
