/**
 * CPU per streamed upstream request: `fetch` + a BYOB reader against
 * `Http1Client`, for sequential POSTs that each stream small SSE chunks from a
 * local `Deno.serve` running in a child process (so this process's CPU time is
 * the client's alone).
 *
 *     deno run --allow-all bench/http1_bench.ts [requests=1000] [chunks=20] [rounds=1]
 * @module
 */

import process from "node:process";
import { Http1Client } from "../lib/providers/http1.ts";

const enc = new TextEncoder();

function serveChunks(): void {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const chunks = Number(new URL(req.url).searchParams.get("chunks") ?? 20);
    await req.arrayBuffer();
    let i = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(ctl) {
        // A macrotask between events, so that each goes out on its own, as an upstream's do.
        await new Promise((r) => setTimeout(r, 0));
        if (i === chunks) return ctl.close();
        ctl.enqueue(enc.encode(`data: {"choices":[{"delta":{"content":"token ${i++}"}}]}\n\n`));
      },
    });
    return new Response(body, { headers: { "content-type": "text/event-stream" } });
  });
  // deno-lint-ignore no-console
  console.log(server.addr.port);
}

interface Run {
  cpuMs: number;
  wallMs: number;
  reads: number;
  bytes: number;
}

async function timed(n: number, one: () => Promise<[number, number]>): Promise<Run> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let reads = 0;
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const [r, b] = await one();
    reads += r;
    bytes += b;
  }
  const cpu = process.cpuUsage(cpu0);
  return { cpuMs: (cpu.user + cpu.system) / 1000, wallMs: performance.now() - t0, reads, bytes };
}

const BODY = JSON.stringify({
  model: "m",
  stream: true,
  messages: [{ role: "user", content: "hi" }],
});
const HEADERS = { "content-type": "application/json", authorization: "Bearer sk-test" };

async function viaFetch(url: string): Promise<[number, number]> {
  const res = await fetch(url, { method: "POST", headers: HEADERS, body: BODY });
  const reader = res.body!.getReader({ mode: "byob" });
  let buf = new Uint8Array(8192);
  let reads = 0;
  let bytes = 0;
  for (;;) {
    const { value, done } = await reader.read(buf);
    if (done) break;
    reads++;
    bytes += value.length;
    buf = new Uint8Array(value.buffer);
  }
  return [reads, bytes];
}

function viaHttp1(client: Http1Client, into: Uint8Array) {
  return async (url: string): Promise<[number, number]> => {
    const res = await client.request(url, { method: "POST", headers: HEADERS, body: BODY });
    let reads = 0;
    let bytes = 0;
    for (let n; (n = await res.read(into)) !== null;) {
      reads++;
      bytes += n;
    }
    return [reads, bytes];
  };
}

function line(name: string, n: number, r: Run): string {
  return `${name.padEnd(16)} ${(r.cpuMs / n).toFixed(3)} ms CPU/req  ${
    (r.wallMs / n).toFixed(3)
  } ms wall/req  ${(r.reads / n).toFixed(1)} reads/req  ${r.bytes / n} B/req`;
}

async function main(): Promise<void> {
  const [n = 1000, chunks = 20, rounds = 1] = Deno.args.map(Number);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", import.meta.filename!, "serve"],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const port = Number((await reader.read()).value);
  const url = `http://127.0.0.1:${port}/v1/chat/completions?chunks=${chunks}`;
  const client = new Http1Client();
  const h1 = viaHttp1(client, new Uint8Array(16 * 1024));
  await timed(100, () => viaFetch(url));
  await timed(100, () => h1(url));
  const out: string[] = [];
  for (let round = 0; round < rounds; round++) {
    out.push(line("fetch+BYOB", n, await timed(n, () => viaFetch(url))));
    out.push(line("Http1Client", n, await timed(n, () => h1(url))));
  }
  client.close();
  child.kill();
  await reader.cancel();
  await child.status;
  // deno-lint-ignore no-console
  console.log(`${n} sequential POSTs x ${chunks} SSE chunks, per round:\n${out.join("\n")}`);
}

if (Deno.args[0] === "serve") serveChunks();
else await main();
