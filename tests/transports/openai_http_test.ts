/**
 * The OpenAI-compatible API through the real HTTP listener (`serveHttp`):
 * client tokens, the OpenAI error shape on `/v1/*`, and one conversation that
 * moves between the Responses API and `/ask`.
 */

import assert from "node:assert/strict";
import OpenAI from "openai";
import { parseConfig } from "../../lib/config.ts";
import { createEngine } from "../../lib/engine/engine.ts";
import { silentLogger } from "../../lib/log.ts";
import { OpenAIProvider } from "../../lib/providers/openai/client.ts";
import { KeyPool } from "../../lib/providers/pool.ts";
import { openSqliteStore } from "../../lib/store/sqlite.ts";
import { serveHttp } from "../../lib/transports/http.ts";
import { type OpenAIFake, startOpenAIFake } from "../_fakes/openai_upstream.ts";
import { sentMessages, UPSTREAM_KEY } from "./openai_harness.ts";

const CLIENT_TOKEN = "eb-client-token-1";

interface App {
  url: string;
  fake: OpenAIFake;
  client: OpenAI;
  close(): Promise<void>;
}

async function startApp(): Promise<App> {
  const dir = await Deno.makeTempDir({ prefix: "eb-openai-http-" });
  const fake = await startOpenAIFake();
  const parsed = parseConfig([], {
    HOST: "127.0.0.1",
    HTTP_PORT: "0",
    DATA_DIR: dir,
    API_KEY: UPSTREAM_KEY,
    API_BASE_URL: fake.url,
    AUTH_TOKENS: CLIENT_TOKEN,
  });
  if (parsed.help) throw new Error("unexpected help");
  const store = await openSqliteStore(dir);
  const pool = new KeyPool({
    keys: [UPSTREAM_KEY],
    attempts: 1,
    firstTokenTimeoutMs: 5000,
    idleTimeoutMs: 5000,
    logger: silentLogger,
  });
  const provider = new OpenAIProvider({
    baseUrl: fake.url,
    model: "gpt-4o-mini",
    pool,
    logger: silentLogger,
  });
  const engine = createEngine({ store, provider, logger: silentLogger });
  const shutdown = new AbortController();
  const handle = await serveHttp({
    engine,
    config: parsed.config,
    logger: silentLogger,
    shutdown: shutdown.signal,
  });
  const url = `http://127.0.0.1:${handle.port}`;
  return {
    url,
    fake,
    client: new OpenAI({ baseURL: `${url}/v1`, apiKey: CLIENT_TOKEN, maxRetries: 0 }),
    async close() {
      shutdown.abort();
      await handle.close(AbortSignal.abort());
      await fake.close();
      await store.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

function ask(app: App, conversationId: string, body: unknown): Promise<Response> {
  return fetch(`${app.url}/ask/${conversationId}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${CLIENT_TOKEN}` },
    body: JSON.stringify(body),
  });
}

Deno.test("a Responses conversation continues over /ask with the response id as parent_id", async () => {
  const app = await startApp();
  try {
    const r1 = await app.client.responses.create({ input: "one" });
    const r2 = await app.client.responses.create({ input: "two", previous_response_id: r1.id });
    const conversationId = (r2 as unknown as { conversation: { id: string } }).conversation.id;

    const res = await ask(app, conversationId, { prompt: "three", parent_id: r2.id });
    assert.equal(res.status, 200);
    const answer = await res.json();
    assert.equal(answer.conversation_id, conversationId);
    assert.deepEqual(sentMessages(app.fake, 2), [
      { role: "user", content: "one" },
      { role: "assistant", content: r1.output_text },
      { role: "user", content: "two" },
      { role: "assistant", content: r2.output_text },
      { role: "user", content: "three" },
    ]);

    // And back: the /ask answer's parent_id is a previous_response_id.
    const r4 = await app.client.responses.create({
      input: "four",
      previous_response_id: answer.parent_id,
    });
    assert.equal(r4.previous_response_id, answer.parent_id);
    assert.equal(sentMessages(app.fake, 3).length, 7);
    const got = await app.client.responses.retrieve(answer.parent_id);
    assert.equal(got.output_text, answer.message);
    assert.equal(got.previous_response_id, r2.id);

    // Every upstream call carried our key, never the client's token.
    for (const r of app.fake.requests) {
      assert.equal(r.key, UPSTREAM_KEY);
      assert.ok(!JSON.stringify(r.headers).includes(CLIENT_TOKEN));
    }
  } finally {
    await app.close();
  }
});

Deno.test("chat completions pass through serveHttp with our key when the client has a token", async () => {
  const app = await startApp();
  try {
    const stream = await app.client.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "hello" }],
      stream: true,
    });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    assert.equal(text, "Heard 1 messages: user: hello");
    assert.equal(app.fake.requests[0].key, UPSTREAM_KEY);
    assert.ok(!JSON.stringify(app.fake.requests[0].headers).includes(CLIENT_TOKEN));
  } finally {
    await app.close();
  }
});

Deno.test("the SDK raises AuthenticationError when the client token is wrong", async () => {
  const app = await startApp();
  try {
    const wrong = new OpenAI({ baseURL: `${app.url}/v1`, apiKey: "wrong", maxRetries: 0 });
    await assert.rejects(wrong.models.list(), OpenAI.AuthenticationError);
    await assert.rejects(
      wrong.responses.create({ input: "x" }),
      OpenAI.AuthenticationError,
    );
    assert.equal(app.fake.requests.length, 0);
  } finally {
    await app.close();
  }
});

Deno.test("the SDK raises NotFoundError for an unknown /v1 response through serveHttp", async () => {
  const app = await startApp();
  try {
    await assert.rejects(app.client.responses.retrieve("missing"), OpenAI.NotFoundError);
    const res = await fetch(`${app.url}/v1/embeddings`, {
      method: "POST",
      headers: { authorization: `Bearer ${CLIENT_TOKEN}` },
      body: "{}",
    });
    assert.equal(res.status, 404);
    const body = await res.json();
    assert.equal(body.error.type, "invalid_request_error");
  } finally {
    await app.close();
  }
});
