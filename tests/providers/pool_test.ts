import assert from "node:assert/strict";
import { AppError, Code } from "../../lib/errors.ts";
import { silentLogger } from "../../lib/log.ts";
import { KeyPool, type KeyPoolOptions, retryAfterMs } from "../../lib/providers/pool.ts";
import { OpenAIProvider } from "../../lib/providers/openai/client.ts";
import type { CallContext, ChatEvent } from "../../lib/providers/provider.ts";
import {
  chunk,
  errorScript,
  type OpenAIFakeOptions,
  sse,
  startOpenAIFake,
} from "../_fakes/openai_upstream.ts";

function assertEquals(actual: unknown, expected: unknown): void {
  assert.deepStrictEqual(actual, expected);
}

async function assertRejects<E>(
  fn: () => Promise<unknown>,
  type: new (...args: never[]) => E,
): Promise<E> {
  try {
    await fn();
  } catch (err) {
    assert.ok(err instanceof type, `expected ${type.name}, got ${err}`);
    return err;
  }
  throw new assert.AssertionError({ message: "expected a rejection" });
}

function context(signal: AbortSignal = new AbortController().signal): CallContext {
  return { signal, requestId: "req-test", principal: "anonymous", logger: silentLogger };
}

async function setup(options: Partial<KeyPoolOptions> = {}, fakeOptions: OpenAIFakeOptions = {}) {
  const fake = await startOpenAIFake(fakeOptions);
  const delays: number[] = [];
  const pool = new KeyPool({
    keys: ["sk-a", "sk-b", "sk-c"],
    attempts: 3,
    firstTokenTimeoutMs: 5000,
    idleTimeoutMs: 5000,
    logger: silentLogger,
    baseDelayMs: 5,
    maxDelayMs: 20,
    random: () => 0,
    ...options,
    sleep: (ms, signal) => {
      delays.push(ms);
      return new Promise((resolve, reject) => {
        const t = setTimeout(resolve, ms);
        signal.addEventListener("abort", () => {
          clearTimeout(t);
          reject(signal.reason);
        }, { once: true });
      });
    },
  });
  const provider = new OpenAIProvider({
    baseUrl: fake.url,
    model: "gpt-4o-mini",
    pool,
    logger: silentLogger,
  });
  return { fake, pool, provider, delays, [Symbol.asyncDispose]: () => fake.close() };
}

const request = {
  model: "gpt-4o-mini",
  messages: [{ role: "user" as const, content: "hello" }],
  userMessageId: "u1",
};

async function collect(
  events: AsyncIterable<ChatEvent>,
): Promise<{ text: string; done: ChatEvent }> {
  let text = "";
  let done: ChatEvent | null = null;
  for await (const e of events) {
    if (e.type === "delta") text += e.text;
    else done = e;
  }
  assert.ok(done !== null, "no done event");
  return { text, done: done as ChatEvent };
}

async function waitFor(check: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}

const stallAfterHi = {
  steps: [
    sse(chunk({ role: "assistant", content: "", refusal: null })),
    sse(chunk({ content: "Hi" })),
  ],
  stall: true,
};

Deno.test("pool uses the keys round robin when every call succeeds", async () => {
  await using s = await setup();
  for (let i = 0; i < 4; i++) await collect(s.provider.stream(request, context()));
  assertEquals(s.fake.requests.map((r) => r.key), ["sk-a", "sk-b", "sk-c", "sk-a"]);
});

Deno.test("pool retries a 429 on the next key after the retry-after-ms wait", async () => {
  await using s = await setup();
  s.fake.next(errorScript(429, {
    code: "rate_limit_exceeded",
    headers: { "retry-after-ms": "30", "x-ratelimit-remaining-requests": "0" },
  }));
  const { text } = await collect(s.provider.stream(request, context()));
  assertEquals(text, "Heard 1 messages: user: hello");
  assertEquals(s.delays, [30]);
  assertEquals(s.fake.requests.map((r) => r.key), ["sk-a", "sk-b"]);
});

Deno.test("pool retries a 500 with exponential backoff", async () => {
  await using s = await setup();
  s.fake.next(errorScript(500));
  s.fake.next(errorScript(503, { headers: { "retry-after": "not-a-number" } }));
  const { text } = await collect(s.provider.stream(request, context()));
  assertEquals(text, "Heard 1 messages: user: hello");
  assertEquals(s.delays, [5, 10]);
  assertEquals(s.fake.requests.length, 3);
});

Deno.test("pool gives up after the last attempt with the upstream's error", async () => {
  await using s = await setup({ attempts: 2 });
  s.fake.next(errorScript(500));
  s.fake.next(errorScript(502));
  const err = await assertRejects(() => collect(s.provider.stream(request, context())), AppError);
  assertEquals([err.code, err.reason, err.upstreamStatus], [
    Code.Unavailable,
    "upstream_error",
    502,
  ]);
  assertEquals(s.fake.requests.length, 2);
});

Deno.test("pool does not retry a 401 and reports it as an upstream credential failure", async () => {
  await using s = await setup();
  s.fake.next(errorScript(401, { code: "invalid_api_key", message: "Incorrect API key sk-a" }));
  const err = await assertRejects(() => collect(s.provider.stream(request, context())), AppError);
  assertEquals([err.code, err.reason], [Code.Unavailable, "upstream_auth"]);
  assert.ok(!err.message.includes("sk-a"));
  assertEquals(s.fake.requests.length, 1);
});

Deno.test("pool does not retry when x-should-retry is false", async () => {
  await using s = await setup();
  s.fake.next(errorScript(503, { headers: { "x-should-retry": "false" } }));
  await assertRejects(() => collect(s.provider.stream(request, context())), AppError);
  assertEquals(s.fake.requests.length, 1);
});

Deno.test("pool rests a key that keeps failing and uses the others", async () => {
  await using s = await setup({ keys: ["sk-bad", "sk-good"], restAfterFailures: 2 }, {
    keys: ["sk-good"],
  });
  const outcomes: string[] = [];
  for (let i = 0; i < 6; i++) {
    try {
      await collect(s.provider.stream(request, context()));
      outcomes.push("ok");
    } catch (err) {
      outcomes.push((err as AppError).reason ?? "?");
    }
  }
  assertEquals(outcomes, ["upstream_auth", "ok", "upstream_auth", "ok", "ok", "ok"]);
  assertEquals(s.fake.requests.map((r) => r.key).slice(3), ["sk-good", "sk-good", "sk-good"]);
  const [bad, good] = s.pool.state();
  assertEquals([bad.healthy, bad.failures, bad.restingUntil !== null], [false, 2, true]);
  assertEquals(good, {
    index: 1,
    healthy: true,
    failures: 0,
    restingUntil: null,
    attempts: 4,
    errors: 0,
  });
  assertEquals([bad.attempts, bad.errors], [2, 2]);
  assert.ok(!JSON.stringify(s.pool.state()).includes("sk-"));
});

Deno.test("pool moves to another key when a resting key's 429s repeat", async () => {
  await using s = await setup({ keys: ["sk-a", "sk-b"], restAfterFailures: 1 });
  s.fake.next(
    errorScript(429, { code: "rate_limit_exceeded", headers: { "retry-after-ms": "1" } }),
  );
  await collect(s.provider.stream(request, context()));
  await collect(s.provider.stream(request, context()));
  assertEquals(s.fake.requests.map((r) => r.key), ["sk-a", "sk-b", "sk-b"]);
  assertEquals(s.pool.state()[0].healthy, false);
});

Deno.test("pool does not retry after the first delta", async () => {
  await using s = await setup();
  s.fake.next({
    steps: [
      sse(chunk({ role: "assistant", content: "", refusal: null })),
      sse(chunk({ content: "Hel" })),
      sse({ error: { message: "The server had an error", type: "server_error" } }),
    ],
  });
  let text = "";
  const err = await assertRejects(async () => {
    for await (const e of s.provider.stream(request, context())) {
      if (e.type === "delta") text += e.text;
    }
  }, AppError);
  assertEquals([text, err.code, err.reason], ["Hel", Code.Unavailable, "upstream_error"]);
  assertEquals(s.fake.requests.length, 1);
});

Deno.test("pool throws upstream_timeout when no first token comes in time", async () => {
  await using s = await setup({ firstTokenTimeoutMs: 150 });
  s.fake.next({ steps: [": keep-alive\n\n", { delayMs: 50 }, ": keep-alive\n\n"], stall: true });
  const started = Date.now();
  const err = await assertRejects(() => collect(s.provider.stream(request, context())), AppError);
  assertEquals([err.code, err.reason], [Code.DeadlineExceeded, "upstream_timeout"]);
  assert.ok(Date.now() - started < 2000);
  assertEquals(s.fake.requests.length, 1);
  await waitFor(() => s.fake.lastAbortedAt() !== null);
});

Deno.test("pool throws upstream_timeout when the stream goes silent mid-answer", async () => {
  await using s = await setup({ idleTimeoutMs: 150 });
  s.fake.next(stallAfterHi);
  let text = "";
  const err = await assertRejects(async () => {
    for await (const e of s.provider.stream(request, context())) {
      if (e.type === "delta") text += e.text;
    }
  }, AppError);
  assertEquals([text, err.code, err.reason], ["Hi", Code.DeadlineExceeded, "upstream_timeout"]);
  await waitFor(() => s.fake.lastAbortedAt() !== null);
});

Deno.test("pool aborts the upstream fetch when ctx.signal aborts mid-stream", async () => {
  await using s = await setup();
  s.fake.next(stallAfterHi);
  const client = new AbortController();
  const err = await assertRejects(async () => {
    for await (const e of s.provider.stream(request, context(client.signal))) {
      if (e.type === "delta") client.abort();
    }
  }, AppError);
  assertEquals(err.code, Code.Canceled);
  await waitFor(() => s.fake.lastAbortedAt() !== null);
  assertEquals(s.fake.requests.length, 1);
});

Deno.test("pool closes the upstream when the consumer stops reading early", async () => {
  await using s = await setup();
  s.fake.next(stallAfterHi);
  for await (const e of s.provider.stream(request, context())) {
    if (e.type === "delta") break;
  }
  await waitFor(() => s.fake.lastAbortedAt() !== null);
});

Deno.test("pool stops waiting for a retry when ctx.signal aborts during the backoff", async () => {
  await using s = await setup();
  s.fake.next(errorScript(429, { code: "rate_limit_exceeded", headers: { "retry-after": "30" } }));
  const client = new AbortController();
  const pending = collect(s.provider.stream(request, context(client.signal)));
  await waitFor(() => s.delays.length === 1);
  client.abort();
  const err = await assertRejects(() => pending, AppError);
  assertEquals(err.code, Code.Canceled);
  assertEquals(s.delays, [30_000]);
  assertEquals(s.fake.requests.length, 1);
});

Deno.test("pool.request retries a retryable status and returns the final response", async () => {
  await using s = await setup();
  s.fake.next(
    errorScript(429, { code: "rate_limit_exceeded", headers: { "retry-after-ms": "2" } }),
  );
  const res = await s.provider.passThrough.chatCompletions(
    { model: "gpt-4o-mini", messages: [{ role: "user", content: "yo" }] },
    context(),
  );
  assertEquals(res.status, 200);
  const body = await res.json();
  assertEquals(body.choices[0].message.content, "Heard 1 messages: user: yo");
  assertEquals(s.fake.requests.map((r) => r.key), ["sk-a", "sk-b"]);
});

Deno.test("pool.request returns the upstream error as is after the last attempt", async () => {
  await using s = await setup({ attempts: 2 });
  s.fake.next(errorScript(503));
  s.fake.next(errorScript(503, { message: "still overloaded" }));
  const res = await s.provider.passThrough.chatCompletions({ model: "m", messages: [] }, context());
  assertEquals(res.status, 503);
  assertEquals((await res.json()).error.message, "still overloaded");
});

Deno.test("pool.request does not retry insufficient_quota", async () => {
  await using s = await setup();
  s.fake.next(errorScript(429, { code: "insufficient_quota" }));
  const res = await s.provider.passThrough.chatCompletions({ model: "m", messages: [] }, context());
  assertEquals(res.status, 429);
  await res.body?.cancel();
  assertEquals(s.fake.requests.length, 1);
});

Deno.test("retryAfterMs reads retry-after-ms, seconds and HTTP dates", () => {
  const h = (o: Record<string, string>) => new Headers(o);
  assertEquals(retryAfterMs(h({ "retry-after-ms": "12.5", "retry-after": "9" })), 12.5);
  assertEquals(retryAfterMs(h({ "retry-after": "2" })), 2000);
  assertEquals(retryAfterMs(h({ "retry-after": new Date(11_000).toUTCString() }), 1_000), 10_000);
  assertEquals(retryAfterMs(h({ "retry-after": "soon" })), undefined);
  assertEquals(retryAfterMs(h({})), undefined);
});

Deno.test("pool.request fails the body with upstream_timeout when the stream goes silent", async () => {
  await using s = await setup({ idleTimeoutMs: 150 });
  s.fake.next(stallAfterHi);
  const res = await s.provider.passThrough.chatCompletions(
    { model: "m", messages: [], stream: true },
    context(),
  );
  assertEquals(res.status, 200);
  const reader = res.body!.getReader();
  const err = await assertRejects(async () => {
    while (!(await reader.read()).done);
  }, AppError);
  assertEquals([err.code, err.reason], [Code.DeadlineExceeded, "upstream_timeout"]);
  await waitFor(() => s.fake.lastAbortedAt() !== null);
});

Deno.test("pool.request throws upstream_timeout when no response headers come in time", async () => {
  await using s = await setup({ firstTokenTimeoutMs: 100 });
  s.fake.next({ delayMs: 2000, json: {} });
  const err = await assertRejects(
    () => s.provider.passThrough.chatCompletions({ model: "m", messages: [] }, context()),
    AppError,
  );
  assertEquals([err.code, err.reason], [Code.DeadlineExceeded, "upstream_timeout"]);
});

Deno.test("pool counts each attempt in the call's stats and per key", async () => {
  await using s = await setup();
  s.fake.next(errorScript(500));
  const ctx: CallContext = { ...context(), stats: { upstreamAttempts: 0 } };
  await collect(s.provider.stream(request, ctx));
  assertEquals(ctx.stats, { upstreamAttempts: 2 });
  const state = s.pool.state();
  assertEquals(state.map((k) => [k.attempts, k.errors]), [[1, 1], [1, 0], [0, 0]]);
});
