/**
 * Requests per minute per token (RATE_LIMIT_RPM) on every protocol of
 * `main.ts`: the request over the limit gets HTTP 429 with `Retry-After`
 * (a JSON error, also when SSE was asked for), gRPC RESOURCE_EXHAUSTED (typed)
 * or `<|err|>` (legacy), a WebSocket `<|err|>` or JSON error with code
 * resource_exhausted; nothing is stored and other tokens are not affected.
 */

import assert from "node:assert/strict";
import { Code } from "../../lib/errors.ts";
import { askOver, PROTOCOLS } from "./_clients.ts";
import { startSecureServer } from "./_server.ts";

const RPM = 2;
const tokenOf = (name: string) => `tok-rpm-${name}`;
const TOKENS = [...PROTOCOLS, "v1-chat", "other"].map(tokenOf);

Deno.test("the request over RATE_LIMIT_RPM is refused on every protocol, and stores nothing", async () => {
  await using s = await startSecureServer({
    env: { AUTH_TOKENS: TOKENS.join(","), RATE_LIMIT_RPM: String(RPM) },
  });
  for (const protocol of PROTOCOLS) {
    const token = tokenOf(protocol);
    for (let i = 0; i < RPM; i++) {
      const r = await askOver(s.target, protocol, { token, prompt: `ok ${i}` });
      assert.ok(r.ok, `${protocol}: ${r.seen.join("\n")}`);
    }
    const stored = s.count("user");
    const upstream = s.fake.requests.length;
    const r = await askOver(s.target, protocol, { token, prompt: "one too many" });
    const why = `${protocol}: ${r.seen.join("\n")}`;
    assert.equal(r.ok, false, why);
    assert.match(
      r.message ?? "",
      /^Cannot accept the request: more than 2 requests per minute/,
      why,
    );
    if (protocol.startsWith("http") || protocol === "v1-responses") {
      assert.equal(r.status, 429, why);
      const retryAfter = Number(/\nretry-after: (\d+)/.exec(r.seen[0])?.[1]);
      assert.ok(retryAfter >= 1 && retryAfter <= 60, why);
      assert.doesNotMatch(r.seen[0], /text\/event-stream/, why);
    }
    if (protocol === "grpc-typed") assert.equal(r.status, Code.ResourceExhausted, why);
    if (protocol === "ws-json") assert.equal(r.code, "rate_limited", why);
    if (protocol === "ws-json") assert.match(r.seen.at(-1)!, /"code":"resource_exhausted"/, why);
    assert.equal(s.count("user"), stored, `${protocol} stored a refused prompt`);
    assert.equal(s.fake.requests.length, upstream, `${protocol} called the upstream`);
  }
  // The OpenAI-compatible pass-through counts too.
  const chat = (token: string) =>
    fetch(`${s.target.httpUrl}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ messages: [{ role: "user", content: "hi" }] }),
    });
  for (let i = 0; i < RPM; i++) {
    const ok = await chat(tokenOf("v1-chat"));
    assert.equal(ok.status, 200);
    await ok.body?.cancel();
  }
  const refused = await chat(tokenOf("v1-chat"));
  assert.equal(refused.status, 429);
  assert.ok(Number(refused.headers.get("retry-after")) >= 1);
  assert.equal((await refused.json()).error.type, "rate_limit_error");
  // Another token still gets in.
  const other = await askOver(s.target, "http-json", { token: tokenOf("other"), prompt: "me" });
  assert.ok(other.ok);
});
