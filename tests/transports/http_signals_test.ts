/**
 * The HTTP handler's calls follow the transport's abort-all signal while they
 * run (also while an OpenAI-compatible stream's body flows) and let go of it
 * when they end, whatever the route and however the client leaves.
 */

import assert from "node:assert/strict";
import { createEngine } from "../../lib/engine/engine.ts";
import { createLogger } from "../../lib/log.ts";
import { MetricsRegistry } from "../../lib/metrics.ts";
import { EchoProvider } from "../../lib/providers/echo/client.ts";
import { openSqliteStore } from "../../lib/store/sqlite.ts";
import { createHttpHandler } from "../../lib/transports/http_handler.ts";

/** An abort-all signal that counts its listeners. */
function countedSignal() {
  const controller = new AbortController();
  const signal = controller.signal;
  let listeners = 0;
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  const seen = new Set<unknown>();
  signal.addEventListener = (...a: Parameters<typeof add>) => {
    if (a[0] === "abort" && !seen.has(a[1])) (seen.add(a[1]), listeners++);
    add(...a);
  };
  signal.removeEventListener = (...a: Parameters<typeof remove>) => {
    if (a[0] === "abort" && seen.delete(a[1])) listeners--;
    remove(...a);
  };
  return { controller, signal, listeners: () => listeners };
}

async function withHandler(
  delayMs: number,
  fn: (url: string, abortAll: ReturnType<typeof countedSignal>) => Promise<void>,
) {
  const dir = await Deno.makeTempDir({ prefix: "eb-http-signals-" });
  const store = await openSqliteStore(dir);
  const logger = createLogger({ level: "error", write: () => {} });
  const abortAll = countedSignal();
  const handler = createHttpHandler({
    engine: createEngine({ store, provider: new EchoProvider({ delayMs }), logger }),
    logger,
    metrics: new MetricsRegistry(),
    authTokens: [],
    maxBodyBytes: 1 << 20,
    abortAll: abortAll.signal,
    draining: () => false,
  });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handler);
  try {
    await fn(`http://127.0.0.1:${server.addr.port}`, abortAll);
  } finally {
    await server.shutdown();
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const json = (url: string, body: unknown) =>
  fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });

async function firstBytesThenLeave(res: Response): Promise<void> {
  const reader = res.body!.getReader();
  await reader.read();
  await reader.cancel();
}

async function waitFor(check: () => boolean, what: string): Promise<void> {
  const until = Date.now() + 3000;
  while (!check()) {
    if (Date.now() > until) throw new Error(`Cannot wait for ${what}: timed out`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

Deno.test("every HTTP call lets go of the abort-all signal once it has ended", async () => {
  await withHandler(5, async (url, abortAll) => {
    await (await json(`${url}/ask/new`, { prompt: "json" })).json();
    await (await json(`${url}/ask/new`, { prompt: "sse", stream: true })).text();
    const chat = { messages: [{ role: "user", content: "hi there" }], stream: true };
    await (await json(`${url}/v1/chat/completions`, chat)).text();
    await firstBytesThenLeave(await json(`${url}/ask/new`, { prompt: "leave", stream: true }));
    await firstBytesThenLeave(await json(`${url}/v1/chat/completions`, chat));
    assert.equal((await fetch(`${url}/conversations/nope`)).status, 404);
    await waitFor(() => abortAll.listeners() === 0, "every call to let go");
  });
});

Deno.test("an OpenAI-compatible stream still ends when abort-all fires while its body flows", async () => {
  await withHandler(200, async (url, abortAll) => {
    const chat = {
      messages: [{ role: "user", content: "one two three four five six seven eight" }],
      stream: true,
    };
    const res = await json(`${url}/v1/chat/completions`, chat);
    const reader = res.body!.getReader();
    await reader.read();
    assert.equal(abortAll.listeners(), 1);
    const started = Date.now();
    abortAll.controller.abort(new Error("forced stop"));
    // The rest arrives quickly (the error or the end), not word by word.
    while (!(await reader.read().catch(() => ({ done: true }))).done);
    assert.ok(Date.now() - started < 1000, "the stream ended when abort-all fired");
    await waitFor(() => abortAll.listeners() === 0, "the stream to let go");
  });
});
