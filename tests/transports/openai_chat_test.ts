import assert from "node:assert/strict";
import OpenAI from "openai";
import { sentMessages, startStack, UPSTREAM_KEY } from "./openai_harness.ts";
import { errorScript } from "../_fakes/openai_upstream.ts";

Deno.test("chat completions pass through with our key when the upstream speaks OpenAI", async () => {
  const stack = await startStack({ provider: "openai" });
  try {
    const answer = await stack.client.chat.completions.create({
      model: "gpt-4o",
      messages: [{ role: "system", content: "be brief" }, { role: "user", content: "hi there" }],
      temperature: 0.2,
    });
    assert.equal(answer.object, "chat.completion");
    assert.equal(answer.model, "gpt-4o-2024-07-18");
    assert.equal(
      answer.choices[0].message.content,
      "Heard 2 messages: system: be brief | user: hi there",
    );
    const fake = stack.fake!;
    assert.equal(fake.requests.length, 1);
    const sent = fake.requests[0];
    assert.equal(sent.path, "/v1/chat/completions");
    assert.equal(sent.key, UPSTREAM_KEY);
    assert.deepEqual(sent.body, {
      model: "gpt-4o",
      messages: [{ role: "system", content: "be brief" }, { role: "user", content: "hi there" }],
      temperature: 0.2,
    });
    assert.ok(!JSON.stringify(sent.headers).includes("eb-client-token"));
  } finally {
    await stack.close();
  }
});

Deno.test("chat completions stream through unchanged when the upstream speaks OpenAI", async () => {
  const stack = await startStack({ provider: "openai" });
  try {
    const stream = await stack.client.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "count to three" }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let usage: OpenAI.CompletionUsage | null | undefined;
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      text += chunk.choices[0]?.delta.content ?? "";
      if (chunk.usage) usage = chunk.usage;
    }
    assert.equal(text, "Heard 1 messages: user: count to three");
    assert.ok(chunks > 3);
    assert.ok(usage && usage.total_tokens > 0);
    const sent = stack.fake!.requests[0];
    assert.equal(sent.key, UPSTREAM_KEY);
    assert.deepEqual((sent.body as Record<string, unknown>).stream_options, {
      include_usage: true,
    });
  } finally {
    await stack.close();
  }
});

Deno.test("chat completions pass-through hides the upstream's account headers when it answers", async () => {
  const stack = await startStack({ provider: "openai" });
  try {
    stack.fake!.next({
      json: { id: "chatcmpl-1", object: "chat.completion", created: 1, model: "m", choices: [] },
      headers: {
        "openai-organization": "org-secret",
        "x-ratelimit-remaining-tokens": "999",
        "set-cookie": "a=b",
        "openai-processing-ms": "12",
      },
    });
    const res = await fetch(`${stack.baseURL}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ messages: [{ role: "user", content: "x" }] }),
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("openai-organization"), null);
    assert.equal(res.headers.get("x-ratelimit-remaining-tokens"), null);
    assert.equal(res.headers.get("set-cookie"), null);
    assert.equal(res.headers.get("openai-processing-ms"), "12");
    assert.equal((await res.json()).id, "chatcmpl-1");
    // A missing model is filled with the configured one.
    assert.equal((stack.fake!.requests[0].body as { model: string }).model, "gpt-4o-mini");
  } finally {
    await stack.close();
  }
});

Deno.test("chat completions pass the upstream's error through when it refuses", async () => {
  const stack = await startStack({ provider: "openai" });
  try {
    stack.fake!.next(errorScript(400, { code: "context_length_exceeded", message: "too long" }));
    await assert.rejects(
      stack.client.chat.completions.create({
        model: "gpt-4o-mini",
        messages: [{ role: "user", content: "x" }],
      }),
      (err: unknown) =>
        err instanceof OpenAI.BadRequestError && err.code === "context_length_exceeded",
    );
    assert.deepEqual(sentMessages(stack.fake!, 0), [{ role: "user", content: "x" }]);
  } finally {
    await stack.close();
  }
});

Deno.test("chat completions are synthesized in OpenAI's format when the upstream is echo", async () => {
  const stack = await startStack();
  try {
    const answer = await stack.client.chat.completions.create({
      model: "echo",
      messages: [
        { role: "developer", content: "be kind" },
        {
          role: "user",
          content: [{ type: "text", text: "hello " }, { type: "text", text: "you" }],
        },
      ],
    });
    assert.match(answer.id, /^chatcmpl-[0-9a-f]{32}$/);
    assert.equal(answer.object, "chat.completion");
    assert.equal(answer.model, "echo");
    assert.equal(answer.choices.length, 1);
    assert.equal(answer.choices[0].finish_reason, "stop");
    assert.equal(answer.choices[0].message.role, "assistant");
    assert.match(
      answer.choices[0].message.content ?? "",
      /2 messages \(system, user\): you said "hello you"/,
    );
    assert.ok(
      answer.usage &&
        answer.usage.total_tokens === answer.usage.prompt_tokens + answer.usage.completion_tokens,
    );
    // Nothing is stored on this route.
    assert.deepEqual(await stack.engine.listConversations(ctxOf()), []);
  } finally {
    await stack.close();
  }
});

Deno.test("chat completion chunks follow OpenAI's sequence when streamed from echo", async () => {
  const stack = await startStack();
  try {
    const res = await fetch(`${stack.baseURL}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        messages: [{ role: "user", content: "one two" }],
        stream: true,
        stream_options: { include_usage: true },
      }),
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
    const raw = await res.text();
    const events = raw.split("\n\n").filter((e) => e !== "");
    assert.ok(events.every((e) => e.startsWith("data: ") && !e.includes("\n")));
    assert.equal(events.at(-1), "data: [DONE]");
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.slice(6)));
    const ids = new Set(chunks.map((c) => c.id));
    assert.equal(ids.size, 1);
    assert.ok(chunks.every((c) => c.object === "chat.completion.chunk" && c.model === "echo"));
    assert.deepEqual(chunks[0].choices, [{
      index: 0,
      delta: { role: "assistant", content: "", refusal: null },
      logprobs: null,
      finish_reason: null,
    }]);
    assert.equal(chunks[0].usage, null);
    const finish = chunks.at(-2);
    assert.deepEqual(finish.choices, [{
      index: 0,
      delta: {},
      logprobs: null,
      finish_reason: "stop",
    }]);
    const usage = chunks.at(-1);
    assert.deepEqual(usage.choices, []);
    assert.ok(usage.usage.total_tokens > 0);
    const text = chunks.slice(1, -2).map((c) => c.choices[0].delta.content).join("");
    assert.match(text, /you said "one two"/);
  } finally {
    await stack.close();
  }
});

Deno.test("the SDK streams synthesized chunks when the upstream is echo", async () => {
  const stack = await startStack();
  try {
    const stream = await stack.client.chat.completions.create({
      model: "echo",
      messages: [{ role: "user", content: "stream me" }],
      stream: true,
    });
    let text = "";
    let finish: string | null = null;
    for await (const chunk of stream) {
      assert.equal(chunk.usage, undefined);
      text += chunk.choices[0]?.delta.content ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    assert.match(text, /you said "stream me"/);
    assert.equal(finish, "stop");
  } finally {
    await stack.close();
  }
});

Deno.test("synthesized chat completions refuse tools naming the field when asked for them", async () => {
  const stack = await startStack();
  try {
    await assert.rejects(
      stack.client.chat.completions.create({
        model: "echo",
        messages: [{ role: "user", content: "x" }],
        tools: [{ type: "function", function: { name: "f", parameters: {} } }],
      }),
      (err: unknown) => err instanceof OpenAI.BadRequestError && err.param === "tools",
    );
    await assert.rejects(
      stack.client.chat.completions.create({
        model: "echo",
        messages: [{
          role: "user",
          content: [{ type: "image_url", image_url: { url: "https://x/y.png" } }],
        }],
      }),
      (err: unknown) =>
        err instanceof OpenAI.BadRequestError && err.param === "messages[0].content[0].type",
    );
  } finally {
    await stack.close();
  }
});

Deno.test("models are listed in OpenAI's format from the upstream", async () => {
  const echo = await startStack();
  const openai = await startStack({ provider: "openai" });
  try {
    const echoModels = [];
    for await (const m of echo.client.models.list()) echoModels.push(m);
    assert.deepEqual(echoModels, [{
      id: "echo",
      object: "model",
      created: 0,
      owned_by: "easybackend",
    }]);
    const ids = [];
    for await (const m of openai.client.models.list()) ids.push(m.id);
    assert.deepEqual(ids, ["gpt-4o-mini", "gpt-4o", "gpt-4.1"]);
    assert.equal(openai.fake!.requests[0].key, UPSTREAM_KEY);
  } finally {
    await echo.close();
    await openai.close();
  }
});

function ctxOf() {
  return {
    signal: new AbortController().signal,
    requestId: "t",
    principal: "anonymous",
    logger: {
      debug() {},
      info() {},
      warn() {},
      error() {},
      child() {
        return this;
      },
    },
  };
}
