/**
 * With AUTH_TOKENS set, `main.ts` gives an unauthenticated or foreign-token
 * client nothing on any protocol: asks are refused (401 / UNAUTHENTICATED),
 * another token's conversations are NOT FOUND (never forbidden), and nothing
 * is stored for a refused ask. `/healthz`, `/metrics` and `/docs` stay open.
 */

import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { Code } from "../../lib/errors.ts";
import { bearer, clientConstructors, unary } from "../transports/grpc_client.ts";
import { askOver, type AskProtocol, type AskResult, PROTOCOLS } from "./_clients.ts";
import { startSecureServer } from "./_server.ts";

const ALPHA = "tok-alpha-0123456789";
const BETA = "tok-beta-9876543210";

function assertUnauthenticated(protocol: AskProtocol, r: AskResult): void {
  assert.equal(r.ok, false, `${protocol}: ${r.seen.join("\n")}`);
  assert.equal(r.text, "");
  if (protocol.startsWith("grpc")) assert.equal(r.status, Code.Unauthenticated);
  else assert.equal(r.status, 401, `${protocol}: ${r.seen.join("\n")}`);
}

function assertNotFound(protocol: AskProtocol, r: AskResult): void {
  const why = `${protocol}: ${r.seen.join("\n")}`;
  assert.equal(r.ok, false, why);
  assert.equal(r.text, "", why);
  assert.match(r.message ?? "", /^Cannot find /, why);
  assert.doesNotMatch(r.message ?? "", /forbidden|permission|owner/i, why);
  if (protocol.startsWith("http") || protocol === "v1-responses") assert.equal(r.status, 404, why);
  if (protocol === "grpc-typed") assert.equal(r.status, Code.NotFound, why);
  if (protocol === "ws-json") assert.equal(r.code, "not_found", why);
}

Deno.test("every protocol refuses an ask without a token or with a wrong one, storing nothing", async () => {
  await using s = await startSecureServer({ env: { AUTH_TOKENS: `${ALPHA},${BETA}` } });
  for (const protocol of PROTOCOLS) {
    for (const token of [null, "tok-wrong", `${ALPHA}x`, ALPHA.slice(0, -1)]) {
      const r = await askOver(s.target, protocol, { token, prompt: "let me in" });
      assertUnauthenticated(protocol, r);
    }
  }
  assert.equal(s.count("user"), 0);
  assert.equal(s.fake.requests.length, 0);
});

Deno.test("a token cannot continue, branch from or read another token's conversation on any protocol", async () => {
  await using s = await startSecureServer({ env: { AUTH_TOKENS: `${ALPHA},${BETA}` } });
  for (const protocol of PROTOCOLS) {
    const mine = await askOver(s.target, protocol, {
      token: ALPHA,
      prompt: `mine over ${protocol}`,
    });
    assert.ok(mine.ok, `${protocol}: ${mine.seen.join("\n")}`);
    const before = s.count("user");
    const requestsBefore = s.fake.requests.length;
    // Continue (conversation id), branch (conversation + parent), and parent alone.
    const attempts = protocol === "v1-responses" ? [{ parentId: mine.parentId }] : [
      { conversationId: mine.conversationId },
      { conversationId: mine.conversationId, parentId: mine.parentId },
    ];
    for (const ids of attempts) {
      const r = await askOver(s.target, protocol, { token: BETA, prompt: "steal", ...ids });
      assertNotFound(protocol, r);
    }
    assert.equal(s.count("user"), before, `${protocol} stored a refused prompt`);
    assert.equal(s.fake.requests.length, requestsBefore);
    const again = await askOver(s.target, protocol, {
      token: ALPHA,
      prompt: "still mine",
      conversationId: protocol === "v1-responses" ? null : mine.conversationId,
      parentId: mine.parentId,
    });
    assert.ok(again.ok, `${protocol}: ${again.seen.join("\n")}`);
    assert.equal(again.conversationId, mine.conversationId);
  }
  const owners = s.query("SELECT DISTINCT owner FROM conversations");
  assert.equal(owners.length, 1);
  assert.match(String(owners[0].owner), /^tok_[0-9a-f]{32}$/);
  assert.ok(!String(owners[0].owner).includes(ALPHA));
});

Deno.test("the conversation routes answer another token NOT FOUND over HTTP and typed gRPC", async () => {
  await using s = await startSecureServer({ env: { AUTH_TOKENS: `${ALPHA},${BETA}` } });
  const mine = await askOver(s.target, "http-json", { token: ALPHA, prompt: "private" });
  assert.ok(mine.ok);
  const id = mine.conversationId!;
  const http = (method: string, path: string, token: string | null, body?: unknown) =>
    fetch(`${s.target.httpUrl}${path}`, {
      method,
      headers: token ? { authorization: `Bearer ${token}` } : {},
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const calls: [string, string, unknown?][] = [
    ["GET", `/conversations/${id}`],
    ["GET", `/conversations/${id}/messages`],
    ["GET", `/conversations/${id}/messages?parent_id=${mine.parentId}`],
    ["PATCH", `/conversations/${id}`, { title: "mine now" }],
    ["DELETE", `/conversations/${id}`],
    ["GET", `/v1/responses/${mine.parentId}`],
  ];
  for (const [method, path, body] of calls) {
    const foreign = await http(method, path, BETA, body);
    assert.equal(foreign.status, 404, `${method} ${path}`);
    assert.doesNotMatch(await foreign.text(), /private/);
    const anonymous = await http(method, path, null, body);
    assert.equal(anonymous.status, 401, `${method} ${path}`);
    assert.equal(anonymous.headers.get("www-authenticate"), "Bearer");
    await anonymous.body?.cancel();
  }
  const list = await http("GET", "/conversations", BETA);
  assert.deepEqual((await list.json()).conversations ?? [], []);

  const client = new (clientConstructors().typed)(
    s.target.grpcAddress,
    grpc.credentials.createInsecure(),
  );
  try {
    const grpcCalls: [string, Record<string, unknown>][] = [
      ["GetConversation", { conversationId: id }],
      ["GetMessages", { conversationId: id, messageId: mine.parentId }],
      ["RenameConversation", { conversationId: id, title: "mine now" }],
      ["DeleteConversation", { conversationId: id }],
    ];
    for (const [method, req] of grpcCalls) {
      assert.equal(
        (await unary(client, method, req, bearer(BETA))).error?.code,
        Code.NotFound,
        method,
      );
      assert.equal((await unary(client, method, req)).error?.code, Code.Unauthenticated, method);
    }
    const listed = await unary<{ conversations: unknown[] }>(
      client,
      "ListConversations",
      {},
      bearer(BETA),
    );
    assert.deepEqual(listed.value?.conversations, []);
  } finally {
    client.close();
  }
  // Still there, untouched, for its owner.
  const own = await http("GET", `/conversations/${id}`, ALPHA);
  assert.equal(own.status, 200);
  assert.equal((await own.json()).title, "private");
});

Deno.test("healthz, metrics and the docs page stay open when AUTH_TOKENS is set", async () => {
  await using s = await startSecureServer({ env: { AUTH_TOKENS: ALPHA } });
  const health = await fetch(`${s.target.httpUrl}/healthz`);
  assert.equal(health.status, 200);
  await health.body?.cancel();
  const metrics = await fetch(`${s.target.httpUrl}/metrics`);
  assert.equal(metrics.status, 200);
  assert.ok(!(await metrics.text()).includes(ALPHA));
  const docs = await fetch(`${s.target.httpUrl}/docs`);
  assert.equal(docs.status, 200);
  assert.match(await docs.text(), /<input id="token"/);
  const list = await fetch(`${s.target.httpUrl}/conversations`);
  assert.equal(list.status, 401);
  await list.body?.cancel();
});
