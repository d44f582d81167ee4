import * as grpc from "@grpc/grpc-js";
import assert from "node:assert/strict";
import { EchoProvider } from "../../lib/providers/echo/client.ts";
import {
  bearer,
  collect,
  type ServiceClient,
  startGrpc,
  type StreamResult,
  unary,
} from "./grpc_client.ts";

interface TypedEvent {
  event: "start" | "delta" | "done";
  start: Record<string, string>;
  delta: { text: string };
  done: Record<string, unknown>;
}

interface LegacyResponse {
  response: string;
}

/** Asks over the legacy service and splits the answer into text and ids. */
async function legacyAsk(
  client: ServiceClient,
  prompt: string,
  conversationId = "",
  parentId = "",
): Promise<{ text: string; conversationId: string; parentId: string; raw: string[] }> {
  const result: StreamResult<LegacyResponse> = await collect(
    client.Ask({ prompt, conversationId, parentId }),
  );
  assert.equal(result.error, null);
  const raw = result.messages.map((m) => m.response);
  const last = raw.at(-1) ?? "";
  const m = /^<\|end\|>\$([^$]+)\$([^$]+)$/.exec(last);
  assert.ok(m, `last message is the end marker, got ${JSON.stringify(last)}`);
  return { text: raw.slice(0, -1).join(""), conversationId: m[1], parentId: m[2], raw };
}

Deno.test("legacy Ask streams pieces then the end marker when the conversation is new", async () => {
  await using srv = await startGrpc();
  const client = srv.legacy();
  const a = await legacyAsk(client, "hello there", "new");
  assert.ok(a.raw.length > 3, "the reply comes in several pieces");
  assert.match(a.text, /I received 1 message \(user\): you said "hello there"/);
  const stored = await srv.store.getMessage(a.parentId);
  assert.equal(stored?.role, "assistant");
  assert.equal(stored?.status, "complete");
  assert.equal(stored?.content, a.text);
});

Deno.test("legacy Ask continues, follows the latest message and branches when given ids", async () => {
  await using srv = await startGrpc();
  const client = srv.legacy();
  const first = await legacyAsk(client, "one");
  const second = await legacyAsk(client, "two", first.conversationId, first.parentId);
  assert.equal(second.conversationId, first.conversationId);
  assert.match(second.text, /I received 3 messages \(user, assistant, user\): you said "two"/);
  const third = await legacyAsk(client, "three", second.conversationId, "");
  assert.match(third.text, /I received 5 messages/);
  const branch = await legacyAsk(client, "again", first.conversationId, first.parentId);
  assert.match(branch.text, /I received 3 messages .*you said "again"/);
  const path = await srv.store.path(branch.parentId);
  assert.deepEqual(
    path.map((m) => m.content.slice(0, 5)),
    ["one", first.text.slice(0, 5), "again"]
      .concat(branch.text.slice(0, 5)),
  );
});

Deno.test("legacy Ask sends one err frame and ends OK when the conversation is unknown", async () => {
  await using srv = await startGrpc();
  const result: StreamResult<LegacyResponse> = await collect(
    srv.legacy().Ask({ prompt: "hi", conversationId: "no-such-conversation", parentId: "" }),
  );
  assert.equal(result.error, null);
  assert.equal(result.messages.length, 1);
  assert.match(result.messages[0].response, /^<\|err\|>\$Cannot .+/);
});

Deno.test("typed Ask streams start, deltas and done with ids, model and usage", async () => {
  await using srv = await startGrpc();
  const client = srv.typed();
  const r = await collect<TypedEvent>(client.Ask({ prompt: "hi" }));
  assert.equal(r.error, null);
  const kinds = r.messages.map((m) => m.event);
  assert.equal(kinds[0], "start");
  assert.equal(kinds.at(-1), "done");
  assert.ok(kinds.slice(1, -1).every((k) => k === "delta") && kinds.length > 3);
  const start = r.messages[0].start;
  const done = r.messages.at(-1)!.done;
  assert.equal(done.conversationId, start.conversationId);
  assert.equal(done.messageId, start.messageId);
  assert.equal(done.model, "echo");
  assert.equal(done.finishReason, "stop");
  const usage = done.usage as Record<string, number>;
  assert.ok(
    usage.totalTokens > 0 && usage.totalTokens === usage.promptTokens + usage.completionTokens,
  );
  const text = r.messages.slice(1, -1).map((m) => m.delta.text).join("");
  const again = await collect<TypedEvent>(
    client.Ask({ prompt: "more", conversationId: done.conversationId, parentId: done.messageId }),
  );
  assert.equal(again.error, null);
  assert.match(
    again.messages.slice(1, -1).map((m) => m.delta.text).join(""),
    /I received 3 messages/,
  );
  assert.match(text, /you said "hi"/);
});

Deno.test("typed Ask fails with NOT_FOUND when the conversation or parent is unknown", async () => {
  await using srv = await startGrpc();
  const client = srv.typed();
  const r = await collect(client.Ask({ prompt: "hi", conversationId: "nope" }));
  assert.equal(r.error?.code, grpc.status.NOT_FOUND);
  assert.match(r.error?.details ?? "", /^Cannot /);
  assert.equal(r.messages.length, 0);
  const ok = await collect<TypedEvent>(client.Ask({ prompt: "hi" }));
  const conv = ok.messages[0].start.conversationId;
  const bad = await collect(client.Ask({ prompt: "x", conversationId: conv, parentId: "nope" }));
  assert.equal(bad.error?.code, grpc.status.NOT_FOUND);
});

Deno.test("typed Ask fails with INVALID_ARGUMENT when the prompt is empty", async () => {
  await using srv = await startGrpc();
  const r = await collect(srv.typed().Ask({ prompt: "" }));
  assert.equal(r.error?.code, grpc.status.INVALID_ARGUMENT);
  assert.match(r.error?.details ?? "", /^Cannot /);
});

Deno.test("conversation calls list, read the tree and path, rename and delete", async () => {
  await using srv = await startGrpc();
  const client = srv.typed();
  const legacy = srv.legacy();
  const first = await legacyAsk(legacy, "root question");
  await legacyAsk(legacy, "follow up", first.conversationId, first.parentId);
  const branch = await legacyAsk(legacy, "other way", first.conversationId, first.parentId);
  const id = first.conversationId;

  const list = await unary<{ conversations: Record<string, unknown>[] }>(
    client,
    "ListConversations",
    {},
  );
  assert.equal(list.error, null);
  assert.deepEqual(list.value?.conversations.map((c) => c.id), [id]);
  assert.equal(list.value?.conversations[0].currentNode, branch.parentId);
  assert.equal(typeof list.value?.conversations[0].createdAt, "number");

  const tree = await unary<{ messages: Record<string, unknown>[] }>(
    client,
    "GetConversation",
    { conversationId: id },
  );
  assert.equal(tree.error, null);
  assert.equal(tree.value?.messages.length, 6);
  const answer = tree.value!.messages.find((m) => m.id === first.parentId)!;
  assert.equal((answer.children as string[]).length, 2, "the first answer has two branches");

  const path = await unary<{ messages: Record<string, unknown>[] }>(client, "GetMessages", {
    conversationId: id,
    messageId: first.parentId,
  });
  assert.deepEqual(path.value?.messages.map((m) => m.role), ["user", "assistant"]);
  const latest = await unary<{ messages: Record<string, unknown>[] }>(client, "GetMessages", {
    conversationId: id,
  });
  assert.equal(latest.value?.messages.at(-1)?.id, branch.parentId);

  const renamed = await unary<Record<string, unknown>>(client, "RenameConversation", {
    conversationId: id,
    title: "Renamed",
  });
  assert.equal(renamed.value?.title, "Renamed");

  const deleted = await unary(client, "DeleteConversation", { conversationId: id });
  assert.equal(deleted.error, null);
  const gone = await unary(client, "GetConversation", { conversationId: id });
  assert.equal(gone.error?.code, grpc.status.NOT_FOUND);
  for (const method of ["GetConversation", "GetMessages", "RenameConversation"]) {
    const missing = await unary(client, method, { conversationId: " ", title: "t" });
    assert.equal(missing.error?.code, grpc.status.INVALID_ARGUMENT, method);
    assert.equal(missing.error?.details, "Cannot read the request: conversation_id is empty");
  }
});

Deno.test("every call demands a bearer token when AUTH_TOKENS is set, except health", async () => {
  await using srv = await startGrpc({ env: { AUTH_TOKENS: "tok-a,tok-b" } });
  const typed = srv.typed();
  const none = await collect(typed.Ask({ prompt: "hi" }));
  assert.equal(none.error?.code, grpc.status.UNAUTHENTICATED);
  const wrong = await collect(typed.Ask({ prompt: "hi" }, bearer("tok-x")));
  assert.equal(wrong.error?.code, grpc.status.UNAUTHENTICATED);
  const legacy = await collect(srv.legacy().Ask({ prompt: "hi" }));
  assert.equal(legacy.error?.code, grpc.status.UNAUTHENTICATED);
  const list = await unary(typed, "ListConversations", {});
  assert.equal(list.error?.code, grpc.status.UNAUTHENTICATED);

  const ok = await collect<TypedEvent>(
    typed.Ask({ prompt: "hi" }, bearer("tok-a")),
  );
  assert.equal(ok.error, null);
  const mine = await unary<{ conversations: unknown[] }>(
    typed,
    "ListConversations",
    {},
    bearer("tok-a"),
  );
  assert.equal(mine.value?.conversations.length, 1);
  const theirs = await unary<{ conversations: unknown[] }>(
    typed,
    "ListConversations",
    {},
    bearer("tok-b"),
  );
  assert.equal(theirs.value?.conversations.length, 0, "a token sees only its own conversations");
  const other = await collect(typed.Ask(
    { prompt: "x", conversationId: ok.messages[0].start.conversationId },
    bearer("tok-b"),
  ));
  assert.equal(other.error?.code, grpc.status.NOT_FOUND);

  const health = await unary<{ status: string }>(srv.health(), "Check", { service: "" });
  assert.equal(health.value?.status, "SERVING");
});

/** Watches a service's health, recording each status until the watch ends. */
function watchStatuses(
  health: ServiceClient,
  service: string,
): { seen: string[]; ended: Promise<void>; over: boolean } {
  const call = health.Watch({ service });
  const watch = { seen: [] as string[], ended: Promise.resolve(), over: false };
  watch.ended = new Promise<void>((resolve) => {
    const end = () => {
      watch.over = true;
      resolve();
    };
    call.on("data", (m: { status: string }) => watch.seen.push(m.status));
    call.on("end", end);
    call.on("error", end);
  });
  return watch;
}

Deno.test("health reports SERVING, then NOT_SERVING once shutdown starts, and keeps unknown watches open", async () => {
  await using srv = await startGrpc({ provider: new EchoProvider() });
  const health = srv.health();
  for (const service of ["", "chat.Chat", "easybackend.v1.Chat"]) {
    const r = await unary<{ status: string }>(health, "Check", { service });
    assert.equal(r.value?.status, "SERVING", service);
  }
  const unknown = await unary(health, "Check", { service: "no.Such" });
  assert.equal(unknown.error?.code, grpc.status.NOT_FOUND);
  assert.equal(
    unknown.error?.details,
    "Cannot check the health of no.Such: the service is unknown",
  );
  const watch = watchStatuses(health, "");
  const watchUnknown = watchStatuses(health, "no.Such");
  while (watch.seen.length === 0 || watchUnknown.seen.length === 0) {
    await new Promise((r) => setTimeout(r, 10));
  }
  // A watch of an unknown service stays open until the server stops serving.
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(watchUnknown.over, false);
  srv.shutdown.abort();
  await Promise.all([watch.ended, watchUnknown.ended]);
  assert.deepEqual(watch.seen, ["SERVING", "NOT_SERVING"]);
  assert.deepEqual(watchUnknown.seen, ["SERVICE_UNKNOWN"]);
  const after = await unary<{ status: string }>(health, "Check", { service: "" });
  assert.equal(after.value?.status, "NOT_SERVING");
  const refused = await collect(srv.typed().Ask({ prompt: "hi" }));
  assert.equal(refused.error?.code, grpc.status.UNAVAILABLE);
});
