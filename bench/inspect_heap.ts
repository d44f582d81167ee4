/**
 * Asks a process started with `--inspect=127.0.0.1:<port>` for its memory over
 * the Chrome DevTools protocol: `Deno.memoryUsage()` (RSS, JS heap, external)
 * (with `--gc` also after a full garbage collection) and, with `--snapshot FILE`, a V8 heap snapshot (load it in Chrome DevTools,
 * or summarize it with `python3 bench/heap_top.py FILE`) and, with `--allocations
 * SECONDS`, where the process allocates: V8's sampling heap profiler over that
 * time, counting also what the garbage collector has freed since, printed as
 * the functions that allocated most (the GC's work comes from the rate).
 *
 *   deno run -A bench/inspect_heap.ts [--port 9229] [--gc] [--snapshot heap.heapsnapshot]
 *     [--allocations 5]
 * @module
 */

import { parseArgs } from "node:util";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    port: { type: "string", default: "9229" },
    snapshot: { type: "string" },
    gc: { type: "boolean", default: false },
    allocations: { type: "string" },
  },
});
const targets = await (await fetch(`http://127.0.0.1:${values.port}/json/list`)).json();
const ws = new WebSocket(targets[0].webSocketDebuggerUrl);
await new Promise((resolve, reject) => {
  ws.onopen = resolve;
  ws.onerror = reject;
});
let nextId = 1;
const waiting = new Map<number, (result: unknown) => void>();
const chunks: string[] = [];
ws.onmessage = (e) => {
  const msg = JSON.parse(e.data);
  if (msg.method === "HeapProfiler.addHeapSnapshotChunk") chunks.push(msg.params.chunk);
  if (msg.id !== undefined) waiting.get(msg.id)?.(msg.result);
};
function call(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
  const id = nextId++;
  ws.send(JSON.stringify({ id, method, params }));
  return new Promise((resolve) => waiting.set(id, resolve));
}

const encoder = new TextEncoder();
const out = (line: string) => Deno.stdout.writeSync(encoder.encode(line + "\n"));
await call("Runtime.enable");
const mib = (n: number) => `${(n / 1048576).toFixed(0)} MiB`;
async function printUsage(label: string): Promise<void> {
  const usage = await call("Runtime.evaluate", {
    expression: "JSON.stringify(Deno.memoryUsage())",
    returnByValue: true,
  }) as { result: { value: string } };
  const u = JSON.parse(usage.result.value) as Record<string, number>;
  out(
    `${label}rss ${mib(u.rss)}, heapTotal ${mib(u.heapTotal)}, heapUsed ${
      mib(u.heapUsed)
    }, external ${mib(u.external)}`,
  );
}
await printUsage("");
if (values.gc) {
  await call("HeapProfiler.collectGarbage");
  await printUsage("after a full GC: ");
}
if (values.snapshot) {
  await call("HeapProfiler.enable");
  await call("HeapProfiler.takeHeapSnapshot", { reportProgress: false });
  await Deno.writeTextFile(values.snapshot, chunks.join(""));
  out(`snapshot written to ${values.snapshot}`);
}
if (values.allocations) {
  const seconds = Math.max(1, Math.min(60, Number(values.allocations)));
  await call("HeapProfiler.enable");
  await call("HeapProfiler.startSampling", {
    samplingInterval: 4096,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const { profile } = await call("HeapProfiler.stopSampling") as { profile: { head: SampleNode } };
  printAllocations(profile.head, seconds);
}
ws.close();

/** A node of V8's sampling heap profile. */
interface SampleNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: SampleNode[];
}

/** Prints the functions that allocated most, by self size, per second. */
function printAllocations(head: SampleNode, seconds: number): void {
  const bySite = new Map<string, number>();
  let total = 0;
  const visit = (node: SampleNode) => {
    const f = node.callFrame;
    const site = `${f.functionName || "(anon)"} ${f.url.split("/").pop()}:${f.lineNumber + 1}`;
    bySite.set(site, (bySite.get(site) ?? 0) + node.selfSize);
    total += node.selfSize;
    for (const child of node.children) visit(child);
  };
  visit(head);
  out(`allocated ${(total / seconds / 1048576).toFixed(1)} MiB/s (sampled, every 4 KiB):`);
  for (const [site, bytes] of [...bySite].sort((a, b) => b[1] - a[1]).slice(0, 40)) {
    out(`${(bytes / seconds / 1024).toFixed(0).padStart(9)} KiB/s  ${site}`);
  }
}
