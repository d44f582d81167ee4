import assert from "node:assert/strict";
import { AppError, Code } from "../../lib/errors.ts";
import { createLogger, silentLogger } from "../../lib/log.ts";
import { OpenAIProvider } from "../../lib/providers/openai/client.ts";
import { Http1Client } from "../../lib/providers/http1.ts";
import { KeyPool } from "../../lib/providers/pool.ts";
import type { CallContext, ChatEvent, Usage } from "../../lib/providers/provider.ts";
import {
  chunk,
  completionBody,
  errorScript,
  type FakeScript,
  type FakeStep,
  type OpenAIFake,
  sse,
  startOpenAIFake,
  streamScript,
  usageChunk,
} from "../_fakes/openai_upstream.ts";

const KEY = "sk-secret-test-key";
const PROMPT = "a private prompt";
const enc = new TextEncoder();

function context(signal: AbortSignal = new AbortController().signal): CallContext {
  return { signal, requestId: "req-test", principal: "anonymous", logger: silentLogger };
}

interface Setup {
  fake: OpenAIFake;
  provider: OpenAIProvider;
  lines: string[];
  [Symbol.asyncDispose](): Promise<void>;
}

/** How the provider reaches the upstream: the HTTP/1.1 client (no proxy) or `fetch` (a proxy). */
type Client = "http1" | "fetch";
const CLIENTS: Client[] = ["http1", "fetch"];

async function setup(attempts = 1, client: Client = "http1"): Promise<Setup> {
  const fake = await startOpenAIFake();
  const http = client === "http1" ? new Http1Client() : undefined;
  const lines: string[] = [];
  const logger = createLogger({ level: "debug", write: (l) => lines.push(l) });
  const pool = new KeyPool({
    keys: [KEY],
    attempts,
    firstTokenTimeoutMs: 3000,
    idleTimeoutMs: 3000,
    logger,
    baseDelayMs: 1,
  });
  const provider = new OpenAIProvider({
    baseUrl: fake.url,
    model: "gpt-4o-mini",
    pool,
    logger,
    http,
  });
  return {
    fake,
    provider,
    lines,
    [Symbol.asyncDispose]: async () => {
      http?.close();
      await fake.close();
    },
  };
}

const request = {
  model: "gpt-4o-mini",
  messages: [
    { role: "system" as const, content: "be brief" },
    { role: "user" as const, content: PROMPT },
  ],
  userMessageId: "u1",
};

type Done = Extract<ChatEvent, { type: "done" }>;

async function run(s: Setup, script?: FakeScript): Promise<{ text: string; done: Done }> {
  if (script) s.fake.next(script);
  let text = "";
  let done: Done | null = null;
  for await (const e of s.provider.stream(request, context())) {
    assert.equal(done, null, "an event after done");
    if (e.type === "delta") text += e.text;
    else done = e;
  }
  assert.ok(done !== null, "no done event");
  return { text, done };
}

async function fails(s: Setup, script: FakeScript): Promise<AppError> {
  try {
    await run(s, script);
  } catch (err) {
    assert.ok(err instanceof AppError, `not an AppError: ${err}`);
    assert.ok(!err.message.includes(KEY) && !err.message.includes(PROMPT));
    return err;
  }
  throw new assert.AssertionError({ message: "expected a failure" });
}

const USAGE: { prompt_tokens: number; completion_tokens: number; total_tokens: number } = {
  "prompt_tokens": 9,
  "completion_tokens": 2,
  "total_tokens": 11,
};
const OUR_USAGE: Usage = { promptTokens: 9, completionTokens: 2, totalTokens: 11 };

function joined(script: FakeScript): string {
  return (script.steps ?? []).filter((s) => typeof s === "string").join("");
}

function lines(eol: string): FakeScript {
  return streamScript(["Bon", "jour"], { usage: USAGE, eol });
}

/** Success cases: a script, and the text (and maybe finish reason / usage) it must give. */
const SUCCESS: {
  name: string;
  script: FakeScript;
  text: string;
  finish?: string;
  usage?: Usage;
}[] = [
  { name: "LF line endings", script: lines("\n"), text: "Bonjour", usage: OUR_USAGE },
  { name: "CRLF line endings", script: lines("\r\n"), text: "Bonjour", usage: OUR_USAGE },
  { name: "lone CR line endings", script: lines("\r"), text: "Bonjour", usage: OUR_USAGE },
  {
    name: "a CRLF and a blank line split across writes",
    script: {
      steps: [
        `data: ${JSON.stringify(chunk({ content: "A" }))}\r`,
        { delayMs: 5 },
        "\n\r",
        { delayMs: 5 },
        `\ndata: ${JSON.stringify(chunk({}, { finishReason: "stop" }))}\n`,
        { delayMs: 5 },
        "\ndata: [DONE]\r\n\r\n",
      ],
    },
    text: "A",
  },
  {
    name: "an answer written a byte at a time",
    script: {
      steps: [
        'data: {"choices":[{"index":0,"delta":{"content":"é✓"},"finish_reason":"stop"}]}\r\n\r\n',
        "data: [DONE]\r\n\r\n",
      ],
      byteByByte: true,
    },
    text: "é✓",
  },
  {
    name: "many events in one write",
    script: { steps: [joined(streamScript(["a", "b", "c"], { usage: USAGE }))] },
    text: "abc",
    usage: OUR_USAGE,
  },
  {
    name: "a UTF-8 character split between writes",
    script: (() => {
      const bytes = enc.encode(sse(chunk({ content: "😀é" })));
      const cut = bytes.indexOf(0xf0) + 2;
      const steps: FakeStep[] = [bytes.slice(0, cut), { delayMs: 5 }, bytes.slice(cut)];
      steps.push(sse(chunk({}, { finishReason: "stop" })), sse("[DONE]"));
      return { steps };
    })(),
    text: "😀é",
  },
  {
    name: "a raw U+2028 inside a JSON string",
    script: {
      steps: [
        `data: {"choices":[{"index":0,"delta":{"content":"a\u2028b"}}]}\n\n`,
        sse(chunk({}, { finishReason: "stop" })),
        sse("[DONE]"),
      ],
    },
    text: "a\u2028b",
  },
  {
    name: "data with no space after the colon",
    script: {
      steps: [
        `data:${JSON.stringify(chunk({ content: "x" }))}\n\n`,
        `data:${JSON.stringify(chunk({}, { finishReason: "stop" }))}\n\ndata:[DONE]\n\n`,
      ],
    },
    text: "x",
  },
  {
    name: "comments, a BOM and unknown fields",
    script: {
      steps: [
        "\uFEFF: keep-alive\n\n",
        `id: 7\nretry: 1000\nfoo: bar\n${sse(chunk({ content: "ok" }))}`,
        ": between\n\n",
        sse(chunk({}, { finishReason: "stop" })),
        sse("[DONE]"),
      ],
    },
    text: "ok",
  },
  {
    name: "one JSON payload spread over several data lines",
    script: {
      steps: [
        `data: {"choices":[{"index":0,\ndata: "delta":{"content":"multi"}}]}\n\n`,
        sse(chunk({}, { finishReason: "stop" })),
        sse("[DONE]"),
      ],
    },
    text: "multi",
  },
  {
    name: "a role-only first chunk (2023)",
    script: streamScript(["old"], { firstChunk: "role" }),
    text: "old",
  },
  {
    name: "chunks without usage:null and with fingerprint, tier and obfuscation",
    script: {
      steps: [
        sse(chunk({ role: "assistant", content: "", refusal: null })),
        sse(chunk({ content: "pad" }, { extra: { obfuscation: "x1y2", service_tier: "default" } })),
        sse(chunk({}, { finishReason: "stop", extra: { unknown_field: { nested: 1 } } })),
        sse("[DONE]"),
      ],
    },
    text: "pad",
    usage: undefined,
  },
  {
    name: "n>1 with interleaved indexes and one finish chunk each",
    script: {
      steps: [
        sse(chunk({ content: "zero " }, { index: 0, usage: null })),
        sse(chunk({ content: "one " }, { index: 1, usage: null })),
        sse(chunk({ content: "two" }, { index: 2, usage: null })),
        sse(chunk({ content: "again" }, { index: 0, usage: null })),
        sse(chunk({}, { index: 1, finishReason: "length", usage: null })),
        sse(chunk({}, { index: 0, finishReason: "stop", usage: null })),
        sse(chunk({}, { index: 2, finishReason: "stop", usage: null })),
        sse(usageChunk(USAGE)),
        sse("[DONE]"),
      ],
    },
    text: "zero again",
    finish: "stop",
    usage: OUR_USAGE,
  },
  {
    name: "two parallel tool calls with arguments split inside JSON tokens",
    script: {
      steps: [
        sse(chunk({ role: "assistant", content: null })),
        sse(chunk({
          tool_calls: [{
            index: 0,
            id: "call_1",
            type: "function",
            function: { name: "w", arguments: "" },
          }],
        })),
        sse(chunk({ tool_calls: [{ index: 0, function: { arguments: '{"' } }] })),
        sse(chunk({
          tool_calls: [{
            index: 1,
            id: "call_2",
            type: "function",
            function: { name: "w", arguments: '{"ci' },
          }],
        })),
        sse(chunk({ tool_calls: [{ index: 0, function: { arguments: 'city":"Paris"}' } }] })),
        sse(chunk({ tool_calls: [{ index: 1, function: { arguments: 'ty":"Oslo"}' } }] })),
        sse(chunk({}, { finishReason: "tool_calls" })),
        sse("[DONE]"),
      ],
    },
    text: "",
    finish: "tool_calls",
  },
  {
    name: "a refusal delta",
    script: {
      steps: [
        sse(chunk({ role: "assistant", content: null, refusal: "" })),
        sse(chunk({ content: null, refusal: "I can't " })),
        sse(chunk({ refusal: "help." })),
        sse(chunk({}, { finishReason: "stop" })),
        sse("[DONE]"),
      ],
    },
    text: "I can't help.",
  },
  {
    name: "finish_reason length",
    script: streamScript(["cut"], { finishReason: "length" }),
    text: "cut",
    finish: "length",
  },
  {
    name: "finish_reason content_filter",
    script: streamScript(["no"], { finishReason: "content_filter" }),
    text: "no",
    finish: "content_filter",
  },
  {
    name: "bytes and events after [DONE]",
    script: {
      steps: [...streamScript(["end"]).steps!, sse(chunk({ content: "ghost" })), "garbage\n"],
    },
    text: "end",
  },
  {
    name: "long silent gaps carrying only comments",
    script: {
      steps: [
        sse(chunk({ content: "slow" })),
        { delayMs: 60 },
        ": keep-alive\n\n",
        { delayMs: 60 },
        ": keep-alive\n\n",
        sse(chunk({}, { finishReason: "stop" })),
        sse("[DONE]"),
      ],
    },
    text: "slow",
  },
  {
    name: "a JSON answer to a streaming request (some compatible servers)",
    script: { json: completionBody("plain", "local-model", USAGE) },
    text: "plain",
    usage: OUR_USAGE,
  },
];

for (const client of CLIENTS) {
  for (const c of SUCCESS) {
    Deno.test(`openai provider (${client}) streams the answer when the upstream sends ${c.name}`, async () => {
      await using s = await setup(1, client);
      const { text, done } = await run(s, c.script);
      assert.equal(text, c.text);
      assert.equal(done.finishReason, c.finish ?? "stop");
      if ("usage" in c) assert.deepEqual(done.usage, c.usage);
    });
  }
}

/** Failure cases: a script, and the code / reason / retryability it must give. */
const FAILURE: {
  name: string;
  script: FakeScript;
  code: Code;
  reason?: string;
  retryable?: boolean;
  retryAfterMs?: number;
}[] = [
  {
    name: "400 context_length_exceeded",
    script: errorScript(400, { code: "context_length_exceeded", param: "messages" }),
    code: Code.InvalidArgument,
    reason: "context_length_exceeded",
  },
  {
    name: "400 invalid_request_error",
    script: errorScript(400, { code: "invalid_value" }),
    code: Code.InvalidArgument,
  },
  {
    name: "404 model_not_found",
    script: errorScript(404, { code: "model_not_found" }),
    code: Code.InvalidArgument,
  },
  {
    name: "401 invalid_api_key quoting the key",
    script: errorScript(401, { code: "invalid_api_key", message: `Incorrect API key ${KEY}` }),
    code: Code.Unavailable,
    reason: "upstream_auth",
    retryable: false,
  },
  {
    name: "403 unsupported region",
    script: errorScript(403, { code: "unsupported_country_region_territory" }),
    code: Code.Unavailable,
    reason: "upstream_auth",
  },
  {
    name: "403 as an HTML page",
    script: { status: 403, text: "<html><body>cf-please-wait</body></html>" },
    code: Code.Unavailable,
    reason: "upstream_auth",
  },
  {
    name: "429 rate_limit_exceeded with retry-after",
    script: errorScript(429, {
      code: "rate_limit_exceeded",
      headers: { "retry-after": "2", "x-ratelimit-reset-requests": "17ms" },
    }),
    code: Code.ResourceExhausted,
    reason: "rate_limited",
    retryable: true,
    retryAfterMs: 2000,
  },
  {
    name: "429 insufficient_quota",
    script: errorScript(429, { code: "insufficient_quota" }),
    code: Code.ResourceExhausted,
    retryable: false,
  },
  {
    name: "500 server_error",
    script: errorScript(500),
    code: Code.Unavailable,
    reason: "upstream_error",
    retryable: true,
  },
  {
    name: "503 with retry-after-ms",
    script: errorScript(503, { headers: { "retry-after-ms": "250" } }),
    code: Code.Unavailable,
    reason: "upstream_error",
    retryable: true,
    retryAfterMs: 250,
  },
  {
    name: "409 with x-should-retry false",
    script: errorScript(409, { headers: { "x-should-retry": "false" } }),
    code: Code.Unavailable,
    retryable: false,
  },
  {
    name: "a mid-stream error with param and code",
    script: {
      steps: [
        sse(chunk({ content: "part" })),
        sse({ error: { message: "boom", type: "server_error", param: null, code: "oops" } }),
      ],
    },
    code: Code.Unavailable,
    reason: "upstream_error",
  },
  {
    name: "a mid-stream error without param or code, then more bytes",
    script: {
      steps: [sse({ error: { message: "boom", type: "server_error" } }), sse("[DONE]")],
    },
    code: Code.Unavailable,
    reason: "upstream_error",
  },
  {
    name: "a close in the middle of an event",
    script: { steps: [sse(chunk({ content: "a" })), 'data: {"choices":[{"index":0,"del'] },
    code: Code.Unavailable,
    reason: "upstream_error",
  },
  {
    name: "a close with no [DONE]",
    script: streamScript(["a"], { noDone: true }),
    code: Code.Unavailable,
    reason: "upstream_error",
  },
  {
    name: "[DONE] without a finish reason",
    script: { steps: [sse(chunk({ content: "a" })), sse("[DONE]")] },
    code: Code.Unavailable,
    reason: "upstream_error",
  },
  {
    name: "a connection reset mid-stream",
    script: { steps: [sse(chunk({ content: "a" })), { delayMs: 5 }, { reset: true }] },
    code: Code.Unavailable,
    reason: "upstream_error",
  },
  {
    name: "a chunk that is not JSON",
    script: { steps: ["data: {not json\n\n"] },
    code: Code.Unavailable,
    reason: "upstream_error",
  },
];

for (const client of CLIENTS) {
  for (const c of FAILURE) {
    Deno.test(`openai provider (${client}) throws an AppError when the upstream sends ${c.name}`, async () => {
      await using s = await setup(1, client);
      const err = await fails(s, c.script);
      assert.equal(err.code, c.code, err.message);
      if (c.reason) assert.equal(err.reason, c.reason);
      if (c.retryable !== undefined) assert.equal(err.retryable, c.retryable);
      if (c.retryAfterMs !== undefined) assert.equal(err.retryAfterMs, c.retryAfterMs);
      assert.match(err.message, /^Cannot [a-z]+ /);
      assert.ok(!err.message.endsWith("."));
      assert.equal(s.fake.requests.length, 1);
      const log = s.lines.join("\n");
      assert.ok(!log.includes(KEY) && !log.includes(PROMPT), "the log leaks the key or prompt");
    });
  }
}

Deno.test("openai provider explains context_length_exceeded with CONTEXT_TOKENS", async () => {
  await using s = await setup();
  const err = await fails(s, errorScript(400, { code: "context_length_exceeded" }));
  assert.match(err.message, /CONTEXT_TOKENS/);
});

Deno.test("openai provider sends the streaming request OpenAI expects", async () => {
  await using s = await setup();
  await run(s);
  const [req] = s.fake.requests;
  assert.equal(req.method, "POST");
  assert.equal(req.path, "/v1/chat/completions");
  assert.equal(req.headers.authorization, `Bearer ${KEY}`);
  assert.equal(req.headers.accept, "text/event-stream");
  assert.match(req.headers["content-type"], /application\/json/);
  assert.deepEqual(req.body, {
    model: "gpt-4o-mini",
    messages: [{ role: "system", content: "be brief" }, { role: "user", content: PROMPT }],
    stream: true,
    "stream_options": { "include_usage": true },
  });
});

Deno.test("openai provider reports the resolved model and usage of the default answer", async () => {
  await using s = await setup();
  const { text, done } = await run(s);
  assert.equal(text, `Heard 2 messages: system: be brief | user: ${PROMPT}`);
  assert.equal(done.model, "gpt-4o-mini-2024-07-18");
  assert.ok(done.usage && done.usage.totalTokens > 0);
  const log = s.lines.join("\n");
  assert.ok(!log.includes(KEY) && !log.includes(PROMPT));
});

Deno.test("openai provider throws a retryable Unavailable when the upstream is unreachable", async () => {
  const fake = await startOpenAIFake();
  const url = fake.url;
  await fake.close();
  const pool = new KeyPool({
    keys: [KEY],
    attempts: 1,
    firstTokenTimeoutMs: 3000,
    idleTimeoutMs: 3000,
    logger: silentLogger,
  });
  using http = new Http1Client();
  const provider = new OpenAIProvider({
    baseUrl: url,
    model: "m",
    pool,
    logger: silentLogger,
    http,
  });
  await assert.rejects(
    async () => {
      for await (const _ of provider.stream(request, context()));
    },
    (err: unknown) =>
      err instanceof AppError && err.code === Code.Unavailable && err.retryable &&
      err.reason === "upstream_error",
  );
});

Deno.test("openai provider lists the upstream's models", async () => {
  await using s = await setup();
  const models = await s.provider.listModels(context());
  assert.deepEqual(models.map((m) => m.id), ["gpt-4o-mini", "gpt-4o", "gpt-4.1"]);
  assert.equal(models[0].ownedBy, "openai");
  assert.equal(s.fake.requests[0].path, "/v1/models");
});

Deno.test("openai provider falls back to the configured model when the upstream cannot list", async () => {
  await using s = await setup();
  s.fake.next(errorScript(404, { code: "unknown_url" }));
  assert.deepEqual(await s.provider.listModels(context()), [
    { id: "gpt-4o-mini", ownedBy: "openai", created: 0 },
  ]);
  s.fake.next({ status: 200, text: "<html>not json</html>" });
  assert.deepEqual((await s.provider.listModels(context())).map((m) => m.id), ["gpt-4o-mini"]);
});

Deno.test("openai passThrough sends the client's body as is and returns the stream unconsumed", async () => {
  await using s = await setup();
  const body = {
    model: "gpt-4o",
    messages: [{ role: "user", content: "raw" }],
    stream: true,
    temperature: 0.2,
  };
  const res = await s.provider.passThrough.chatCompletions(body, context());
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /text\/event-stream/);
  assert.equal(res.bodyUsed, false);
  const text = await res.text();
  assert.match(text, /^data: /);
  assert.match(text, /data: \[DONE\]\n\n$/);
  assert.deepEqual(s.fake.requests[0].body, body);
  assert.equal(s.fake.requests[0].headers.authorization, `Bearer ${KEY}`);
});

Deno.test("openai passThrough stops the upstream when the client's signal aborts", async () => {
  await using s = await setup();
  s.fake.next({ steps: [sse(chunk({ content: "a" }))], stall: true });
  const client = new AbortController();
  const res = await s.provider.passThrough.chatCompletions(
    { model: "m", messages: [], stream: true },
    context(client.signal),
  );
  const reader = res.body!.getReader();
  await reader.read();
  client.abort();
  await assert.rejects(() => reader.read());
  for (let i = 0; i < 200 && s.fake.lastAbortedAt() === null; i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.notEqual(s.fake.lastAbortedAt(), null);
});

async function deltasOf(s: Setup, script: FakeScript): Promise<string[]> {
  s.fake.next(script);
  const deltas: string[] = [];
  for await (const e of s.provider.stream(request, context())) {
    if (e.type === "delta") deltas.push(e.text);
  }
  return deltas;
}

Deno.test("openai provider merges the chunks that arrive in one read into one delta", async () => {
  await using s = await setup();
  const deltas = await deltasOf(s, {
    steps: [
      sse(chunk({ content: "a" })) + sse(chunk({ content: "b" })) + sse(chunk({ content: "c" })),
      { delayMs: 30 },
      sse(chunk({ content: "d" })),
      { delayMs: 30 },
      sse(chunk({}, { finishReason: "stop" })) + sse("[DONE]"),
    ],
  });
  // Nothing waits to be merged: a chunk that arrives alone is forwarded alone.
  assert.deepEqual(deltas, ["abc", "d"]);
});

Deno.test("openai provider forwards the text read before an error event in the same read", async () => {
  await using s = await setup();
  s.fake.next({
    steps: [
      sse(chunk({ content: "kept" })) +
      `event: error\ndata: ${
        JSON.stringify({ error: { message: "boom", type: "server_error" } })
      }\n\n`,
    ],
  });
  let text = "";
  await assert.rejects(async () => {
    for await (const e of s.provider.stream(request, context())) {
      if (e.type === "delta") text += e.text;
    }
  }, AppError);
  assert.equal(text, "kept");
});

Deno.test("openai provider (http1) keeps the upstream connection for the next answer", async () => {
  const ports: number[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (_req, info) => {
    ports.push(info.remoteAddr.port);
    const body = sse(chunk({ content: "hi" })) + sse(chunk({}, { finishReason: "stop" })) +
      sse("[DONE]");
    // Chunked, and the body's end comes a moment after the end marker, as from a real server.
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(enc.encode(body));
        setTimeout(() => c.close(), 20);
      },
    });
    return new Response(stream, { headers: { "content-type": "text/event-stream" } });
  });
  using http = new Http1Client();
  const pool = new KeyPool({
    keys: [KEY],
    attempts: 1,
    firstTokenTimeoutMs: 3000,
    idleTimeoutMs: 3000,
    logger: silentLogger,
  });
  const provider = new OpenAIProvider({
    baseUrl: `http://127.0.0.1:${server.addr.port}/v1`,
    model: "m",
    pool,
    logger: silentLogger,
    http,
  });
  try {
    for (let i = 0; i < 3; i++) {
      let text = "";
      // Like the engine: stop reading at `done`.
      for await (const e of provider.stream(request, context())) {
        if (e.type === "delta") text += e.text;
        else break;
      }
      assert.equal(text, "hi");
      await new Promise((r) => setTimeout(r, 60));
    }
    assert.equal(ports.length, 3);
    assert.equal(new Set(ports).size, 1, "one connection served the three answers");
  } finally {
    await server.shutdown();
  }
});
