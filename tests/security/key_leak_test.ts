/**
 * The upstream key never reaches a client or a log line, and the client token
 * is never logged: `main.ts` runs a full scenario on every protocol (answers,
 * upstream 401, 429, 500, an error event and a reset mid-stream, the
 * OpenAI-compatible pass-through) against a fake upstream whose error messages
 * even quote the key, and every header, body, frame and log line is grepped.
 */

import assert from "node:assert/strict";
import { chunk, errorScript, type FakeScript, sse } from "../_fakes/openai_upstream.ts";
import { askOver, PROTOCOLS } from "./_clients.ts";
import { startSecureServer, UPSTREAM_KEY } from "./_server.ts";

const CLIENT_TOKEN = "tok-client-SECRET-4b8e2d";
const KEY_TAIL = UPSTREAM_KEY.slice(-12);

/** Upstream failures whose messages quote the key, as careless upstreams do. */
function failures(): [string, FakeScript][] {
  const quoted = `Incorrect API key provided: ${UPSTREAM_KEY}`;
  return [
    ["401", errorScript(401, { code: "invalid_api_key", message: quoted })],
    ["429", errorScript(429, { code: "rate_limit_exceeded", message: quoted })],
    ["500", errorScript(500, { message: quoted })],
    ["mid-stream error event", {
      steps: [
        sse(chunk({ role: "assistant", content: "" })),
        sse(chunk({ content: "part" })),
        sse({ error: { message: quoted, type: "server_error", code: null } }),
      ],
    }],
    ["mid-stream reset", {
      steps: [sse(chunk({ role: "assistant", content: "" })), sse(chunk({ content: "part" })), {
        reset: true,
      }],
    }],
  ];
}

function assertClean(where: string, text: string): void {
  assert.ok(!text.includes(UPSTREAM_KEY), `${where} holds the upstream key:\n${text}`);
  assert.ok(!text.includes(KEY_TAIL), `${where} holds a piece of the upstream key:\n${text}`);
}

Deno.test("the upstream key reaches no client and no log line, and the client token no log line, on any protocol", async () => {
  await using s = await startSecureServer({
    env: { AUTH_TOKENS: CLIENT_TOKEN, UPSTREAM_ATTEMPTS: "1", LOG_LEVEL: "debug" },
  });
  const seen: string[] = [];
  for (const protocol of PROTOCOLS) {
    const ok = await askOver(s.target, protocol, { token: CLIENT_TOKEN, prompt: "hello" });
    assert.ok(ok.ok, `${protocol}: ${ok.seen.join("\n")}`);
    seen.push(...ok.seen);
    for (const [name, script] of failures()) {
      s.fake.next(script);
      const r = await askOver(s.target, protocol, { token: CLIENT_TOKEN, prompt: "fail" });
      assert.equal(r.ok, false, `${protocol} ${name}: ${r.seen.join("\n")}`);
      assert.ok(r.message, `${protocol} ${name}: no error message`);
      seen.push(...r.seen);
    }
    const wrong = await askOver(s.target, protocol, { token: "tok-wrong", prompt: "x" });
    seen.push(...wrong.seen);
  }
  // The pass-through: an answer, then each failure.
  const chat = async () => {
    const res = await fetch(`${s.target.httpUrl}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${CLIENT_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ messages: [{ role: "user", content: "hi" }], stream: true }),
    });
    seen.push(`${res.status}\n${[...res.headers].join("\n")}\n${await res.text().catch(String)}`);
  };
  await chat();
  for (const [, script] of failures()) {
    s.fake.next(script);
    await chat();
  }
  // The key really was used upstream, so the greps below mean something.
  assert.ok(s.fake.requests.length > 30);
  assert.ok(s.fake.requests.every((r) => r.key === UPSTREAM_KEY));
  assert.ok(s.fake.requests.every((r) => !JSON.stringify(r).includes(CLIENT_TOKEN)));
  for (const text of seen) assertClean("a response", text);
  await s.server.stop();
  const logs = s.server.logs();
  assert.ok(logs.length > 50, "too few log lines to mean anything");
  for (const line of logs) {
    assertClean("a log line", line);
    assert.ok(!line.includes(CLIENT_TOKEN), `a log line holds the client token:\n${line}`);
    assert.ok(!line.includes("Incorrect API key provided"), `a log line quotes upstream:\n${line}`);
  }
});
