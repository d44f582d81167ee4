/**
 * The cross-protocol contract (issue 3): one conversation lives on the server,
 * whatever protocol each turn arrives on. `main.ts` runs as a child process
 * against the fake OpenAI upstream; the conversation starts over HTTP `/ask`,
 * continues over the legacy and the typed gRPC services with the returned
 * ids, branches from the first answer over both WebSocket protocols, and goes
 * on through the Responses API with `previous_response_id`. The fake's record
 * proves that every step sent the upstream exactly the path root → parent →
 * new prompt (roles and contents in order), and the stored tree holds every
 * branch.
 */

import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { heardReply, type OpenAIFake, startOpenAIFake } from "../_fakes/openai_upstream.ts";
import { type ServerProcess, startServer } from "../_helpers/server_process.ts";
import { clientConstructors, collect } from "../transports/grpc_client.ts";
import { QueueClient } from "../transports/ws_client.ts";

const SYSTEM = { role: "system", content: "You answer briefly." };

interface Sent {
  role: string;
  content: string;
}

function user(content: string): Sent {
  return { role: "user", content };
}

function assistant(content: string): Sent {
  return { role: "assistant", content };
}

/** The messages of the upstream call number `n` (1-based), roles and contents only. */
function upstreamContext(fake: OpenAIFake, n: number): Sent[] {
  const calls = fake.requests.filter((r) => r.path === "/v1/chat/completions");
  assert.equal(calls.length, n, `upstream calls after step ${n}`);
  const body = calls[n - 1].body as { messages: Sent[] };
  return body.messages.map((m) => ({ role: m.role, content: m.content }));
}

/** The reply the fake gives to a context: proves the text came back whole. */
function heard(context: Sent[]): string {
  return heardReply(context as unknown as Record<string, unknown>[]);
}

async function askHttp(server: ServerProcess, prompt: string) {
  const res = await fetch(`${server.httpUrl}/ask/new`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ prompt, parent_id: null }),
  });
  assert.equal(res.status, 200);
  return await res.json() as { message: string; conversation_id: string; parent_id: string };
}

async function askGrpcLegacy(server: ServerProcess, request: Record<string, string>) {
  const { legacy } = clientConstructors();
  const client = new legacy(`127.0.0.1:${server.grpcPort}`, grpc.credentials.createInsecure());
  try {
    const r = await collect<{ response: string }>(client.Ask(request));
    assert.equal(r.error, null);
    const pieces = r.messages.map((m) => m.response);
    const end = pieces.pop()!;
    assert.match(end, /^<\|end\|>\$/);
    const [, conversationId, parentId] = end.split("$");
    return { text: pieces.join(""), conversationId, parentId };
  } finally {
    client.close();
  }
}

interface TypedEvent {
  event: "start" | "delta" | "done";
  start?: { conversationId: string; messageId: string };
  delta?: { text: string };
  done?: { conversationId: string; messageId: string; finishReason: string };
}

async function askGrpcTyped(server: ServerProcess, request: Record<string, string>) {
  const { typed } = clientConstructors();
  const client = new typed(`127.0.0.1:${server.grpcPort}`, grpc.credentials.createInsecure());
  try {
    const r = await collect<TypedEvent>(client.Ask(request));
    assert.equal(r.error, null);
    const text = r.messages.filter((m) => m.event === "delta").map((m) => m.delta!.text).join("");
    const done = r.messages.at(-1)!;
    assert.equal(done.event, "done");
    assert.equal(done.done!.finishReason, "stop");
    return { text, conversationId: done.done!.conversationId, parentId: done.done!.messageId };
  } finally {
    client.close();
  }
}

interface ResponseObject {
  id: string;
  status: string;
  "previous_response_id": string | null;
  conversation: { id: string } | null;
  output: { content: { text: string }[] }[];
}

async function askResponses(server: ServerProcess, input: string, previous: string) {
  const res = await fetch(`${server.httpUrl}/v1/responses`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "gpt-4o-mini", input, previous_response_id: previous }),
  });
  assert.equal(res.status, 200);
  const body = await res.json() as ResponseObject;
  assert.equal(body.status, "completed");
  return { ...body, text: body.output[0].content.map((c) => c.text).join("") };
}

Deno.test("one conversation continues and branches across HTTP, gRPC, WebSocket and the Responses API with exact upstream context", async () => {
  const fake = await startOpenAIFake();
  const server = await startServer({
    env: {
      API_KEY: "sk-contract-0123456789",
      PROVIDER: "openai",
      API_BASE_URL: fake.url,
      SYSTEM_PROMPT: SYSTEM.content,
    },
  });
  const socket = new QueueClient(`ws://127.0.0.1:${server.wsPort}/`);
  try {
    // 1. HTTP starts it.
    const u1 = user("Where does the Rhine rise?");
    const r1 = await askHttp(server, u1.content);
    assert.deepEqual(upstreamContext(fake, 1), [SYSTEM, u1]);
    assert.equal(r1.message, heard([SYSTEM, u1]));
    const conv = r1.conversation_id;
    const a1 = assistant(r1.message);

    // 2. Legacy gRPC continues with the ids /ask returned.
    const u2 = user("And where does it end?");
    const r2 = await askGrpcLegacy(server, {
      prompt: u2.content,
      conversationId: conv,
      parentId: r1.parent_id,
    });
    assert.deepEqual(upstreamContext(fake, 2), [SYSTEM, u1, a1, u2]);
    assert.equal(r2.text, heard([SYSTEM, u1, a1, u2]));
    assert.equal(r2.conversationId, conv);
    const a2 = assistant(r2.text);

    // 3. Typed gRPC continues from the legacy answer.
    const u3 = user("How long is it?");
    const r3 = await askGrpcTyped(server, {
      prompt: u3.content,
      conversationId: conv,
      parentId: r2.parentId,
    });
    assert.deepEqual(upstreamContext(fake, 3), [SYSTEM, u1, a1, u2, a2, u3]);
    assert.equal(r3.text, heard([SYSTEM, u1, a1, u2, a2, u3]));
    assert.equal(r3.conversationId, conv);

    // 4. Legacy WebSocket branches from the first answer; `$` stays in the prompt.
    await socket.opened;
    const u4 = user("Rather: which $ countries does it cross?");
    socket.send(`<|ask|>$${conv}$${r1.parent_id}$${u4.content}`);
    const r4 = await socket.legacyAnswer();
    assert.deepEqual(upstreamContext(fake, 4), [SYSTEM, u1, a1, u4]);
    assert.equal(r4.text, heard([SYSTEM, u1, a1, u4]));
    const [, conv4, parent4] = r4.last.split("$");
    assert.equal(conv4, conv);
    const a4 = assistant(r4.text);

    // 5. JSON WebSocket frames branch from the first answer again, on the same socket.
    const u5 = user("Or: is it navigable?");
    socket.send({
      type: "ask",
      id: "b5",
      prompt: u5.content,
      conversation_id: conv,
      parent_id: r1.parent_id,
    });
    const r5 = await socket.jsonAnswer("b5");
    assert.equal(r5.last.type, "done");
    assert.deepEqual(upstreamContext(fake, 5), [SYSTEM, u1, a1, u5]);
    assert.equal(r5.text, heard([SYSTEM, u1, a1, u5]));
    assert.equal(r5.last.conversation_id, conv);

    // 6. The Responses API continues the legacy WebSocket branch: a parent id is a response id.
    const u6 = user("Name the biggest city on it.");
    const r6 = await askResponses(server, u6.content, parent4);
    assert.deepEqual(upstreamContext(fake, 6), [SYSTEM, u1, a1, u4, a4, u6]);
    assert.equal(r6.text, heard([SYSTEM, u1, a1, u4, a4, u6]));
    assert.equal(r6.previous_response_id, parent4);
    assert.equal(r6.conversation?.id, conv);

    // The stored tree holds every turn: three branches under the first answer.
    const res = await fetch(`${server.httpUrl}/conversations/${conv}`);
    assert.equal(res.status, 200);
    const tree = await res.json() as {
      mapping: Record<string, { parent: string | null; children: string[] }>;
      current_node: string;
    };
    const under = (id: string) => tree.mapping[id].children.map((c) => tree.mapping[c].children);
    assert.equal(tree.mapping[r1.parent_id].children.length, 3);
    assert.deepEqual(under(r1.parent_id).map((c) => c.length), [1, 1, 1]);
    assert.ok(tree.mapping[r3.parentId], "typed gRPC answer stored");
    assert.ok(tree.mapping[r5.last.parent_id as string], "JSON WebSocket answer stored");
    assert.equal(tree.mapping[tree.mapping[r6.id].parent!].parent, parent4);
    assert.equal(tree.current_node, r6.id);
    assert.ok(fake.requests.every((r) => r.key === "sk-contract-0123456789"));
  } finally {
    await socket.close();
    assert.equal(await server.stop(), 0);
    await fake.close();
  }
});
