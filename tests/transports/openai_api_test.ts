import assert from "node:assert/strict";
import { silentLogger } from "../../lib/log.ts";
import type { CallContext } from "../../lib/providers/provider.ts";
import { handleOpenAI } from "../../lib/transports/openai_api.ts";
import { startStack } from "./openai_harness.ts";

function testCtx(): CallContext {
  return {
    signal: new AbortController().signal,
    requestId: "test",
    principal: "anonymous",
    logger: silentLogger,
  };
}

Deno.test("handleOpenAI returns null when the path is not one of its routes", async () => {
  const stack = await startStack();
  try {
    for (const path of ["/v1/embeddings", "/v1/responses/a/b", "/ask/new", "/v1"]) {
      const req = new Request(`http://x${path}`, { method: "POST" });
      assert.equal(handleOpenAI(req, new URL(req.url), testCtx(), stack.engine), null, path);
    }
  } finally {
    await stack.close();
  }
});

Deno.test("OpenAI routes answer 405 in OpenAI's shape when the method is wrong", async () => {
  const stack = await startStack();
  try {
    const res = await fetch(`${stack.baseURL}/chat/completions`);
    assert.equal(res.status, 405);
    assert.equal(res.headers.get("allow"), "POST");
    const body = await res.json();
    assert.equal(body.error.type, "invalid_request_error");
    assert.equal(typeof body.error.message, "string");
    const del = await fetch(`${stack.baseURL}/models`, { method: "DELETE" });
    assert.equal(del.status, 405);
    await del.body?.cancel();
  } finally {
    await stack.close();
  }
});

Deno.test("OpenAI routes answer 400 naming the body when it is not JSON", async () => {
  const stack = await startStack();
  try {
    for (const path of ["/chat/completions", "/responses"]) {
      const res = await fetch(`${stack.baseURL}${path}`, { method: "POST", body: "{nope" });
      assert.equal(res.status, 400);
      assert.deepEqual(await res.json(), {
        error: {
          message: "Cannot parse the request body: it is not valid JSON",
          type: "invalid_request_error",
          param: "body",
          code: "invalid_argument",
        },
      });
    }
  } finally {
    await stack.close();
  }
});

Deno.test("a streamed response stops the engine and is stored incomplete when the client leaves", async () => {
  const stack = await startStack({ echoDelayMs: 40 });
  try {
    const controller = new AbortController();
    const res = await fetch(`${stack.baseURL}/responses`, {
      method: "POST",
      body: JSON.stringify({ input: "a prompt long enough to take a while", stream: true }),
      signal: controller.signal,
    });
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let seen = "";
    while (!seen.includes("response.output_text.delta")) {
      const { value, done } = await reader.read();
      assert.ok(!done);
      seen += value;
    }
    const id = /"response":\{"id":"([^"]+)"/.exec(seen)![1];
    controller.abort();
    await reader.cancel().catch(() => {});
    let status = "in_progress";
    for (let i = 0; i < 100 && status === "in_progress"; i++) {
      await new Promise((r) => setTimeout(r, 20));
      status = (await stack.engine.getMessage(id, testCtx())).message.status;
    }
    assert.equal(status, "incomplete");
  } finally {
    await stack.close();
  }
});

Deno.test("a passed-through stream stops the upstream call when the client leaves", async () => {
  const stack = await startStack({ provider: "openai" });
  try {
    const fake = stack.fake!;
    fake.next({
      steps: [
        'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Hi"},"logprobs":null,"finish_reason":null}]}\n\n',
      ],
      stall: true,
    });
    const controller = new AbortController();
    const res = await fetch(`${stack.baseURL}/chat/completions`, {
      method: "POST",
      body: JSON.stringify({
        model: "m",
        messages: [{ role: "user", content: "x" }],
        stream: true,
      }),
      signal: controller.signal,
    });
    const reader = res.body!.getReader();
    await reader.read();
    controller.abort();
    await reader.cancel().catch(() => {});
    for (let i = 0; i < 100 && fake.lastAbortedAt() === null; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.notEqual(fake.lastAbortedAt(), null);
  } finally {
    await stack.close();
  }
});
