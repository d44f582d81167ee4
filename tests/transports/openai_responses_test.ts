import assert from "node:assert/strict";
import OpenAI from "openai";
import { silentLogger } from "../../lib/log.ts";
import type { CallContext } from "../../lib/providers/provider.ts";
import { sentMessages, startStack, UPSTREAM_KEY } from "./openai_harness.ts";

function testCtx(): CallContext {
  return {
    signal: new AbortController().signal,
    requestId: "test",
    principal: "anonymous",
    logger: silentLogger,
  };
}

Deno.test("responses chain three turns and branch when previous_response_id names older ones", async () => {
  const stack = await startStack({ provider: "openai" });
  try {
    const { client } = stack;
    const fake = stack.fake!;
    const r1 = await client.responses.create({ model: "gpt-4o-mini", input: "first" });
    assert.equal(r1.object, "response");
    assert.equal(r1.status, "completed");
    assert.equal(r1.output_text, "Heard 1 messages: user: first");
    assert.equal(r1.previous_response_id, null);
    const conversationId = (r1 as unknown as { conversation: { id: string } }).conversation.id;
    assert.ok(conversationId);

    const r2 = await client.responses.create({
      model: "gpt-4o-mini",
      input: "second",
      previous_response_id: r1.id,
    });
    assert.equal(r2.previous_response_id, r1.id);
    assert.equal(
      (r2 as unknown as { conversation: { id: string } }).conversation.id,
      conversationId,
    );
    const r3 = await client.responses.create({
      model: "gpt-4o-mini",
      input: [{ role: "user", content: [{ type: "input_text", text: "third" }] }],
      previous_response_id: r2.id,
    });
    assert.equal(r3.status, "completed");
    assert.deepEqual(sentMessages(fake, 2), [
      { role: "user", content: "first" },
      { role: "assistant", content: "Heard 1 messages: user: first" },
      { role: "user", content: "second" },
      { role: "assistant", content: r2.output_text },
      { role: "user", content: "third" },
    ]);

    // A branch from the first response: the second and third turns are not sent.
    const branch = await client.responses.create({
      model: "gpt-4o-mini",
      input: "another second",
      previous_response_id: r1.id,
    });
    assert.deepEqual(sentMessages(fake, 3), [
      { role: "user", content: "first" },
      { role: "assistant", content: "Heard 1 messages: user: first" },
      { role: "user", content: "another second" },
    ]);
    assert.equal(
      branch.output_text,
      "Heard 3 messages: user: first | assistant: Heard 1 messages: user: first | user: another second",
    );
    assert.ok(fake.requests.every((r) => r.key === UPSTREAM_KEY));

    // Each response is a message of one tree: the ids are the tree's message ids.
    const tree = await stack.engine.getConversation(conversationId, testCtx());
    const ids = new Set(tree.messages.map((m) => m.id));
    for (const r of [r1, r2, r3, branch]) assert.ok(ids.has(r.id));
    const byId = new Map(tree.messages.map((m) => [m.id, m]));
    const parentOfBranchQuestion = byId.get(byId.get(branch.id)!.parentId!)!.parentId;
    assert.equal(parentOfBranchQuestion, r1.id);
  } finally {
    await stack.close();
  }
});

Deno.test("responses use instructions for one call only when continuing", async () => {
  const stack = await startStack({ provider: "openai" });
  try {
    const { client } = stack;
    const fake = stack.fake!;
    const r1 = await client.responses.create({ input: "hi", instructions: "be terse" });
    assert.equal(r1.instructions, "be terse");
    assert.deepEqual(sentMessages(fake, 0), [
      { role: "system", content: "be terse" },
      { role: "user", content: "hi" },
    ]);
    await client.responses.create({
      input: "again",
      instructions: "be loud",
      previous_response_id: r1.id,
    });
    assert.deepEqual(sentMessages(fake, 1)[0], { role: "system", content: "be loud" });
    await client.responses.create({ input: "and again", previous_response_id: r1.id });
    assert.deepEqual(sentMessages(fake, 2)[0], { role: "system", content: "be terse" });
    // Developer messages in the input join the instructions.
    await client.responses.create({
      input: [{ role: "developer", content: "use French" }, { role: "user", content: "bonjour" }],
      instructions: "be terse",
    });
    assert.deepEqual(sentMessages(fake, 3), [
      { role: "system", content: "be terse\n\nuse French" },
      { role: "user", content: "bonjour" },
    ]);
  } finally {
    await stack.close();
  }
});

Deno.test("a stored response is returned by GET /v1/responses/{id} with its links", async () => {
  const stack = await startStack({ provider: "openai" });
  try {
    const { client } = stack;
    const r1 = await client.responses.create({ input: "one", instructions: "sys" });
    const r2 = await client.responses.create({ input: "two", previous_response_id: r1.id });
    const got = await client.responses.retrieve(r2.id);
    assert.equal(got.id, r2.id);
    assert.equal(got.status, "completed");
    assert.equal(got.output_text, r2.output_text);
    assert.equal(got.previous_response_id, r1.id);
    assert.equal(got.instructions, "sys");
    assert.equal(got.model, r2.model);
    assert.deepEqual(got.usage, r2.usage);
    assert.deepEqual(
      (got as unknown as { conversation: unknown }).conversation,
      (r2 as unknown as { conversation: unknown }).conversation,
    );
    const first = await client.responses.retrieve(r1.id);
    assert.equal(first.previous_response_id, null);
    await assert.rejects(client.responses.retrieve("no-such-id"), OpenAI.NotFoundError);
  } finally {
    await stack.close();
  }
});

Deno.test("a response has OpenAI's full shape when it is not streamed", async () => {
  const stack = await startStack();
  try {
    const res = await fetch(`${stack.baseURL}/responses`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ input: "shape please" }),
    });
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.object, "response");
    assert.equal(typeof body.created_at, "number");
    assert.equal(body.status, "completed");
    assert.equal(body.model, "echo");
    assert.equal(body.store, true);
    assert.equal(body.error, null);
    assert.equal(body.incomplete_details, null);
    assert.equal(body.previous_response_id, null);
    assert.equal(body.instructions, null);
    assert.equal(typeof body.conversation.id, "string");
    assert.equal(body.output.length, 1);
    const item = body.output[0];
    assert.equal(item.type, "message");
    assert.equal(item.status, "completed");
    assert.equal(item.role, "assistant");
    assert.equal(item.content[0].type, "output_text");
    assert.deepEqual(item.content[0].annotations, []);
    assert.match(item.content[0].text, /you said "shape please"/);
    const u = body.usage;
    assert.equal(u.total_tokens, u.input_tokens + u.output_tokens);
    assert.deepEqual(u.input_tokens_details, { cached_tokens: 0 });
    assert.deepEqual(u.output_tokens_details, { reasoning_tokens: 0 });
  } finally {
    await stack.close();
  }
});

Deno.test("responses stream OpenAI's event sequence through the SDK's stream helper", async () => {
  const stack = await startStack({ provider: "openai" });
  try {
    const r1 = await stack.client.responses.create({ input: "start" });
    const stream = stack.client.responses.stream({
      input: "stream this",
      previous_response_id: r1.id,
    });
    const types: string[] = [];
    const sequence: number[] = [];
    let deltas = "";
    for await (const event of stream) {
      types.push(event.type);
      sequence.push(event.sequence_number);
      if (event.type === "response.output_text.delta") deltas += event.delta;
    }
    const final = await stream.finalResponse();
    assert.equal(final.status, "completed");
    assert.equal(final.output_text, deltas);
    assert.equal(final.previous_response_id, r1.id);
    assert.match(deltas, /^Heard 3 messages: user: start \| .* \| user: stream this$/);
    assert.deepEqual(types.filter((t) => t !== "response.output_text.delta"), [
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.content_part.added",
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.completed",
    ]);
    assert.ok(types.filter((t) => t === "response.output_text.delta").length > 2);
    assert.deepEqual(sequence, sequence.map((_, i) => i));
    // The streamed response is stored like any other.
    const got = await stack.client.responses.retrieve(final.id);
    assert.equal(got.output_text, deltas);
  } finally {
    await stack.close();
  }
});

Deno.test("streamed response events carry both event and data lines", async () => {
  const stack = await startStack();
  try {
    const res = await fetch(`${stack.baseURL}/responses`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ input: "raw", stream: true }),
    });
    assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
    const events = (await res.text()).split("\n\n").filter((e) => e !== "");
    for (const event of events) {
      const [eventLine, dataLine] = event.split("\n");
      assert.ok(eventLine.startsWith("event: "));
      assert.equal(JSON.parse(dataLine.slice(6)).type, eventLine.slice(7));
    }
    assert.ok(!events.some((e) => e.includes("[DONE]")));
  } finally {
    await stack.close();
  }
});

Deno.test("a streamed response ends with response.failed when the upstream breaks mid-stream", async () => {
  const stack = await startStack({ provider: "openai" });
  try {
    stack.fake!.next({
      steps: [
        'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Hal"},"logprobs":null,"finish_reason":null}]}\n\n',
        'data: {"error":{"message":"boom","type":"server_error"}}\n\n',
      ],
    });
    const res = await fetch(`${stack.baseURL}/responses`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ input: "break", stream: true }),
    });
    const events = (await res.text()).split("\n\n").filter((e) => e !== "").map((e) =>
      JSON.parse(e.split("\n")[1].slice(6))
    );
    const last = events.at(-1);
    assert.equal(last.type, "response.failed");
    assert.equal(last.response.status, "failed");
    assert.equal(typeof last.response.error.code, "string");
    assert.ok(!last.response.error.message.includes("boom"));
    assert.ok(!events.some((e) => e.type === "response.completed"));
    // The partial reply is kept, marked incomplete.
    const got = await stack.client.responses.retrieve(last.response.id);
    assert.equal(got.status, "incomplete");
  } finally {
    await stack.close();
  }
});

Deno.test("responses refuse unsupported fields with a BadRequestError naming the field", async () => {
  const stack = await startStack();
  try {
    const { client } = stack;
    await assert.rejects(
      client.responses.create({
        input: "x",
        tools: [{ type: "function", name: "f", parameters: {}, strict: false }],
      }),
      (err: unknown) => err instanceof OpenAI.BadRequestError && err.param === "tools",
    );
    await assert.rejects(
      client.responses.create({ input: "x", background: true }),
      (err: unknown) => err instanceof OpenAI.BadRequestError && err.param === "background",
    );
    await assert.rejects(
      client.responses.create({
        input: [{
          role: "user",
          content: [{ type: "input_image", image_url: "https://x/y.png", detail: "auto" }],
        }],
      }),
      (err: unknown) =>
        err instanceof OpenAI.BadRequestError && err.param === "input[0].content[0].type",
    );
    await assert.rejects(
      client.responses.create({
        input: [{ role: "user", content: "a" }, { role: "assistant", content: "b" }, {
          role: "user",
          content: "c",
        }],
      }),
      (err: unknown) => err instanceof OpenAI.BadRequestError && err.param === "input",
    );
    // Nothing was stored by any refused request.
    assert.deepEqual(await stack.engine.listConversations(testCtx()), []);
  } finally {
    await stack.close();
  }
});

Deno.test("responses raise NotFoundError when previous_response_id is unknown", async () => {
  const stack = await startStack();
  try {
    await assert.rejects(
      stack.client.responses.create({ input: "x", previous_response_id: "nope" }),
      (err: unknown) => err instanceof OpenAI.NotFoundError && err.param === "previous_response_id",
    );
  } finally {
    await stack.close();
  }
});

Deno.test("store false answers from the whole input and keeps nothing", async () => {
  const stack = await startStack({ provider: "openai" });
  try {
    const { client } = stack;
    const fake = stack.fake!;
    const r1 = await client.responses.create({ input: "kept" });
    const stateless = await client.responses.create({
      store: false,
      previous_response_id: r1.id,
      input: [
        { role: "user", content: "a" },
        { role: "assistant", content: "b" },
        { role: "user", content: "c" },
      ],
    });
    assert.equal((stateless as unknown as { store: boolean }).store, false);
    assert.match(stateless.id, /^resp_/);
    assert.deepEqual(sentMessages(fake, 1), [
      { role: "user", content: "kept" },
      { role: "assistant", content: "Heard 1 messages: user: kept" },
      { role: "user", content: "a" },
      { role: "assistant", content: "b" },
      { role: "user", content: "c" },
    ]);
    await assert.rejects(client.responses.retrieve(stateless.id), OpenAI.NotFoundError);
    const tree = await stack.engine.getConversation(
      (r1 as unknown as { conversation: { id: string } }).conversation.id,
      testCtx(),
    );
    assert.equal(tree.messages.length, 2);
  } finally {
    await stack.close();
  }
});
