/**
 * Runs `main.ts` with two probes that split a chunk's forwarding delay, for
 * `bench/trace_delay.ts`: when the server's JavaScript reads a stamped chunk
 * from an upstream socket (`read`, a patch of the TCP connection's `read`) and
 * when it hands the SSE frame to the HTTP server (`send`, a patch of
 * `ReadableStreamDefaultController.prototype.enqueue`), each minus the fake
 * upstream's stamp. SIGUSR2 writes the samples' percentiles as one JSON line
 * to the file named by `BENCH_TRACE_OUT` and starts new samples (SIGUSR1
 * would open the runtime's inspector). The probes decode every chunk,
 * so this server is slower than `main.ts`: it splits the delay, it does not
 * measure the throughput.
 * @module
 */

import { main } from "../main.ts";
import { percentile, recordStamps, Samples, wallNow } from "./stats.ts";

const decoder = new TextDecoder();
let read = new Samples();
let send = new Samples();

function stampsOf(bytes: Uint8Array, into: Samples): void {
  // Only chunks that can hold a stamp, `[t=…]`, are decoded.
  if (bytes.length > 8) recordStamps(decoder.decode(bytes), wallNow(), into);
}

// The TCP connection's class is not a global: take it from a connection.
const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
const probe = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
const accepted = await listener.accept();
const connProto = Object.getPrototypeOf(probe) as {
  read(p: Uint8Array): Promise<number | null>;
};
probe.close();
accepted.close();
listener.close();
const originalRead = connProto.read;
connProto.read = async function (this: unknown, p: Uint8Array) {
  const n = await originalRead.call(this, p);
  if (n !== null && n > 0) stampsOf(p.subarray(0, n), read);
  return n;
};
const originalEnqueue = ReadableStreamDefaultController.prototype.enqueue;
ReadableStreamDefaultController.prototype.enqueue = function (
  this: ReadableStreamDefaultController,
  chunk: unknown,
) {
  if (chunk instanceof Uint8Array) stampsOf(chunk, send);
  return originalEnqueue.call(this, chunk);
};

/** The percentiles of one probe's samples, ms. */
export interface ProbeSummary {
  n: number;
  p50: number;
  p90: number;
  p99: number;
}

const summary = (s: Samples): ProbeSummary => {
  const sorted = s.sorted();
  return {
    n: s.size,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
  };
};
Deno.addSignalListener("SIGUSR2", () => {
  const out = Deno.env.get("BENCH_TRACE_OUT");
  const line = JSON.stringify({ read: summary(read), send: summary(send) }) + "\n";
  read = new Samples();
  send = new Samples();
  if (out) Deno.writeTextFileSync(out, line);
});

await main(Deno.args);
