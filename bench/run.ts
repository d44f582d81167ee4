/**
 * The benchmark (`deno task bench`): starts the fake upstream and EasyBackend
 * in their own processes, runs each scenario DIRECT (A), through a Node proxy
 * that only pipes bytes (PIPE, `bench/pipe_proxy.mjs`, the yardstick,
 * for the HTTP scenarios) and through EasyBackend (B), alternating A PIPE B
 * A PIPE B for several rounds, each run in a fresh load-generator process, and
 * prints medians, spread and ratios to DIRECT.
 *
 *   deno task bench [--rounds 3] [--duration 2500] [--only sse64,json64] [--full]
 *     [--client fetch|http1] [--json out.json]
 *
 * The HTTP load clients speak through the project's HTTP/1.1 client by
 * default (the leanest client here: DIRECT measured with it is closest to the
 * physical limit); `--client fetch` runs them on `fetch`, as the earlier
 * rounds in BENCHMARKS.md did.
 *
 * Everything runs on 127.0.0.1, every loop is bounded in count and time.
 * @module
 */

import { parseArgs } from "node:util";
import {
  type BackendPorts,
  RssSampler,
  runLoadProcess,
  startBackend,
  startFakeUpstream,
  startPipeProxy,
} from "./processes.ts";
import type { HttpClientName } from "./clients_http.ts";
import type { LoadResult } from "./recorder.ts";
import { type Scenario, scenarios } from "./scenarios.ts";
import { type Row, table } from "./table.ts";

const encoder = new TextEncoder();

function print(line: string): void {
  Deno.stdout.writeSync(encoder.encode(line + "\n"));
}

function portFor(protocol: string, ports: BackendPorts): number {
  if (protocol.startsWith("ws")) return ports.ws;
  if (protocol.startsWith("grpc")) return ports.grpc;
  return ports.http;
}

/** Who serves a run: A = DIRECT, P = PIPE (the Node byte pipe), B = EasyBackend. */
type Side = "A" | "P" | "B";

/** One measured run with the server's memory and CPU. */
export interface Measured extends LoadResult {
  peakRssMiB: number;
  /** The server's CPU time per answered request over the whole run (warm-up included), ms. */
  cpuMsPerReq: number;
  /** What the server wrote to storage per answered request (warm-up included), KiB. */
  diskKiBPerReq: number;
}

async function measure(
  scenario: Scenario,
  side: Side,
  env: {
    upstream: { pid: number; port: number };
    pipe: { pid: number; port: number };
    backend: { pid: number; ports: BackendPorts };
    http: HttpClientName;
  },
): Promise<Measured> {
  const protocol = side === "B" ? scenario.backend : scenario.direct!;
  const port = side === "A"
    ? env.upstream.port
    : side === "P"
    ? env.pipe.port
    : portFor(protocol, env.backend.ports);
  const pid = side === "A" ? env.upstream.pid : side === "P" ? env.pipe.pid : env.backend.pid;
  const sampler = new RssSampler(pid);
  const result = await runLoadProcess({
    ...scenario.load,
    protocol,
    host: "127.0.0.1",
    port,
    http: env.http,
  });
  const rss = sampler.stop();
  const all = result.requests + result.warmupRequests + result.errors;
  const cpuMsPerReq = all > 0 ? rss.cpuMs / all : NaN;
  const diskKiBPerReq = all > 0 ? rss.writtenKiB / all : NaN;
  const errors = result.errors > 0 ? ` errors=${result.errors}` : "";
  print(
    `  ${scenario.name} ${side} ${protocol}: ${result.rps.toFixed(1)} req/s, ` +
      `delay p50/p99 ${result.delayP50?.toFixed(2)}/${result.delayP99?.toFixed(2)} ms, ` +
      `${result.requests} ok${errors}, rss ${rss.peakMiB.toFixed(0)} MiB, ` +
      `server cpu ${cpuMsPerReq.toFixed(3)} ms/req, disk ${diskKiBPerReq.toFixed(1)} KiB/req`,
  );
  if (result.errors > 0) print(`    ${JSON.stringify(result.errorKinds)}`);
  return { ...result, peakRssMiB: rss.peakMiB, cpuMsPerReq, diskKiBPerReq };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      rounds: { type: "string", default: "3" },
      duration: { type: "string", default: "2500" },
      only: { type: "string" },
      full: { type: "boolean", default: false },
      json: { type: "string" },
      client: { type: "string", default: "http1" },
    },
  });
  if (values.client !== "fetch" && values.client !== "http1") {
    throw new Error(`--client is fetch or http1, not ${values.client}`);
  }
  const http: HttpClientName = values.client;
  const rounds = Math.max(1, Math.min(20, Number(values.rounds)));
  const only = values.only ? new Set(values.only.split(",")) : null;
  const chosen = scenarios(Math.max(500, Math.min(30_000, Number(values.duration)))).filter((s) =>
    only ? only.has(s.name) : !s.full || values.full
  );
  // BENCH_DATA_PARENT=/dev/shm: the backend's database in memory (what the fsyncs cost).
  const dataDir = await Deno.makeTempDir({
    prefix: "easybackend-bench-",
    dir: Deno.env.get("BENCH_DATA_PARENT"),
  });
  const upstream = await startFakeUpstream();
  // BENCH_PIPE=deno: the PIPE rows are `bench/deno_pipe_proxy.ts` (this runtime's floor);
  // BENCH_PIPE=parse: `bench/parse_proxy.ts` (the floor of a backend that reads each chunk).
  const pipeKind = Deno.env.get("BENCH_PIPE");
  const pipe = await startPipeProxy(
    upstream.port,
    pipeKind === "deno" || pipeKind === "parse" ? pipeKind : "node",
  );
  const backend = await startBackend(upstream.port, dataDir);
  const env = { upstream, pipe, backend, http };
  const runs = new Map<string, { A: Measured[]; P: Measured[]; B: Measured[] }>();
  try {
    // One unrecorded second per server first, so round 1 does not pay the JIT's warm-up.
    const warm = { concurrency: 64, total: 100_000, durationMs: 1000, timeoutMs: 30_000 };
    for (
      const [protocol, port] of [
        ["direct-sse", upstream.port],
        ["direct-sse", pipe.port],
        ["http-sse", backend.ports.http],
      ] as const
    ) {
      const spec = { ...warm, protocol, host: "127.0.0.1", port, shape: "bench-c20-d0", http };
      await runLoadProcess(spec);
    }
    for (let round = 1; round <= rounds; round++) {
      print(`round ${round}/${rounds}`);
      for (const s of chosen) {
        if (round > (s.maxRounds ?? rounds)) continue;
        const entry = runs.get(s.name) ?? { A: [], P: [], B: [] };
        runs.set(s.name, entry);
        if (s.direct !== null) entry.A.push(await measure(s, "A", env));
        if (s.pipe && s.direct !== null) entry.P.push(await measure(s, "P", env));
        entry.B.push(await measure(s, "B", env));
      }
    }
  } finally {
    await backend.stop();
    await pipe.stop();
    await upstream.stop();
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  }
  const rows: Row[] = chosen.map((s) => ({
    scenario: s,
    A: s.direct !== null ? runs.get(s.name)!.A : runs.get(s.directFrom!)?.A ?? [],
    P: runs.get(s.name)!.P,
    B: runs.get(s.name)!.B,
  }));
  print("");
  print(table(rows, { rounds, cores: navigator.hardwareConcurrency }));
  if (values.json) {
    await Deno.writeTextFile(values.json, JSON.stringify(Object.fromEntries(runs), null, 1));
  }
}

if (import.meta.main) await main();
