/**
 * Server memory per open stream: runs N concurrent slow streams through a
 * fresh EasyBackend for each N and prints its idle RSS, its peak RSS, the
 * KiB per stream above idle, and the forwarding delay (a delay of seconds
 * means a backlog, so the memory is not per-stream cost alone).
 *
 *   deno run -A bench/memory_curve.ts [--streams 1000,3000,6000] [--shape bench-c10-d2000]
 *     [--protocol http-sse] [--server backend|node-pipe|deno-pipe|parse-proxy]
 * @module
 */

import { parseArgs } from "node:util";
import type { ProtocolName } from "./loadgen.ts";
import {
  type Child,
  RssSampler,
  runLoadProcess,
  startBackend,
  startFakeUpstream,
  startPipeProxy,
} from "./processes.ts";

const encoder = new TextEncoder();
const print = (line: string) => Deno.stdout.writeSync(encoder.encode(line + "\n"));

const { values } = parseArgs({
  args: Deno.args,
  options: {
    streams: { type: "string", default: "1000,3000,6000" },
    shape: { type: "string", default: "bench-c10-d2000" },
    protocol: { type: "string", default: "http-sse" },
    // "backend" (EasyBackend), or a floor: "node-pipe", "deno-pipe" (bytes only), "parse-proxy".
    server: { type: "string", default: "backend" },
  },
});
const counts = values.streams.split(",").map(Number).filter((n) => n > 0 && n <= 9500);
const PIPES = { "node-pipe": "node", "deno-pipe": "deno", "parse-proxy": "parse" } as const;
const pipe = PIPES[values.server as keyof typeof PIPES] ?? null;
const protocol = (pipe ? "direct-sse" : values.protocol) as ProtocolName;
const upstream = await startFakeUpstream();
print("| streams | idle RSS MiB | peak RSS MiB | KiB/stream | done / errors | delay p50/p99 ms |");
print("| --- | --- | --- | --- | --- | --- |");
try {
  for (const n of counts) {
    const dataDir = await Deno.makeTempDir({ prefix: "easybackend-mem-" });
    const server: Child & { port: number } = pipe
      ? await startPipeProxy(upstream.port, pipe)
      : await startBackend(upstream.port, dataDir).then((b) => ({
        ...b,
        port: protocol.startsWith("ws") ? b.ports.ws : b.ports.http,
      }));
    try {
      await new Promise((r) => setTimeout(r, 1000));
      const idle = new RssSampler(server.pid).stop().peakMiB;
      const sampler = new RssSampler(server.pid);
      const port = server.port;
      const r = await runLoadProcess({
        protocol,
        host: "127.0.0.1",
        port,
        concurrency: n,
        total: n,
        durationMs: 60_000,
        warmupMs: 0,
        rampMs: 3000,
        timeoutMs: 90_000,
        shape: values.shape,
      });
      const peak = sampler.stop().peakMiB;
      print(
        `| ${n} | ${idle.toFixed(0)} | ${peak.toFixed(0)} | ${
          (((peak - idle) * 1024) / n).toFixed(0)
        } | ${r.requests} / ${r.errors} | ${r.delayP50.toFixed(1)}/${r.delayP99.toFixed(1)} |`,
      );
    } finally {
      await server.stop();
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    }
  }
} finally {
  await upstream.stop();
}
