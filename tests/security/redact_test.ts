/**
 * The pass-through's redaction: key-like strings leave upstream error bodies
 * and mid-stream error events, a refusal of our key is a 502, and the model's
 * own text passes unchanged even when split across chunks.
 */

import assert from "node:assert/strict";
import {
  redactKeys,
  redactStreamErrors,
  upstreamErrorResponse,
} from "../../lib/transports/openai_redact.ts";

const KEY = "sk-proj-AbCdEf0123456789xyz";

Deno.test("redactKeys removes sk- keys, masked keys and JWTs", () => {
  assert.equal(redactKeys(`bad key ${KEY}.`), "bad key [redacted].");
  assert.equal(redactKeys("key sk-proj-****abcd here"), "key [redacted] here");
  assert.equal(redactKeys("token eyJhbGciOi.eyJzdWIiOiIx.c2ln"), "token [redacted]");
  assert.equal(redactKeys("nothing secret"), "nothing secret");
});

Deno.test("an upstream 401 becomes a 502 that names no key, other errors keep status and code", async () => {
  const refused = await upstreamErrorResponse(
    Response.json({ error: { message: `Incorrect API key provided: ${KEY}` } }, { status: 401 }),
  );
  assert.equal(refused.status, 502);
  const body = await refused.json();
  assert.equal(body.error.code, "upstream_auth");
  assert.ok(!JSON.stringify(body).includes(KEY));
  const limited = await upstreamErrorResponse(
    Response.json({
      error: { message: `slow down ${KEY}`, type: "requests", code: "rate_limit_exceeded" },
    }, {
      status: 429,
      headers: { "retry-after": "3" },
    }),
  );
  assert.equal(limited.status, 429);
  assert.equal(limited.headers.get("retry-after"), "3");
  assert.deepEqual(await limited.json(), {
    error: {
      message: "slow down [redacted]",
      type: "requests",
      param: null,
      code: "rate_limit_exceeded",
    },
  });
  const html = await upstreamErrorResponse(new Response("<html>oops</html>", { status: 500 }));
  assert.equal(html.status, 500);
  assert.match((await html.json()).error.message, /^Cannot answer: the upstream failed \(500\)/);
});

Deno.test("stream error events are redacted across chunk splits, and answer text is untouched", async () => {
  const text = `data: {"choices":[{"delta":{"content":"try ${KEY}"}}]}\n\n` +
    `data: {"error":{"message":"bad ${KEY}"}}\n\n`;
  const enc = new TextEncoder();
  const chunks = [text.slice(0, 30), text.slice(30, 90), text.slice(90)].map((c) => enc.encode(c));
  const out = await new Response(ReadableStream.from(chunks).pipeThrough(redactStreamErrors()))
    .text();
  assert.equal(
    out,
    `data: {"choices":[{"delta":{"content":"try ${KEY}"}}]}\n\n` +
      `data: {"error":{"message":"bad [redacted]"}}\n\n`,
  );
});
