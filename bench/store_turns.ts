/**
 * The store alone: 6 000 turns (`startTurn`, its durability, `finishMessage`)
 * by 64 concurrent askers, as the engine makes them; prints the CPU of the
 * process (all its threads) per turn and turns/s.
 * Another checkout's store can be measured the same way for a before/after.
 *
 *   deno run -A bench/store_turns.ts [checkout root, default: this one] [reply characters, default 26]
 * @module
 */

import process from "node:process";

const root = Deno.args[0] ?? new URL("..", import.meta.url).pathname;
const { openSqliteStore } = await import(`${root.replace(/\/$/, "")}/lib/store/sqlite.ts`);
const dir = await Deno.makeTempDir({ prefix: "easybackend-store-bench-" });
const store = await openSqliteStore(dir);
const TURNS = 6000;
const REPLY = Deno.args[1]
  ? "a reply ".repeat(Math.ceil(Number(Deno.args[1]) / 8)).slice(0, Number(Deno.args[1]))
  : "a reply of some words here";
const CONCURRENCY = 64;
let started = 0;

async function asker(): Promise<void> {
  while (started < TURNS) {
    started++;
    const turn = await store.startTurn({
      newConversation: { owner: "bench", title: "bench" },
      parentId: null,
      prompt: "hello there",
      model: "m",
      promptTokens: { encoding: "o200k_base", count: 3 },
    });
    await turn.durable;
    await store.finishMessage(turn.assistant.id, {
      content: REPLY,
      status: "complete",
      model: "m",
      finishReason: "stop",
      usage: { promptTokens: 3, completionTokens: 5, totalTokens: 8 },
      tokens: { encoding: "o200k_base", count: 5 },
    });
  }
}

try {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, asker));
  const cpu = process.cpuUsage(cpu0);
  const ms = performance.now() - t0;
  const line =
    `${root} (${REPLY.length}-character replies): ${
      ((cpu.user + cpu.system) / 1000 / TURNS).toFixed(3)
    } ms CPU per turn, ` +
    `${(TURNS / ms * 1000).toFixed(0)} turns/s`;
  Deno.stdout.writeSync(new TextEncoder().encode(line + "\n"));
} finally {
  await store.close();
  await Deno.remove(dir, { recursive: true });
}
