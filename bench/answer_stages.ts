/**
 * Where an answer's time goes: the real engine, the real sqlite store in a
 * temp dir and the OpenAI provider against the fake upstream, in this process
 * (no listener, no client hop), with 64 askers in a closed loop. The store is
 * wrapped to stamp each stage:
 *
 *   commit   the question's write, until committed (it waits for the running fsync)
 *   durable  until the question is on disk (the `start` event waits for it)
 *   stream   from `start` to the upstream's end
 *   finish   the reply's write, until on disk (the `done` event waits for it)
 *
 * and prints each stage's p50 / mean in ms and the answers per second. The
 * waits for the disk are `commit`, `durable` and `finish`.
 *
 *   deno run -A bench/answer_stages.ts [--seconds 6] [--concurrency 64] [--shape bench-c20-d0]
 *     [--data-parent /dev/shm]   (memory for a disk: what the fsyncs cost)
 * @module
 */

import { parseArgs } from "node:util";
import { parseConfig } from "../lib/config.ts";
import { createEngine } from "../lib/engine/engine.ts";
import { silentLogger } from "../lib/log.ts";
import { createProvider } from "../lib/providers/registry.ts";
import { openSqliteStore } from "../lib/store/sqlite.ts";
import { ANONYMOUS, type ConversationStore } from "../lib/store/store.ts";
import { startFakeUpstream } from "./processes.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    seconds: { type: "string", default: "6" },
    concurrency: { type: "string", default: "64" },
    shape: { type: "string", default: "bench-c20-d0" },
    // Where the temp data dir goes (e.g. /dev/shm: a store whose fsync costs nothing).
    "data-parent": { type: "string" },
  },
});
const seconds = Number(values.seconds);
const concurrency = Number(values.concurrency);

/** The stage stamps of the answer whose turn the store is writing. */
interface Stamps {
  asked: number;
  committed?: number;
  durable?: number;
  started?: number;
  streamed?: number;
  done?: number;
}

const fake = await startFakeUpstream();
const dir = await Deno.makeTempDir({
  prefix: "easybackend-stages-",
  dir: values["data-parent"],
});
const parsed = parseConfig([], {
  API_KEY: "sk-bench",
  API_BASE_URL: `http://127.0.0.1:${fake.port}/v1`,
  MODEL: values.shape!,
  DATA_DIR: dir,
  DRAFT_INTERVAL: "0",
});
if (parsed.help) throw new Error("unexpected help");
const real = await openSqliteStore(dir);
// Each ask has its own prompt, by which its startTurn finds its stamps.
const pending = new Map<string, Stamps>();
const startTurn: ConversationStore["startTurn"] = async (turn) => {
  const stamps = pending.get(turn.prompt)!;
  pending.delete(turn.prompt);
  const started = await real.startTurn(turn);
  stamps.committed = performance.now();
  started.durable.then(() => stamps.durable = performance.now(), () => {});
  return started;
};
const store = new Proxy(real, {
  get(target, prop) {
    if (prop === "startTurn") return startTurn;
    const value = Reflect.get(target, prop);
    return typeof value === "function" ? value.bind(target) : value;
  },
});
const engine = createEngine({
  store,
  provider: createProvider(parsed.config, silentLogger),
  logger: silentLogger,
  model: values.shape!,
  draftIntervalMs: 0,
});

const rows: Required<Stamps>[] = [];
const deadline = performance.now() + seconds * 1000;
const warmUntil = performance.now() + 1000;

let asks = 0;

async function asker(): Promise<void> {
  while (performance.now() < deadline) {
    const stamps: Stamps = { asked: performance.now() };
    const prompt = `hello ${asks++}`;
    pending.set(prompt, stamps);
    for await (
      const e of engine.ask({ prompt }, {
        signal: new AbortController().signal,
        requestId: "bench",
        principal: ANONYMOUS,
        logger: silentLogger,
      })
    ) {
      if (e.type === "start") stamps.started = performance.now();
      else if (e.type === "done") stamps.done = performance.now();
      else stamps.streamed = performance.now();
    }
    if (stamps.asked > warmUntil) rows.push(stamps as Required<Stamps>);
  }
}

await Promise.all(Array.from({ length: concurrency }, asker));
await real.close();
await fake.stop();
await Deno.remove(dir, { recursive: true });

function stat(name: string, values: number[]): string {
  const v = values.sort((a, b) => a - b);
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  return `${name} ${v[v.length >> 1].toFixed(2)} / ${mean.toFixed(2)}`;
}
function print(line: string): void {
  Deno.stdout.writeSync(new TextEncoder().encode(line + "\n"));
}
const measured = seconds - 1;
print(
  `${rows.length} answers in ${measured} s (${(rows.length / measured).toFixed(0)}/s), ` +
    `${concurrency} askers, ${values.shape}; stage p50 / mean ms:`,
);
print(
  [
    stat("commit", rows.map((r) => r.committed - r.asked)),
    stat("durable", rows.map((r) => r.durable - r.committed)),
    stat("stream", rows.map((r) => r.streamed - r.started)),
    stat("finish", rows.map((r) => r.done - r.streamed)),
    stat("whole", rows.map((r) => r.done - r.asked)),
  ].join(" | "),
);
