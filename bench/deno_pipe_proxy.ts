/**
 * The Deno counterpart of `bench/pipe_proxy.mjs`: `Deno.serve` + `fetch` that
 * forward a request to the fake upstream and hand its body back untouched,
 * for the memory floor of one proxied stream on this runtime.
 *
 *   deno run --allow-net bench/deno_pipe_proxy.ts <upstream port>
 *
 * It prints one JSON line `{"port": N}` once it listens on 127.0.0.1.
 * @module
 */

const upstream = `http://127.0.0.1:${Number(Deno.args[0])}`;
const encoder = new TextEncoder();
const server = Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ port }) => Deno.stdout.writeSync(encoder.encode(JSON.stringify({ port }) + "\n")),
}, async (req) => {
  const url = new URL(req.url);
  const res = await fetch(upstream + url.pathname, {
    method: req.method,
    headers: req.headers,
    body: req.body === null ? null : await req.arrayBuffer(),
    signal: req.signal,
  });
  return new Response(res.body, { status: res.status, headers: res.headers });
});
Deno.addSignalListener("SIGTERM", () => server.shutdown());
await server.finished;
