/**
 * End to end: how upstream faults reach an HTTP client, with `main.ts` as a
 * child process and the fake OpenAI upstream scripting each fault.
 */

import assert from "node:assert/strict";
import { parseSSE, type SSEEvent } from "../../lib/sse/parse.ts";
import { chunk, errorScript, sse, startOpenAIFake } from "../_fakes/openai_upstream.ts";
import { startServer } from "../_helpers/server_process.ts";

const KEY = "sk-faults-secret-key-9876543210";

function post(url: string, body: Record<string, unknown>): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

Deno.test("upstream faults become the right HTTP answers and never leak the key", async (t) => {
  const fake = await startOpenAIFake();
  const server = await startServer({
    env: {
      API_KEY: KEY,
      PROVIDER: "openai",
      API_BASE_URL: fake.url,
      UPSTREAM_ATTEMPTS: "2",
      FIRST_TOKEN_TIMEOUT: "0.5",
      IDLE_TIMEOUT: "2",
    },
  });
  try {
    await t.step("a 401 from the upstream is a 502 saying the key was refused", async () => {
      fake.next(errorScript(401, {
        code: "invalid_api_key",
        type: "invalid_request_error",
        message: `Incorrect API key provided: ${KEY}`,
      }));
      const res = await post(`${server.httpUrl}/ask/new`, { prompt: "hi" });
      assert.equal(res.status, 502);
      const text = await res.text();
      const body = JSON.parse(text);
      assert.equal(body.error.code, "upstream_auth");
      assert.match(body.error.message, /refused the server's credential/);
      assert.ok(!text.includes(KEY));
    });

    await t.step("a 429 then a success is retried and the client gets the answer", async () => {
      const before = fake.requests.length;
      fake.next(errorScript(429, {
        code: "rate_limit_exceeded",
        headers: { "retry-after-ms": "20" },
      }));
      const res = await post(`${server.httpUrl}/ask/new`, { prompt: "retry me" });
      assert.equal(res.status, 200);
      assert.equal((await res.json()).message, "Heard 1 messages: user: retry me");
      assert.equal(fake.requests.length - before, 2);
    });

    await t.step("a 500 on every attempt is a 502", async () => {
      fake.next(errorScript(500));
      fake.next(errorScript(500));
      const res = await post(`${server.httpUrl}/ask/new`, { prompt: "boom" });
      assert.equal(res.status, 502);
      assert.equal((await res.json()).error.code, "upstream_error");
    });

    await t.step(
      "a disconnect mid-stream ends SSE with an error and stores the partial reply incomplete",
      async () => {
        fake.next({
          steps: [
            sse(chunk({ role: "assistant", content: "", refusal: null })),
            sse(chunk({ content: "partial " })),
            sse(chunk({ content: "answer" })),
            { delayMs: 50 },
            { reset: true },
          ],
        });
        const res = await post(`${server.httpUrl}/ask/new`, { prompt: "cut", stream: true });
        assert.equal(res.status, 200);
        const evs: SSEEvent[] = [];
        for await (const e of parseSSE(res.body!)) evs.push(e);
        assert.equal(evs.at(-1)!.event, "error");
        assert.ok(!evs.some((e) => e.event === "done"));
        const text = evs.filter((e) => e.event === "delta").map((e) => JSON.parse(e.data).text);
        assert.equal(text.join(""), "partial answer");
        const list = await (await fetch(`${server.httpUrl}/conversations?limit=1`)).json();
        const tree = await (await fetch(`${server.httpUrl}/conversations/${list.items[0].id}`))
          .json();
        const last = tree.mapping[tree.current_node].message;
        assert.equal(last.status, "incomplete");
        assert.equal(last.content.parts[0], "partial answer");
        // The error event names the conversation and the partial reply, to continue from.
        const error = JSON.parse(evs.at(-1)!.data);
        assert.equal(error.conversation_id, list.items[0].id);
        assert.equal(error.parent_id, tree.current_node);
      },
    );

    await t.step("no first token within FIRST_TOKEN_TIMEOUT is a 504", async () => {
      fake.next({ steps: [], stall: true });
      fake.next({ steps: [], stall: true });
      const started = Date.now();
      const res = await post(`${server.httpUrl}/ask/new`, { prompt: "slow" });
      assert.equal(res.status, 504);
      assert.equal((await res.json()).error.code, "upstream_timeout");
      assert.ok(Date.now() - started < 5000);
    });

    assert.ok(!server.logs().some((l) => l.includes(KEY)));
  } finally {
    await server.stop();
    await fake.close();
  }
});
