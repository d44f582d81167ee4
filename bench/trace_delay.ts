/**
 * Splits the 256-stream forwarding delay (the fwd256 scenario) into where it
 * is spent: from the fake upstream's stamp to the server's JavaScript reading
 * the chunk (`read`), to the SSE frame handed to the HTTP server (`send`), and
 * to the load generator (`client`, what the benchmark reports), beside DIRECT
 * (the same client straight to the fake) in alternating rounds. The server is
 * `bench/trace_server.ts` (`main.ts` with two probes).
 *
 *   deno run -A bench/trace_delay.ts [--rounds 2] [--client http1|fetch]
 * @module
 */

import { parseArgs } from "node:util";
import type { HttpClientName } from "./clients_http.ts";
import { runLoadProcess, startBackend, startFakeUpstream } from "./processes.ts";
import { scenarios } from "./scenarios.ts";
import type { ProbeSummary } from "./trace_server.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "2" },
    client: { type: "string", default: "http1" },
  },
});
const rounds = Math.max(1, Math.min(10, Number(values.rounds)));
const http = values.client as HttpClientName;
if (http !== "http1" && http !== "fetch") throw new Error("--client is http1 or fetch");
const fwd = scenarios(2500).find((s) => s.name === "fwd256")!;

const encoder = new TextEncoder();
const print = (line: string) => Deno.stdout.writeSync(encoder.encode(line + "\n"));
const f = (n: number) => n.toFixed(2);

const dataDir = await Deno.makeTempDir({ prefix: "easybackend-trace-" });
const outFile = `${dataDir}/trace.json`;
const upstream = await startFakeUpstream();
const backend = await startBackend(upstream.port, `${dataDir}/data`, {
  entry: "bench/trace_server.ts",
  env: { BENCH_TRACE_OUT: outFile },
});
const host = "127.0.0.1";
try {
  // One unrecorded second first, so the first round does not pay the JIT's warm-up.
  await runLoadProcess({
    concurrency: 64,
    total: 100_000,
    durationMs: 1000,
    timeoutMs: 30_000,
    protocol: "http-sse",
    host,
    port: backend.ports.http,
    shape: "bench-c20-d0",
    http,
  });
  print("delay from the upstream's stamp, ms, p50 / p90 / p99 (client: p50 / p99)");
  for (let round = 1; round <= rounds; round++) {
    const direct = await runLoadProcess({
      ...fwd.load,
      protocol: "direct-sse",
      host,
      port: upstream.port,
      http,
    });
    print(`round ${round} DIRECT client ${f(direct.delayP50)} / ${f(direct.delayP99)}`);
    // The samples so far (warm-up, DIRECT's minute) are dropped.
    Deno.kill(backend.pid, "SIGUSR2");
    const b = await runLoadProcess({
      ...fwd.load,
      protocol: "http-sse",
      host,
      port: backend.ports.http,
      http,
    });
    await Deno.remove(outFile).catch(() => {});
    Deno.kill(backend.pid, "SIGUSR2");
    let probes: { read: ProbeSummary; send: ProbeSummary } | null = null;
    for (let i = 0; i < 50 && probes === null; i++) {
      await new Promise((r) => setTimeout(r, 100));
      probes = await Deno.readTextFile(outFile).then((t) => JSON.parse(t)).catch(() => null);
    }
    if (probes === null) throw new Error("the tracing server wrote no summary");
    const p = (s: ProbeSummary) => `${f(s.p50)} / ${f(s.p90)} / ${f(s.p99)}`;
    print(
      `round ${round} EasyBackend read ${p(probes.read)}; send ${p(probes.send)}; ` +
        `client ${f(b.delayP50)} / ${f(b.delayP99)} (${probes.send.n} chunks)`,
    );
  }
} finally {
  await backend.stop();
  await upstream.stop();
  await Deno.remove(dataDir, { recursive: true }).catch(() => {});
}
