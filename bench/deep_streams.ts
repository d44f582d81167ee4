/**
 * Server memory per open stream that continues a long conversation: builds
 * one conversation of `--turns` turns (prompts of `--prompt-chars`), then
 * holds `--streams` slow SSE answers open that all continue it, and prints
 * the server's RSS above idle per stream. With `--turns 0` every stream is a
 * new conversation, for comparison: what a stream keeps of its conversation
 * while it streams is the difference.
 *
 *   deno run -A bench/deep_streams.ts [--streams 1000] [--turns 40] [--prompt-chars 1000]
 *
 * `BENCH_BACKEND_ROOT=/tmp/old` runs another checkout's server.
 * @module
 */

import { parseArgs } from "node:util";
import { RssSampler, startBackend, startFakeUpstream } from "./processes.ts";

const encoder = new TextEncoder();
const print = (line: string) => Deno.stdout.writeSync(encoder.encode(line + "\n"));

const { values } = parseArgs({
  args: Deno.args,
  options: {
    streams: { type: "string", default: "1000" },
    turns: { type: "string", default: "40" },
    "prompt-chars": { type: "string", default: "1000" },
  },
});
const streams = Math.min(5000, Math.max(1, Number(values.streams)));
const turns = Math.min(500, Math.max(0, Number(values.turns)));
const prompt = "lorem ipsum dolor sit amet ".repeat(1000).slice(
  0,
  Math.min(20_000, Math.max(1, Number(values["prompt-chars"]))),
);

async function ask(base: string, path: string, body: Record<string, unknown>) {
  const res = await fetch(`${base}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`Cannot ask: ${res.status} ${await res.text()}`);
  return res;
}

const upstream = await startFakeUpstream();
const dataDir = await Deno.makeTempDir({ prefix: "easybackend-deep-" });
const server = await startBackend(upstream.port, dataDir, {
  env: { MODEL: "bench-c2-d0", LOG_LEVEL: "error" },
});
const base = `http://127.0.0.1:${server.ports.http}`;
try {
  let conversation = "new";
  let parent: string | null = null;
  for (let i = 0; i < turns; i++) {
    const answer = await (await ask(base, `/ask/${conversation}`, {
      prompt,
      parent_id: parent,
      model: "bench-c2-d0",
    })).json();
    conversation = answer.conversation_id;
    parent = answer.parent_id;
  }
  await new Promise((r) => setTimeout(r, 1000));
  const idle = new RssSampler(server.pid).stop().peakMiB;
  const sampler = new RssSampler(server.pid);
  // Each answer: 10 pieces 2 s apart; every stream is open once its first piece arrived.
  const readers = await Promise.all(Array.from({ length: streams }, async () => {
    const res = await ask(base, `/ask/${conversation}`, {
      prompt: "go on",
      parent_id: parent,
      model: "bench-c10-d2000",
      stream: true,
    });
    const reader = res.body!.getReader();
    await reader.read();
    return reader;
  }));
  await new Promise((r) => setTimeout(r, 2000));
  const peak = sampler.stop().peakMiB;
  await Promise.all(readers.map((r) => r.cancel()));
  print(`| streams | turns | prompt chars | idle RSS MiB | peak RSS MiB | KiB/stream |`);
  print(`| --- | --- | --- | --- | --- | --- |`);
  print(
    `| ${streams} | ${turns} | ${prompt.length} | ${idle.toFixed(0)} | ${peak.toFixed(0)} | ${
      ((peak - idle) * 1024 / streams).toFixed(0)
    } |`,
  );
} finally {
  await server.stop();
  await upstream.stop();
  await Deno.remove(dataDir, { recursive: true });
}
