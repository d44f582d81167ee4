/**
 * The HTTP transport in process: the real listener on loopback, the real
 * engine and sqlite store in a temp dir, and the offline echo provider.
 */

import assert from "node:assert/strict";
import { parseConfig } from "../../lib/config.ts";
import { createEngine } from "../../lib/engine/engine.ts";
import { engineMetrics, observeEngine } from "../../lib/engine/observed.ts";
import { createLogger } from "../../lib/log.ts";
import { MetricsRegistry } from "../../lib/metrics.ts";
import { EchoProvider } from "../../lib/providers/echo/client.ts";
import { parseSSE, type SSEEvent } from "../../lib/sse/parse.ts";
import { DATABASE_FILE, openSqliteStore } from "../../lib/store/sqlite.ts";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import type { ServerHandle } from "../../lib/transports/context.ts";
import { serveHttp } from "../../lib/transports/http.ts";
import { CORS_HEADERS } from "../../lib/transports/http_response.ts";
import { ROUTES } from "../../lib/transports/http_router.ts";
import { buildOpenApiDocument } from "../../lib/transports/openapi.ts";

interface App {
  url: string;
  dir: string;
  logs: string[];
  handle: ServerHandle;
  close(): Promise<void>;
}

async function startApp(
  env: Record<string, string> = {},
  options: { delayMs?: number; keepAliveMs?: number; busyTimeoutMs?: number } = {},
): Promise<App> {
  const dir = await Deno.makeTempDir({ prefix: "eb-http-" });
  const parsed = parseConfig([], { HOST: "127.0.0.1", HTTP_PORT: "0", DATA_DIR: dir, ...env });
  if (parsed.help) throw new Error("unexpected help");
  const config = parsed.config;
  const logs: string[] = [];
  const logger = createLogger({ level: "debug", write: (l) => logs.push(l) });
  const store = await openSqliteStore(dir, { busyTimeoutMs: options.busyTimeoutMs });
  const metrics = new MetricsRegistry();
  const engine = observeEngine(
    createEngine({ store, provider: new EchoProvider({ delayMs: options.delayMs }), logger }),
    engineMetrics(metrics),
  );
  const shutdown = new AbortController();
  const handle = await serveHttp({ engine, config, logger, shutdown: shutdown.signal, metrics }, {
    keepAliveMs: options.keepAliveMs,
  });
  return {
    url: `http://127.0.0.1:${handle.port}`,
    dir,
    logs,
    handle,
    async close() {
      shutdown.abort();
      await handle.close(AbortSignal.abort());
      await store.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

async function events(res: Response): Promise<SSEEvent[]> {
  const out: SSEEvent[] = [];
  for await (const e of parseSSE(res.body!)) out.push(e);
  return out;
}

Deno.test("POST /ask answers in the original JSON shape and continues with parent_id", async () => {
  const app = await startApp();
  try {
    const res = await post(`${app.url}/ask/new`, { prompt: "hello there", parent_id: null });
    assert.equal(res.status, 200);
    assert.ok(res.headers.get("x-request-id"));
    const first = await res.json();
    assert.deepEqual(Object.keys(first).sort(), [
      "conversation_id",
      "finish_details",
      "message",
      "model",
      "parent_id",
      "usage",
    ]);
    assert.match(first.message, /you said "hello there"/);
    assert.deepEqual(first.finish_details, { type: "stop" });
    assert.equal(first.model, "echo");
    assert.equal(typeof first.usage.total_tokens, "number");

    const second = await (await post(`${app.url}/ask/${first.conversation_id}`, {
      prompt: "and again",
      parent_id: first.parent_id,
    })).json();
    assert.equal(second.conversation_id, first.conversation_id);
    assert.match(second.message, /I received 3 messages \(user, assistant, user\)/);

    const path = await (await fetch(
      `${app.url}/conversations/${first.conversation_id}/messages?parent_id=${second.parent_id}`,
    )).json();
    assert.deepEqual(
      path.messages.map((m: { author: { role: string } }) => m.author.role),
      ["user", "assistant", "user", "assistant"],
    );
    assert.equal(path.messages[2].content.parts[0], "and again");
  } finally {
    await app.close();
  }
});

Deno.test("POST /ask streams SSE deltas then one done when stream is true", async () => {
  const app = await startApp();
  try {
    const res = await post(`${app.url}/ask/`, { prompt: "stream me", stream: true });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type")!, /^text\/event-stream/);
    assert.equal(res.headers.get("cache-control"), "no-cache");
    assert.equal(res.headers.get("x-accel-buffering"), "no");
    const evs = await events(res);
    const deltas = evs.filter((e) => e.event === "delta");
    assert.ok(deltas.length > 3);
    assert.equal(evs.at(-1)!.event, "done");
    assert.equal(evs.filter((e) => e.event === "done").length, 1);
    const text = deltas.map((e) => JSON.parse(e.data).text).join("");
    assert.match(text, /you said "stream me"/);
    const done = JSON.parse(evs.at(-1)!.data);
    assert.deepEqual(Object.keys(done).sort(), ["conversation_id", "model", "parent_id", "usage"]);

    const tree = await (await fetch(`${app.url}/conversations/${done.conversation_id}`)).json();
    assert.equal(tree.current_node, done.parent_id);
    const node = tree.mapping[done.parent_id];
    assert.equal(node.message.content.parts[0], text);
    assert.equal(node.message.status, "complete");
    assert.equal(tree.mapping[node.parent].children[0], done.parent_id);
  } finally {
    await app.close();
  }
});

Deno.test("POST /ask streams when the client accepts text/event-stream", async () => {
  const app = await startApp();
  try {
    const res = await post(`${app.url}/ask/new`, { prompt: "hi" }, { accept: "text/event-stream" });
    const evs = await events(res);
    assert.equal(evs.at(-1)!.event, "done");
  } finally {
    await app.close();
  }
});

Deno.test("a branch from an older parent_id keeps both children in the tree", async () => {
  const app = await startApp();
  try {
    const a = await (await post(`${app.url}/ask/new`, { prompt: "one" })).json();
    const b = await (await post(`${app.url}/ask/${a.conversation_id}`, { prompt: "two" })).json();
    const c = await (await post(`${app.url}/ask/${a.conversation_id}`, {
      prompt: "two, edited",
      parent_id: a.parent_id,
    })).json();
    assert.match(c.message, /I received 3 messages/);
    const tree = await (await fetch(`${app.url}/conversations/${a.conversation_id}`)).json();
    assert.equal(tree.mapping[a.parent_id].children.length, 2);
    assert.equal(tree.current_node, c.parent_id);
    assert.ok(tree.mapping[b.parent_id]);
  } finally {
    await app.close();
  }
});

Deno.test("bad bodies are 400s that say what is wrong", async () => {
  const app = await startApp();
  try {
    const quote = await post(`${app.url}/ask/new`, '{\u201Cprompt": "hi", \u201Cparent_id": null}');
    assert.equal(quote.status, 400);
    const q = await quote.json();
    assert.equal(q.error.code, "invalid_argument");
    assert.match(q.error.message, /typographic quote \u201C at character 2/);

    const notString = await post(`${app.url}/ask/new`, { prompt: 42 });
    assert.equal(notString.status, 400);
    assert.match((await notString.json()).error.message, /"prompt" must be a string, got a number/);

    const empty = await post(`${app.url}/ask/new`, "");
    assert.equal(empty.status, 400);
    await empty.body?.cancel();

    const badParent = await post(`${app.url}/ask/new`, { prompt: "x", parent_id: 5 });
    assert.equal(badParent.status, 400);
    await badParent.body?.cancel();

    const truncated = await post(`${app.url}/ask/new`, '{"prompt": "hi"');
    assert.match((await truncated.json()).error.message, /ends too early/);
  } finally {
    await app.close();
  }
});

Deno.test("a body over MAX_BODY_BYTES is 413, also without Content-Length", async () => {
  const app = await startApp({ MAX_BODY_BYTES: "2048" });
  try {
    const big = JSON.stringify({ prompt: "x".repeat(5000) });
    const withLength = await post(`${app.url}/ask/new`, big);
    assert.equal(withLength.status, 413);
    assert.equal((await withLength.json()).error.code, "payload_too_large");

    const chunks = new TextEncoder().encode(big);
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < chunks.length; i += 1000) c.enqueue(chunks.slice(i, i + 1000));
        c.close();
      },
    });
    const chunked = await fetch(`${app.url}/ask/new`, { method: "POST", body });
    assert.equal(chunked.status, 413);
    await chunked.body?.cancel();
  } finally {
    await app.close();
  }
});

Deno.test("unknown routes are 404, wrong methods 405 with Allow, preflight 204", async () => {
  const app = await startApp();
  try {
    const missing = await fetch(`${app.url}/nope`);
    assert.equal(missing.status, 404);
    assert.equal((await missing.json()).error.code, "not_found");
    const wrong = await fetch(`${app.url}/ask/new`);
    assert.equal(wrong.status, 405);
    assert.equal(wrong.headers.get("allow"), "POST, OPTIONS");
    await wrong.body?.cancel();
    const pre = await fetch(`${app.url}/ask/new`, {
      method: "OPTIONS",
      headers: { origin: "http://example.test", "access-control-request-method": "POST" },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get("access-control-allow-origin"), "*");
    assert.match(pre.headers.get("access-control-allow-headers")!, /Authorization/);
    assert.match(pre.headers.get("access-control-allow-methods")!, /PATCH/);
    await pre.body?.cancel();
    const v1 = await fetch(`${app.url}/v1/nothing-here`);
    assert.equal(v1.status, 404);
    await v1.body?.cancel();
  } finally {
    await app.close();
  }
});

Deno.test("a CORS preflight allows the headers the browser asks for, as the openai SDK sends them", async () => {
  const app = await startApp({ AUTH_TOKENS: "alpha" });
  try {
    const asked = "authorization, content-type, x-stainless-os, x-stainless-retry-count";
    const pre = await fetch(`${app.url}/v1/chat/completions`, {
      method: "OPTIONS",
      headers: {
        origin: "http://app.example",
        "access-control-request-method": "POST",
        "access-control-request-headers": asked,
      },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get("access-control-allow-headers"), asked);
    assert.match(pre.headers.get("vary")!, /Access-Control-Request-Headers/);
    await pre.body?.cancel();
    // Not a header list: the default list, never the text echoed back.
    const odd = await fetch(`${app.url}/ask/new`, {
      method: "OPTIONS",
      headers: { "access-control-request-headers": "x-a; <b>" },
    });
    assert.equal(odd.headers.get("access-control-allow-headers"), CORS_HEADERS);
    await odd.body?.cancel();
  } finally {
    await app.close();
  }
});

Deno.test("metrics label unknown paths and wrong methods by route, never by the raw path", async () => {
  const app = await startApp();
  try {
    for (const path of ["/scan-1", "/scan-2/x", "/v1"]) {
      const res = await fetch(app.url + path);
      assert.equal(res.status, 404, path);
      await res.body?.cancel();
    }
    const v1 = await (await fetch(`${app.url}/v1`)).json();
    assert.equal(v1.error.type, "invalid_request_error", "/v1 answers in OpenAI's error shape");
    const put = await fetch(`${app.url}/conversations/abc123`, { method: "PUT" });
    assert.equal(put.status, 405);
    await put.body?.cancel();
    const odd = await fetch(`${app.url}/healthz`, { method: "BREW" });
    await odd.body?.cancel();
    const metrics = await (await fetch(`${app.url}/metrics`)).text();
    assert.doesNotMatch(metrics, /scan-|abc123|BREW/);
    assert.match(metrics, /route="unmatched",status="404"\} 2/);
    assert.match(metrics, /method="PUT",route="\/conversations\/\{id\}",status="405"/);
    assert.match(metrics, /method="OTHER",route="\/healthz",status="405"/);
    const line = app.logs.map((l) => JSON.parse(l)).find((l) => l.path === "/scan-1");
    assert.equal(line?.route, "unmatched");
  } finally {
    await app.close();
  }
});

Deno.test("unknown conversations are 404 in JSON and before an SSE stream starts", async () => {
  const app = await startApp();
  try {
    const json = await post(`${app.url}/ask/nope`, { prompt: "hi" });
    assert.equal(json.status, 404);
    assert.match((await json.json()).error.message, /Cannot find conversation nope/);
    const sse = await post(`${app.url}/ask/nope`, { prompt: "hi", stream: true });
    assert.equal(sse.status, 404);
    await sse.body?.cancel();
    const tree = await fetch(`${app.url}/conversations/nope`);
    assert.equal(tree.status, 404);
    await tree.body?.cancel();
  } finally {
    await app.close();
  }
});

Deno.test("with AUTH_TOKENS every route but the open ones demands a token, and tokens see only their own", async () => {
  const app = await startApp({ AUTH_TOKENS: "alpha,beta" });
  try {
    const none = await post(`${app.url}/ask/new`, { prompt: "hi" });
    assert.equal(none.status, 401);
    assert.equal(none.headers.get("www-authenticate"), "Bearer");
    await none.body?.cancel();
    const wrong = await fetch(`${app.url}/conversations`, {
      headers: { authorization: "Bearer x" },
    });
    assert.equal(wrong.status, 401);
    await wrong.body?.cancel();
    const v1 = await fetch(`${app.url}/v1/models`);
    assert.equal(v1.status, 401);
    assert.equal((await v1.json()).error.type, "authentication_error");
    for (const open of ["/healthz", "/metrics", "/docs", "/openapi.json"]) {
      const res = await fetch(app.url + open);
      assert.equal(res.status, 200, open);
      await res.body?.cancel();
    }
    const a = await (await post(`${app.url}/ask/new`, { prompt: "mine" }, {
      authorization: "Bearer alpha",
    })).json();
    const other = await fetch(`${app.url}/conversations/${a.conversation_id}`, {
      headers: { authorization: "Bearer beta" },
    });
    assert.equal(other.status, 404);
    await other.body?.cancel();
    const list = await (await fetch(`${app.url}/conversations`, {
      headers: { authorization: "Bearer beta" },
    })).json();
    assert.deepEqual(list.items, []);
  } finally {
    await app.close();
  }
});

Deno.test("conversations can be listed, paged, renamed and deleted", async () => {
  const app = await startApp();
  try {
    const ids: string[] = [];
    for (const p of ["first", "second", "third"]) {
      ids.push((await (await post(`${app.url}/ask/new`, { prompt: p })).json()).conversation_id);
    }
    const page = await (await fetch(`${app.url}/conversations?limit=2`)).json();
    assert.deepEqual(page.items.map((c: { id: string }) => c.id), [ids[2], ids[1]]);
    const rest = await (await fetch(
      `${app.url}/conversations?before=${page.items[1].update_time}`,
    )).json();
    assert.deepEqual(rest.items.map((c: { id: string }) => c.id), [ids[0]]);
    const renamed = await fetch(`${app.url}/conversations/${ids[0]}`, {
      method: "PATCH",
      body: JSON.stringify({ title: "Renamed" }),
    });
    assert.equal((await renamed.json()).title, "Renamed");
    const del = await fetch(`${app.url}/conversations/${ids[0]}`, { method: "DELETE" });
    assert.deepEqual(await del.json(), { id: ids[0], deleted: true });
    const gone = await fetch(`${app.url}/conversations/${ids[0]}`);
    assert.equal(gone.status, 404);
    await gone.body?.cancel();
    const badLimit = await fetch(`${app.url}/conversations?limit=zero`);
    assert.equal(badLimit.status, 400);
    await badLimit.body?.cancel();
  } finally {
    await app.close();
  }
});

Deno.test("a client that leaves mid-stream stops the answer and it is stored incomplete", async () => {
  const app = await startApp({}, { delayMs: 40 });
  try {
    const res = await post(`${app.url}/ask/new`, { prompt: "a long one", stream: true });
    const reader = parseSSE(res.body!);
    const first = await reader.next();
    assert.equal(first.value!.event, "delta");
    await reader.return(undefined);
    let conversations: { id: string }[] = [];
    let status = "";
    for (let i = 0; i < 100 && status !== "incomplete"; i++) {
      await new Promise((r) => setTimeout(r, 20));
      conversations = (await (await fetch(`${app.url}/conversations`)).json()).items;
      const tree = await (await fetch(`${app.url}/conversations/${conversations[0].id}`)).json();
      status = tree.mapping[tree.current_node].message.status;
    }
    assert.equal(status, "incomplete");
    assert.ok(
      app.logs.some((l) =>
        l.includes('"msg":"request"') && l.includes('"route":"/ask/{conversation_id}"')
      ),
    );
  } finally {
    await app.close();
  }
});

Deno.test("SSE sends keep-alive comments during long upstream silences", async () => {
  const app = await startApp({}, { delayMs: 120, keepAliveMs: 30 });
  try {
    const res = await post(`${app.url}/ask/new`, { prompt: "slow", stream: true });
    const text = await res.text();
    assert.match(text, /^: keep-alive$/m);
    assert.match(text, /event: done/);
  } finally {
    await app.close();
  }
});

Deno.test("close lets a running stream finish within the grace period and aborts it after", async () => {
  const app = await startApp({}, { delayMs: 30 });
  const res = await post(`${app.url}/ask/new`, { prompt: "finish me", stream: true });
  const closed = app.handle.close(AbortSignal.timeout(60));
  const evs = await events(res);
  await closed;
  const last = evs.at(-1)!;
  assert.equal(last.event, "error");
  assert.equal(JSON.parse(last.data).code, "shutting_down");
  assert.ok(evs.some((e) => e.event === "delta"));
  await app.close();
});

Deno.test("healthz, metrics, the request id and one log line per request without the prompt", async () => {
  const app = await startApp();
  try {
    assert.deepEqual(await (await fetch(`${app.url}/healthz`)).json(), { status: "ok" });
    const res = await post(`${app.url}/ask/new`, { prompt: "secret words" }, {
      "x-request-id": "req-123",
    });
    assert.equal(res.headers.get("x-request-id"), "req-123");
    await res.json();
    const metrics = await (await fetch(`${app.url}/metrics`)).text();
    assert.match(
      metrics,
      /easybackend_http_requests_total\{method="POST",route="\/ask\/\{conversation_id\}",status="200"\} 1/,
    );
    assert.match(metrics, /easybackend_active_streams/);
    const line = app.logs.map((l) => JSON.parse(l)).find((l) =>
      l.msg === "request" && l.requestId === "req-123"
    );
    assert.equal(line.status, 200);
    assert.equal(line.method, "POST");
    assert.ok(line.conversationId);
    assert.equal(typeof line.durationMs, "number");
    assert.ok(!app.logs.some((l) => l.includes("secret words")));
  } finally {
    await app.close();
  }
});

Deno.test("every documented path and method is served, and every served route is documented", async () => {
  const app = await startApp();
  try {
    const doc = buildOpenApiDocument() as { paths: Record<string, Record<string, unknown>> };
    const served = await (await fetch(`${app.url}/openapi.json`)).json();
    assert.deepEqual(served, JSON.parse(JSON.stringify(doc)));
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const method of ["get", "post", "patch", "delete"]) {
        if (!item[method]) continue;
        const url = app.url + path.replace(/\{[^}]+\}/g, "x");
        const res = await fetch(url, {
          method: method.toUpperCase(),
          body: method === "get" || method === "delete" ? undefined : "{}",
        });
        const text = await res.text();
        assert.notEqual(res.status, 405, `${method} ${path}`);
        // A 404 may come from the route (an unknown id), never from routing.
        assert.doesNotMatch(text, /Cannot find a route/, `${method} ${path} is not routed`);
      }
    }
    for (const route of ROUTES) {
      assert.ok(doc.paths[route.pattern]?.[route.method.toLowerCase()], route.pattern);
    }
  } finally {
    await app.close();
  }
});

Deno.test("the docs page is self-contained and has the ask form and a token field", async () => {
  const app = await startApp();
  try {
    const res = await fetch(`${app.url}/docs`);
    assert.match(res.headers.get("content-type")!, /text\/html/);
    const html = await res.text();
    assert.doesNotMatch(html, /<(script|link)[^>]+(src|href)=["']?https?:/i);
    assert.match(html, /id="ask-form"/);
    assert.match(html, /id="token"/);
    assert.match(html, /id="websocket"/);
    assert.match(html, /id="grpc"/);
  } finally {
    await app.close();
  }
});

Deno.test("the docs page tells the browser the configured WebSocket port and shows both WS protocols and grpcurl examples", async () => {
  const app = await startApp({ WS_PORT: "19001", GRPC_PORT: "19000" });
  try {
    const html = await (await fetch(`${app.url}/docs`)).text();
    const config = /<script type="application\/json" id="eb-config">([^<]*)<\/script>/.exec(html);
    assert.deepEqual(JSON.parse(config![1]), { wsPort: 19001, tls: false });
    assert.match(html, /id="ws-form"/);
    assert.match(html, /&lt;\|ask\|&gt;\$&lt;conversation_id&gt;/);
    assert.match(html, /\{"type":"cancel","id":"c1"\}/);
    for (
      const call of ["chat.Chat/Ask", "easybackend.v1.Chat/Ask", "grpc.health.v1.Health/Check"]
    ) {
      assert.match(html, new RegExp(`grpcurl -plaintext [^\n]*:19000 ${call.replace(".", "\\.")}`));
    }
    const script = /<script>([\s\S]*)<\/script>/.exec(html)![1];
    assert.doesNotThrow(() => new Function(script), "the inline script parses");
  } finally {
    await app.close();
  }
});

Deno.test("every answer carries the CORS headers and a request id: JSON, SSE, an error and HEAD", async () => {
  const app = await startApp();
  try {
    const answers = [
      await fetch(`${app.url}/healthz`),
      await post(`${app.url}/ask/new`, { prompt: "hi", stream: true }),
      await fetch(`${app.url}/conversations/nope`),
      await fetch(`${app.url}/healthz`, { method: "HEAD" }),
    ];
    assert.deepEqual(answers.map((r) => r.status), [200, 200, 404, 200]);
    for (const res of answers) {
      assert.equal(res.headers.get("access-control-allow-origin"), "*");
      assert.match(res.headers.get("access-control-expose-headers") ?? "", /X-Request-Id/);
      assert.ok(res.headers.get("x-request-id"));
    }
    assert.match(answers[0].headers.get("content-type") ?? "", /^application\/json/);
    assert.match(answers[1].headers.get("content-type") ?? "", /^text\/event-stream/);
    assert.ok((await events(answers[1])).some((e) => e.event === "done"));
    await answers[0].body?.cancel();
    await answers[2].body?.cancel();
    // HEAD: the GET's headers, no body.
    assert.match(answers[3].headers.get("content-type") ?? "", /^application\/json/);
    assert.equal(await answers[3].text(), "");
  } finally {
    await app.close();
  }
});

Deno.test("an ask is a 503 store_busy with Retry-After, storing nothing, while another process holds the write lock past the busy timeout", async () => {
  const app = await startApp({}, { busyTimeoutMs: 100 });
  const other = new DatabaseSync(join(app.dir, DATABASE_FILE));
  try {
    other.exec("BEGIN IMMEDIATE");
    const res = await post(`${app.url}/ask/new`, { prompt: "hi" });
    assert.equal(res.status, 503);
    assert.equal(res.headers.get("retry-after"), "1");
    const body = await res.json();
    assert.equal(body.error.code, "store_busy");
    assert.match(body.error.message, /another process holds the database's write lock/);
    // Reads go on meanwhile.
    const list = await fetch(`${app.url}/conversations`);
    assert.equal(list.status, 200);
    assert.deepEqual((await list.json()).items, []);
    other.exec("ROLLBACK");
    const ok = await post(`${app.url}/ask/new`, { prompt: "hi" });
    assert.equal(ok.status, 200);
    await ok.body?.cancel();
  } finally {
    other.close();
    await app.close();
  }
});
