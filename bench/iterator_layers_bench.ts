/**
 * Micro-benchmark: what an async-generator layer costs per event, against a
 * hand-written iterator doing the same work (1 000 events per iteration, each
 * from an already settled read). It tells how much collapsing the layers
 * between the upstream socket and the SSE frame can save per chunk
 * (BENCHMARKS.md, seventh round).
 *
 *   deno bench bench/iterator_layers_bench.ts
 * @module
 */

type Event = { type: "delta"; text: string };
const EVENTS = 1000;
const BYTES = new Uint8Array(1);

function source(): () => Promise<Uint8Array | null> {
  let i = 0;
  return () => Promise.resolve(i++ < EVENTS ? BYTES : null);
}

async function* inner(next: () => Promise<Uint8Array | null>): AsyncGenerator<Event> {
  for (;;) {
    if ((await next()) === null) return;
    yield { type: "delta", text: "x" };
  }
}

async function* layered(
  next: () => Promise<Uint8Array | null>,
  depth: number,
): AsyncGenerator<Event> {
  if (depth === 1) {
    yield* inner(next);
    return;
  }
  for await (const e of layered(next, depth - 1)) yield e;
}

class Hand implements AsyncIterator<Event> {
  #next: () => Promise<Uint8Array | null>;
  constructor(next: () => Promise<Uint8Array | null>) {
    this.#next = next;
  }
  next(): Promise<IteratorResult<Event>> {
    return this.#next().then((b): IteratorResult<Event> =>
      b === null
        ? { done: true, value: undefined }
        : { done: false, value: { type: "delta", text: "x" } }
    );
  }
}

async function drain(it: AsyncIterator<Event>): Promise<void> {
  for (let r = await it.next(); !r.done; r = await it.next());
}

Deno.bench({ name: "hand-written iterator", group: "layers", baseline: true }, async () => {
  await drain(new Hand(source()));
});
for (const depth of [1, 2, 4]) {
  Deno.bench({ name: `${depth} async generator layer(s)`, group: "layers" }, async () => {
    await drain(layered(source(), depth));
  });
}
