/**
 * The benchmark's scenarios: what runs DIRECT (A, the client straight to the
 * fake upstream) and through EasyBackend (B), and the target each must meet.
 * @module
 */

import type { LoadSpec, ProtocolName } from "./loadgen.ts";

/** The metric a scenario's target is about. */
export type Metric = "rps" | "delay" | "complete";

/** One scenario. */
export interface Scenario {
  name: string;
  /** What it shows. */
  title: string;
  /** DIRECT protocol, or null when B is compared with another scenario's DIRECT. */
  direct: ProtocolName | null;
  /** The scenario whose DIRECT rows B is compared with, when `direct` is null. */
  directFrom?: string;
  backend: ProtocolName;
  load: Omit<LoadSpec, "protocol" | "host" | "port">;
  metric: Metric;
  /** rps: least ratio to DIRECT; delay: most p50 and p99 in ms; complete: least share. */
  target: { ratio?: number; p50?: number; p99?: number; share?: number; rssMiB?: number };
  /** Runs only with `--full`. */
  full?: boolean;
  /** Also runs the load through the byte-piping Node proxy (PIPE), the yardstick. */
  pipe?: boolean;
  /** Rounds for this scenario at most (the slow ones run once). */
  maxRounds?: number;
}

const fast = (shape: string, concurrency: number, durationMs: number) => ({
  concurrency,
  total: 200_000,
  durationMs,
  warmupMs: 500,
  rampMs: 0,
  timeoutMs: 30_000,
  shape,
});

/**
 * Every scenario, in run order.
 * @param durationMs how long one fast run lasts
 */
export function scenarios(durationMs: number): Scenario[] {
  const sse = fast("bench-c20-d0", 64, durationMs);
  const protocolRow = (backend: ProtocolName, title: string): Scenario => ({
    name: backend,
    title,
    direct: null,
    directFrom: "sse64",
    backend,
    load: sse,
    metric: "rps",
    target: {},
  });
  return [
    {
      name: "sse64",
      pipe: true,
      title: "SSE, 64 streams × 20 chunks at 0 ms, every message stored",
      direct: "direct-sse",
      backend: "http-sse",
      load: sse,
      metric: "rps",
      target: { ratio: 0.67 },
    },
    {
      name: "fwd256",
      pipe: true,
      title: "256 streams, 20 chunks 50 ms apart: forwarding delay",
      direct: "direct-sse",
      backend: "http-sse",
      load: { ...fast("bench-c20-d50", 256, durationMs + 1500), warmupMs: 1000, rampMs: 500 },
      metric: "delay",
      target: { p50: 1, p99: 15 },
    },
    {
      name: "json64",
      pipe: true,
      title: "non-streaming /ask, 64 concurrent, both rows stored",
      direct: "direct-json",
      backend: "http-json",
      load: sse,
      metric: "rps",
      target: { ratio: 0.4 },
    },
    protocolRow("ws-legacy", "WebSocket legacy, 64 sockets × 20 chunks at 0 ms"),
    protocolRow("ws-json", "WebSocket JSON, 64 sockets × 20 chunks at 0 ms"),
    protocolRow("grpc-legacy", "gRPC chat.Chat/Ask, 64 streams × 20 chunks at 0 ms"),
    protocolRow("grpc-typed", "gRPC easybackend.v1 Ask, 64 streams × 20 chunks at 0 ms"),
    ...(["http-sse", "ws-json"] as const).map((backend): Scenario => ({
      name: `slow9000-${backend}`,
      title: `9 000 slow streams (30 chunks 200 ms apart) over ${backend}`,
      direct: "direct-sse",
      backend,
      load: {
        concurrency: 9000,
        total: 9000,
        durationMs: 60_000,
        warmupMs: 0,
        rampMs: 4000,
        timeoutMs: 60_000,
        shape: "bench-c30-d200",
      },
      metric: "complete",
      target: { share: 1, rssMiB: 1024 },
      pipe: backend === "http-sse",
      full: true,
      maxRounds: 1,
    })),
  ];
}
