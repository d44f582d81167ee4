/**
 * One load run in its own process. Reads a {@link LoadSpec} as JSON from the
 * `--spec` flag, runs `concurrency` workers that each ask one question after
 * another until `total` requests have started or `durationMs` has passed, and
 * prints one JSON line: the {@link LoadResult}.
 *
 *   deno run --allow-net --allow-read --allow-env bench/loadgen.ts --spec '{…}'
 * @module
 */

import { parseArgs } from "node:util";
import {
  backendJson,
  backendSse,
  type ClientTarget,
  directJson,
  directSse,
  type HttpClientName,
  type LoadClient,
} from "./clients_http.ts";
import { grpcLegacy, grpcTyped } from "./clients_grpc.ts";
import { wsJson, wsLegacy } from "./clients_ws.ts";
import { Recorder, RequestProbe } from "./recorder.ts";

/** The protocols a load run can speak. */
export const PROTOCOLS = [
  "direct-sse",
  "direct-json",
  "http-sse",
  "http-json",
  "ws-legacy",
  "ws-json",
  "grpc-legacy",
  "grpc-typed",
] as const;

/** One protocol. */
export type ProtocolName = typeof PROTOCOLS[number];

/** What one load run does. */
export interface LoadSpec {
  protocol: ProtocolName;
  host: string;
  port: number;
  /** Concurrent workers (streams in flight). */
  concurrency: number;
  /** At most this many requests start (warm-up included). */
  total: number;
  /** No request starts after this many ms. */
  durationMs: number;
  /** Requests started during the first ms are not counted. @default 0 */
  warmupMs?: number;
  /** Workers start spread over this many ms, to avoid a connect storm. @default 0 */
  rampMs?: number;
  /** One request fails after this many ms. */
  timeoutMs: number;
  /** The answer shape, `bench-c<chunks>-d<ms>`. */
  shape: string;
  /** The HTTP protocols' client. @default "fetch" */
  http?: HttpClientName;
}

function makeClient(spec: LoadSpec): LoadClient {
  const t: ClientTarget = {
    host: spec.host,
    port: spec.port,
    shape: spec.shape,
    http: spec.http,
  };
  switch (spec.protocol) {
    case "direct-sse":
      return directSse(t);
    case "direct-json":
      return directJson(t);
    case "http-sse":
      return backendSse(t);
    case "http-json":
      return backendJson(t);
    case "ws-legacy":
      return wsLegacy(t);
    case "ws-json":
      return wsJson(t);
    case "grpc-legacy":
      return grpcLegacy(t, spec.concurrency);
    case "grpc-typed":
      return grpcTyped(t, spec.concurrency);
  }
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs one load and returns its result.
 * @param spec what to run
 */
export async function runLoad(spec: LoadSpec) {
  const client = makeClient(spec);
  const warm = new Recorder();
  const main = new Recorder();
  const t0 = performance.now();
  const warmupEnd = t0 + (spec.warmupMs ?? 0);
  const stopAt = t0 + spec.durationMs;
  let started = 0;
  const worker = async (i: number) => {
    const ramp = spec.rampMs ?? 0;
    if (ramp > 0) await delay((ramp * i) / spec.concurrency);
    let w;
    try {
      w = await client.worker();
    } catch (err) {
      main.error(err);
      return;
    }
    try {
      while (started < spec.total && performance.now() < stopAt) {
        started++;
        const rec = performance.now() < warmupEnd ? warm : main;
        const signal = AbortSignal.timeout(spec.timeoutMs);
        try {
          await w.ask(new RequestProbe(rec), signal);
        } catch (err) {
          rec.error(err);
        }
      }
    } finally {
      w.close();
    }
  };
  await Promise.all(Array.from({ length: spec.concurrency }, (_, i) => worker(i)));
  const end = performance.now();
  client.close();
  return main.result({
    protocol: spec.protocol,
    target: `${spec.host}:${spec.port}`,
    concurrency: spec.concurrency,
    elapsedMs: end - Math.min(end, Math.max(t0, warmupEnd)),
    warmupRequests: warm.ok,
  });
}

if (import.meta.main) {
  const { values } = parseArgs({ args: Deno.args, options: { spec: { type: "string" } } });
  const spec = JSON.parse(values.spec ?? "{}") as LoadSpec;
  const result = await runLoad(spec);
  Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify(result) + "\n"));
  // Sockets of the HTTP client pool may linger; the run is over.
  Deno.exit(0);
}
