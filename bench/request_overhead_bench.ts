/**
 * Micro-benchmark of two per-request costs of the HTTP handler: giving a
 * response the CORS headers and the request id by copying its headers into a
 * second `Response` (the handler's earlier way) or setting them in place (now),
 * and one signal for a call made with `AbortSignal.any` of three (as
 * `createCallContext` does) or with a controller and three listeners removed
 * at the end (a next step, BENCHMARKS.md).
 *
 *   deno bench bench/request_overhead_bench.ts
 * @module
 */

const CORS = Object.entries({
  "access-control-allow-origin": "*",
  "access-control-expose-headers": "X-Request-Id, Retry-After",
});
const shutdown = new AbortController();
const json = () =>
  new Response('{"message":"hi"}', { headers: { "content-type": "application/json" } });

Deno.bench({ name: "headers copied into a second Response", group: "headers" }, () => {
  const res = json();
  const headers = new Headers(res.headers);
  for (const [k, v] of CORS) headers.set(k, v);
  headers.set("x-request-id", "req-1");
  new Response(res.body, { status: res.status, statusText: res.statusText, headers });
});
Deno.bench({ name: "headers set in place", group: "headers", baseline: true }, () => {
  const res = json();
  for (const [k, v] of CORS) res.headers.set(k, v);
  res.headers.set("x-request-id", "req-1");
});

Deno.bench({ name: "AbortSignal.any of three", group: "signal" }, () => {
  const client = new AbortController();
  const local = new AbortController();
  AbortSignal.any([client.signal, local.signal, shutdown.signal]);
});
Deno.bench({ name: "a controller following three", group: "signal", baseline: true }, () => {
  const client = new AbortController();
  const local = new AbortController();
  const call = new AbortController();
  const follow = () => call.abort();
  const sources = [client.signal, local.signal, shutdown.signal];
  for (const s of sources) s.addEventListener("abort", follow, { once: true });
  for (const s of sources) s.removeEventListener("abort", follow);
});
