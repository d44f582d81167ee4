/**
 * Concurrent answers per token (MAX_STREAMS_PER_TOKEN) and in total
 * (MAX_STREAMS) on every protocol of `main.ts`: while answers stall upstream,
 * one more is refused with the wire's rate-limit error, nothing is stored for
 * it, and the slot frees as soon as a held answer ends.
 */

import assert from "node:assert/strict";
import { Code } from "../../lib/errors.ts";
import { parseSSE } from "../../lib/sse/parse.ts";
import { chunk, sse } from "../_fakes/openai_upstream.ts";
import { askOver, type AskProtocol, type AskResult, PROTOCOLS } from "./_clients.ts";
import { type SecureServer, startSecureServer } from "./_server.ts";

const A = "tok-streams-a";
const B = "tok-streams-b";
const C = "tok-streams-c";

/** An SSE answer held open by a stalled upstream, until `release`. */
async function holdAnswer(s: SecureServer, token: string): Promise<{ release(): Promise<void> }> {
  s.fake.next({
    steps: [sse(chunk({ role: "assistant", content: "" })), sse(chunk({ content: "held" }))],
    stall: true,
  });
  const ac = new AbortController();
  const res = await fetch(`${s.target.httpUrl}/ask/new`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, accept: "text/event-stream" },
    body: JSON.stringify({ prompt: "hold this" }),
    signal: ac.signal,
  });
  assert.equal(res.status, 200);
  const events = parseSSE(res.body!)[Symbol.asyncIterator]();
  assert.equal((await events.next()).value?.event, "delta");
  return {
    async release() {
      ac.abort();
      await events.return?.(undefined).catch(() => {});
    },
  };
}

function assertRefused(protocol: AskProtocol, r: AskResult, message: RegExp): void {
  const why = `${protocol}: ${r.seen.join("\n")}`;
  assert.equal(r.ok, false, why);
  assert.match(r.message ?? "", message, why);
  if (protocol.startsWith("http") || protocol === "v1-responses") {
    assert.equal(r.status, 429, why);
    assert.match(r.seen[0], /\nretry-after: 1\n/, why);
  }
  if (protocol === "grpc-typed") assert.equal(r.status, Code.ResourceExhausted, why);
  if (protocol === "ws-json") assert.equal(r.code, "rate_limited", why);
}

/** The status of a `/v1/chat/completions` pass-through call (its body is read to the end). */
async function passThroughStatus(s: SecureServer, token: string): Promise<number> {
  const res = await fetch(`${s.target.httpUrl}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ messages: [{ role: "user", content: "hi" }], stream: true }),
  });
  await res.text();
  return res.status;
}

/** Asks until the server admits again (the held answer's slot is freed a moment after it ends). */
async function admittedSoon(s: SecureServer, token: string): Promise<void> {
  for (let i = 0; i < 50; i++) {
    const r = await askOver(s.target, "http-json", { token, prompt: "after" });
    if (r.ok) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.fail("the slot of the held answer was never freed");
}

Deno.test("an answer over MAX_STREAMS_PER_TOKEN or MAX_STREAMS is refused on every protocol", async () => {
  await using s = await startSecureServer({
    env: { AUTH_TOKENS: `${A},${B},${C}`, MAX_STREAMS_PER_TOKEN: "1", MAX_STREAMS: "2" },
  });
  const heldA = await holdAnswer(s, A);
  const perToken = /^Cannot start the answer: 1 answers of this token are already streaming/;
  for (const protocol of PROTOCOLS) {
    const stored = s.count("user");
    assertRefused(
      protocol,
      await askOver(s.target, protocol, { token: A, prompt: "2nd" }),
      perToken,
    );
    assert.equal(s.count("user"), stored, `${protocol} stored a refused prompt`);
  }
  assert.equal(await passThroughStatus(s, A), 429);
  // Another token still gets an answer while A is held: the limit is per token.
  assert.ok((await askOver(s.target, "ws-json", { token: B, prompt: "mine" })).ok);

  const heldB = await holdAnswer(s, B);
  const total = /^Cannot start the answer: the server is at its stream limit/;
  for (const protocol of PROTOCOLS) {
    const stored = s.count("user");
    assertRefused(protocol, await askOver(s.target, protocol, { token: C, prompt: "3rd" }), total);
    assert.equal(s.count("user"), stored, `${protocol} stored a refused prompt`);
  }
  assert.equal(await passThroughStatus(s, C), 429);
  await heldB.release();
  await admittedSoon(s, C);
  await heldA.release();
  await admittedSoon(s, A);
  // A finished pass-through stream frees its slot: two in a row with a limit of one.
  assert.equal(await passThroughStatus(s, A), 200);
  assert.equal(await passThroughStatus(s, A), 200);
  // The held answers were cut short and are stored incomplete; no refused prompt was stored.
  const statuses = s.query(
    "SELECT status FROM messages WHERE role = 'assistant' ORDER BY created_at",
  )
    .map((r) => r.status);
  assert.deepEqual(statuses.filter((x) => x === "incomplete").length, 2);
  assert.equal(s.count("user"), 5);
});
