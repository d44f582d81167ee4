/**
 * Clients that leave, then a SIGTERM at once: does every answer still store
 * its end? Opens N slow SSE streams through a fresh EasyBackend, kills the
 * load generator (every client socket closes) once the answers stream,
 * sends SIGTERM to the server right after, then counts the replies left
 * `in_progress` in its database and the server's "cannot store the
 * incomplete reply" log lines. Both should be 0; each is a reply whose
 * streamed text was lost. (Drafts are off here: `DRAFT_INTERVAL=0`.)
 *
 *   deno run -A bench/shutdown_settle.ts [--streams 2000] [--rounds 1]
 *
 * `BENCH_BACKEND_ROOT=/tmp/old` runs another checkout's server, for a
 * before/after.
 * @module
 */

import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { DatabaseSync } from "node:sqlite";
import { startBackend, startFakeUpstream } from "./processes.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const SHAPE = "bench-c10-d500";
const encoder = new TextEncoder();
const print = (line: string) => Deno.stdout.writeSync(encoder.encode(line + "\n"));

const { values } = parseArgs({
  args: Deno.args,
  options: {
    streams: { type: "string", default: "2000" },
    rounds: { type: "string", default: "1" },
  },
});
const streams = Math.min(9000, Math.max(1, Number(values.streams)));
const rounds = Math.min(20, Math.max(1, Number(values.rounds)));

/** Runs one round; returns [replies, in_progress, with text, store errors]. */
async function round(upstreamPort: number): Promise<number[]> {
  const dataDir = await Deno.makeTempDir({ prefix: "easybackend-settle-" });
  const logs: string[] = [];
  const server = await startBackend(upstreamPort, dataDir, {
    env: { MODEL: SHAPE, DRAFT_INTERVAL: "0", LOG_LEVEL: "error" },
    logs,
  });
  const spec = {
    protocol: "http-sse",
    host: "127.0.0.1",
    port: server.ports.http,
    concurrency: streams,
    total: streams,
    durationMs: 15_000,
    rampMs: 200,
    timeoutMs: 60_000,
    shape: SHAPE,
    http: "http1",
  };
  const load = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "bench/loadgen.ts", "--spec", JSON.stringify(spec)],
    cwd: ROOT,
    stdout: "null",
    stderr: "null",
  }).spawn();
  // Every stream has started and received some of its 10 pieces (500 ms apart).
  await new Promise((r) => setTimeout(r, 2200));
  load.kill("SIGKILL");
  await server.stop(30_000);
  await load.status;
  const db = new DatabaseSync(`${dataDir}/easybackend.db`, { readOnly: true });
  const row = db.prepare(
    `SELECT count(*) AS n, sum(status = 'in_progress') AS open, sum(length(content) > 0) AS text
     FROM messages WHERE role = 'assistant'`,
  ).get() as Record<string, number>;
  db.close();
  await Deno.remove(dataDir, { recursive: true });
  const errors = logs.filter((l) => l.includes("cannot store the incomplete reply")).length;
  return [Number(row.n), Number(row.open ?? 0), Number(row.text ?? 0), errors];
}

const upstream = await startFakeUpstream();
try {
  print(`| round | replies | left in_progress | with text | store errors in the log |`);
  print(`| --- | --- | --- | --- | --- |`);
  for (let i = 1; i <= rounds; i++) {
    const [n, open, text, errors] = await round(upstream.port);
    print(`| ${i} | ${n} | ${open} | ${text} | ${errors} |`);
  }
} finally {
  await upstream.stop();
}
