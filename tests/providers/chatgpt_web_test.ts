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
  // Pieces that arrive in one read go out as one delta.
  assert.ok(deltas >= 1, "the answer streams as deltas");
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

const STREAM_CASES: { name: string; script: FakeScript; text: string }[] = [
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
    name: "cumulative snapshots carry escapes and padding",
    script: { steps: cumulativeSteps(answer(["h\u00e9", "llo \u20ac"], { userText: "hey" })) },
    text: "h\u00e9llo \u20ac",
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
    assert.equal(done.finishReason, "stop");
    assert.deepEqual(done.upstreamIds, { conversationId: "c-9", messageId: "a-9" });
  });
}

/** The replies of the fake's default answer to one prompt, and its 12-character pieces. */
function heard(prompt: string): { reply: string; pieces: string[] } {
  const reply = `Heard 1 messages: user: ${prompt}`;
  return { reply, pieces: reply.match(/.{1,12}/gs)! };
}

const CONTINUE_CASES: {
  name: string;
  options: ChatGPTWebFakeOptions;
  prompt: string;
  continues: number;
}[] = [
  { name: "two continues in v1", options: {}, prompt: "Hello", continues: 2 },
  {
    name: "three continues in v1 repeating the whole text",
    options: { continueFrom: "whole" },
    prompt: "Hello, how are you??",
    continues: 3,
  },
  {
    name: "two continues in the cumulative format",
    options: { format: "cumulative" },
    prompt: "Hello",
    continues: 2,
  },
  {
    name: "three cumulative continues repeating the whole text in the same message",
    options: { format: "cumulative", continueFrom: "whole", continueIds: "same" },
    prompt: "Hello, how are you??",
    continues: 3,
  },
  {
    name: "three v1 continues restarting from empty in the same message",
    options: { continueIds: "same" },
    prompt: "Hello, how are you??",
    continues: 3,
  },
];

for (const c of CONTINUE_CASES) {
  Deno.test(`ChatGPTWebProvider streams one whole answer when it arrives in ${c.name}`, async () => {
    await using s = await setup({ ...c.options, piecesPerTurn: 1 });
    const { reply, pieces } = heard(c.prompt);
    assert.equal(pieces.length, c.continues + 1, "the test's reply fits its continues");
    const { text, done, deltas } = await ask(s, request(c.prompt));
    assert.equal(text, reply);
    assert.equal(deltas, pieces.length, "no text is repeated or merged");
    assert.equal(done.finishReason, "stop");
    assert.equal(done.model, "gpt-4o-mini");
    const bodies = s.fake.requests.map((r) => r.body!);
    assert.deepEqual(bodies.map((b) => b.action), [
      "next",
      ...pieces.slice(1).map(() => "continue"),
    ]);
    const ids = done.upstreamIds!;
    for (const body of bodies.slice(1)) {
      assert.equal(body.conversation_id, ids.conversationId);
      assert.equal(body.messages, undefined);
    }
    if (c.options.continueIds !== "same") {
      const parents = bodies.slice(1).map((b) => b.parent_message_id);
      assert.equal(new Set(parents).size, parents.length, "each continue names the latest cut");
      assert.ok(!parents.includes(ids.messageId), "done carries the last message, not a cut one");
    }
    // The fake accepts a follow-up only from a message it knows in that conversation.
    const next = await ask(s, request("More", ids));
    assert.equal(next.text, heard("More").reply);
  });
}

/** A scripted answer cut off at `max_tokens`, or the end of one, in either format. */
function turn(
  format: "v1" | "cumulative",
  messageId: string,
  pieces: string[],
  extra: Record<string, unknown> = {},
): FakeScript {
  const o = { conversationId: "c-9", messageId, pieces, ...extra };
  return { steps: format === "v1" ? v1Steps(o) : cumulativeSteps(o) };
}

for (const format of ["v1", "cumulative"] as const) {
  Deno.test(`ChatGPTWebProvider continues from the cut-off message when a ${format} answer stops at max_tokens`, async () => {
    await using s = await setup();
    s.fake.next(turn(format, "a-1", ["Once ", "upon"], { finish: "max_tokens" }));
    s.fake.next(turn(format, "a-2", [" a ", "time"], { finish: "max_tokens" }));
    s.fake.next(turn(format, "a-3", [",", " the end."], { before: "Once upon a time" }));
    const { text, done } = await ask(s, request("Tell a story"));
    assert.equal(text, "Once upon a time, the end.");
    assert.equal(done.finishReason, "stop");
    assert.deepEqual(done.upstreamIds, { conversationId: "c-9", messageId: "a-3" });
    const [first, ...continues] = s.fake.requests.map((r) => r.body!);
    assert.equal(first.action, "next");
    assert.deepEqual(
      continues.map((b) => [b.action, b.conversation_id, b.parent_message_id, b.model]),
      [["continue", "c-9", "a-1", "auto"], ["continue", "c-9", "a-2", "auto"]],
    );
    assert.equal(s.fake.requests[1].headers.authorization, "Bearer token-1");
  });
}

Deno.test("ChatGPTWebProvider stops after three continues with finish reason length", async () => {
  await using s = await setup({ piecesPerTurn: 1 });
  const prompt = "a prompt long enough for eight pieces of twelve";
  const { pieces } = heard(prompt);
  assert.ok(pieces.length > 5);
  const { text, done } = await ask(s, request(prompt));
  assert.equal(text, pieces.slice(0, 4).join(""));
  assert.equal(done.finishReason, "length");
  assert.equal(s.fake.requests.length, 4, "one ask and three continues");
  // The last cut-off message is the parent of any later continue.
  assert.ok(done.upstreamIds);
  const lastParent = s.fake.requests[3].body!.parent_message_id;
  assert.notEqual(done.upstreamIds.messageId, lastParent);
});

Deno.test("ChatGPTWebProvider throws after the text when a continue request fails", async () => {
  await using s = await setup({ attempts: 3 });
  s.fake.next(turn("v1", "a-1", ["par", "tial"], { finish: "max_tokens" }));
  s.fake.next(webErrorScript("server_error"));
  const { err, text } = await askFailing(s, request("hi"));
  assert.equal(text, "partial");
  assert.equal(err.code, Code.Unavailable);
  assert.equal(err.reason, "upstream_error");
  assert.match(err.message, /^Cannot \w+ .+: .+[^.]$/);
  assert.equal(s.fake.requests.length, 2, "nothing is retried after text was streamed");
});

Deno.test("ChatGPTWebProvider throws after the text when a continue stream is cut", async () => {
  await using s = await setup();
  s.fake.next(turn("cumulative", "a-1", ["one ", "two "], { finish: "max_tokens" }));
  s.fake.next(turn("cumulative", "a-2", ["three ", "four"], { cut: true }));
  const { err, text } = await askFailing(s, request("count"));
  assert.equal(text, "one two three four");
  assert.equal(err.code, Code.Unavailable);
  assert.equal(s.fake.requests[1].body!.action, "continue");
});

Deno.test("ChatGPTWebProvider throws FailedPrecondition when the upstream forgot the conversation it cut off", async () => {
  await using s = await setup();
  s.fake.next(turn("v1", "a-1", ["cut"], { finish: "max_tokens" }));
  const { err, text } = await askFailing(s, request("hi"));
  assert.equal(text, "cut");
  assert.equal(err.code, Code.FailedPrecondition);
});

Deno.test("ChatGPTWebProvider stops the continue request when the consumer breaks during it", async () => {
  await using s = await setup();
  s.fake.next(turn("v1", "a-1", ["first"], { finish: "max_tokens" }));
  s.fake.next({ ...turn("v1", "a-2", ["second", "third"], { cut: true }), stall: true });
  let text = "";
  for await (const event of s.provider.stream(request("hi"), context())) {
    if (event.type === "delta") text += event.text;
    if (text.startsWith("firstsecond")) break;
  }
  for (let i = 0; i < 100 && s.fake.lastAbortedAt() === null; i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.ok(s.fake.lastAbortedAt() !== null, "the fake saw the client leave the continue");
  assert.equal(s.fake.requests.length, 2);
});

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
