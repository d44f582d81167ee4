/**
 * How long the event loop stalls while the store writes: `--askers` concurrent
 * askers each start a turn, wait `--wait` ms (the answer streaming), and finish
 * it, for `--seconds`; a 1 ms interval timer records the gaps between its
 * ticks. A gap far over 1 ms is a stall every stream of the process shares (a
 * checkpoint inside a commit, a garbage collection). Another checkout's store
 * can be measured the same way for a before/after; a slower disk can be
 * simulated by delaying its fsyncs with strace (BENCHMARKS.md).
 *
 *   deno run -A bench/store_stalls.ts [--root /tmp/old] [--askers 64] [--wait 280] [--seconds 15]
 * @module
 */

import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    root: { type: "string", default: new URL("..", import.meta.url).pathname },
    askers: { type: "string", default: "64" },
    wait: { type: "string", default: "280" },
    seconds: { type: "string", default: "15" },
    "data-parent": { type: "string" },
  },
});
const root = values.root!.replace(/\/$/, "");
const { openSqliteStore } = await import(`${root}/lib/store/sqlite.ts`);
const dir = await Deno.makeTempDir({ dir: values["data-parent"], prefix: "eb-stalls-" });
const store = await openSqliteStore(dir);
const reply = "a reply of some words here ".repeat(40);
const waitMs = Number(values.wait);
let stop = false;
let turns = 0;

async function asker(): Promise<void> {
  while (!stop) {
    const turn = await store.startTurn({
      newConversation: { owner: "bench", title: "bench" },
      parentId: null,
      prompt: "hello there ".repeat(20),
      model: "m",
      promptTokens: { encoding: "o200k_base", count: 41 },
    });
    await turn.durable;
    await new Promise((r) => setTimeout(r, waitMs));
    await store.finishMessage(turn.assistant.id, {
      content: reply,
      status: "complete",
      model: "m",
      finishReason: "stop",
      usage: { promptTokens: 41, completionTokens: 240, totalTokens: 281 },
      tokens: { encoding: "o200k_base", count: 240 },
    });
    turns++;
  }
}

const gaps: number[] = [];
let last = performance.now();
const ticker = setInterval(() => {
  const now = performance.now();
  gaps.push(now - last);
  last = now;
}, 1);
const seconds = Number(values.seconds);
const timer = setTimeout(() => stop = true, seconds * 1000);
await Promise.all(Array.from({ length: Number(values.askers) }, asker));
clearInterval(ticker);
clearTimeout(timer);
await store.close();
await Deno.remove(dir, { recursive: true });

gaps.sort((a, b) => a - b);
const q = (p: number) => gaps[Math.min(gaps.length - 1, Math.floor(p * gaps.length))];
const over = (ms: number) => gaps.filter((g) => g > ms).length;
const line = `${root}: ${(turns / seconds).toFixed(0)} turns/s; event-loop gaps p99 ${
  q(0.99).toFixed(1)
} / p99.9 ${q(0.999).toFixed(1)} / max ${gaps.at(-1)!.toFixed(1)} ms; over 5 ms: ${
  over(5)
}, over 10 ms: ${over(10)}, over 20 ms: ${over(20)}`;
Deno.stdout.writeSync(new TextEncoder().encode(line + "\n"));
