import assert from "node:assert/strict";
import { createLogger } from "../../lib/log.ts";
import { createCallContext } from "../../lib/transports/context.ts";

const logger = createLogger({ level: "error", write: () => {} });

function context(signals: AbortSignal[], requestId?: string) {
  return createCallContext({ protocol: "http", principal: "p", logger, signals, requestId });
}

Deno.test("a call's signal fires with the reason of the first of its signals that does", () => {
  const client = new AbortController();
  const shutdown = new AbortController();
  const ctx = context([client.signal, shutdown.signal]);
  assert.equal(ctx.signal.aborted, false);
  client.abort(new Error("client went away"));
  shutdown.abort(new Error("later"));
  assert.equal(ctx.signal.aborted, true);
  assert.equal((ctx.signal.reason as Error).message, "client went away");
  ctx.dispose();
});

Deno.test("a call made after one of its signals fired starts aborted", () => {
  const shutdown = new AbortController();
  shutdown.abort(new Error("stopping"));
  const ctx = context([new AbortController().signal, shutdown.signal]);
  assert.equal(ctx.signal.aborted, true);
  assert.equal((ctx.signal.reason as Error).message, "stopping");
  ctx.dispose();
});

Deno.test("dispose stops following: a shutdown after the call's end leaves it alone", () => {
  const shutdown = new AbortController();
  let listeners = 0;
  const add = shutdown.signal.addEventListener.bind(shutdown.signal);
  const remove = shutdown.signal.removeEventListener.bind(shutdown.signal);
  shutdown.signal.addEventListener = (...a: Parameters<typeof add>) => (listeners++, add(...a));
  shutdown.signal.removeEventListener = (...a: Parameters<typeof remove>) => (
    listeners--, remove(...a)
  );
  const ctxs = Array.from({ length: 3 }, () => context([shutdown.signal]));
  assert.equal(listeners, 3);
  for (const ctx of ctxs) ctx.dispose();
  assert.equal(listeners, 0);
  shutdown.abort();
  for (const ctx of ctxs) assert.equal(ctx.signal.aborted, false);
});

Deno.test("a client's request id is kept when it is safe, else one is made", () => {
  assert.equal(context([], "req-1.a:b").requestId, "req-1.a:b");
  const made = context([], "bad id\n").requestId;
  assert.match(made, /^[0-9a-f-]{36}$/);
});

Deno.test("a call can be aborted by its transport, with a reason, and then stops following", () => {
  const shutdown = new AbortController();
  const ctx = context([shutdown.signal]);
  ctx.abort(new Error("client went away"));
  assert.equal(ctx.signal.aborted, true);
  assert.equal((ctx.signal.reason as Error).message, "client went away");
  ctx.dispose();
  shutdown.abort(new Error("later"));
  assert.equal((ctx.signal.reason as Error).message, "client went away");
});
