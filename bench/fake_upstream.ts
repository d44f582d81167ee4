/**
 * A fast fake upstream in the OpenAI Chat Completions format, for the
 * benchmark. Run it in its own process so it never shares an event loop with
 * the server or the load generator:
 *
 *   deno run --allow-net bench/fake_upstream.ts [--port 0]
 *
 * It prints one JSON line `{"port": N}` once it listens on 127.0.0.1.
 *
 * The shape of an answer is chosen per request by a `bench-c<chunks>-d<ms>`
 * token in the model name, the last message or the `x-bench` header (the
 * legacy gRPC and WebSocket protocols carry no model, only a prompt). Each
 * chunk's text carries its send time, `[t=<epoch ms>]`, taken from
 * `performance.timeOrigin + performance.now()`, so a client can measure the
 * forwarding delay of every chunk.
 * @module
 */

import { parseArgs } from "node:util";

/** The shape of one answer. */
export interface AnswerShape {
  /** Content chunks. */
  chunks: number;
  /** Milliseconds between two chunks (0: all at once). */
  delayMs: number;
}

/** The default answer: 20 chunks, back to back. */
export const DEFAULT_SHAPE: AnswerShape = { chunks: 20, delayMs: 0 };

const SHAPE_RE = /bench-c(\d+)-d(\d+)/;
const MAX_CHUNKS = 10_000;
const MAX_DELAY_MS = 60_000;

/**
 * Reads `bench-c<chunks>-d<ms>` from any of the texts; the first match wins.
 * @param texts the model name, the last message, a header
 */
export function shapeOf(...texts: (string | null | undefined)[]): AnswerShape {
  for (const text of texts) {
    const m = text ? SHAPE_RE.exec(text) : null;
    if (m) {
      return {
        chunks: Math.min(MAX_CHUNKS, Number(m[1])),
        delayMs: Math.min(MAX_DELAY_MS, Number(m[2])),
      };
    }
  }
  return DEFAULT_SHAPE;
}

/** The wall-clock time in epoch milliseconds, with sub-millisecond precision. */
export function stampNow(): number {
  return performance.timeOrigin + performance.now();
}

const encoder = new TextEncoder();
const CHUNK_HEAD =
  'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,' +
  '"model":"bench","choices":[{"index":0,"delta":{"content":"';
const CHUNK_TAIL = '"},"finish_reason":null}]}\n\n';
const ROLE_CHUNK = encoder.encode(
  'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,' +
    '"model":"bench","choices":[{"index":0,"delta":{"role":"assistant","content":""},' +
    '"finish_reason":null}]}\n\n',
);

function contentChunk(i: number): Uint8Array {
  return encoder.encode(`${CHUNK_HEAD}w${i} [t=${stampNow().toFixed(3)}] ${CHUNK_TAIL}`);
}

function finalChunks(chunks: number, usage: boolean): Uint8Array {
  let text = 'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,' +
    '"model":"bench","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n';
  if (usage) {
    text += 'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,' +
      `"model":"bench","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":${
        chunks * 4
      },"total_tokens":${10 + chunks * 4}}}\n\n`;
  }
  return encoder.encode(text + "data: [DONE]\n\n");
}

/** One stream waiting for its next chunk. */
interface Pending {
  due: number;
  /** Sends the next chunk; returns false when the stream is over. */
  tick(): boolean;
}

/** The streams of one delay value, in due order from `head`. */
interface Queue {
  items: Pending[];
  head: number;
  timer?: ReturnType<typeof setTimeout>;
}

/**
 * The clock of every paced stream: one FIFO and one timer per delay value
 * instead of a `setTimeout` per stream and chunk. All streams of a queue wait
 * the same delay, so the queue is in due order; 9 000 streams 200 ms apart
 * would otherwise arm 45 000 timers per second in this process.
 */
class Pacer {
  #queues = new Map<number, Queue>();

  /** Runs `tick` after `delayMs`, then again after each `delayMs` while it returns true. */
  add(delayMs: number, tick: () => boolean): void {
    let q = this.#queues.get(delayMs);
    if (!q) {
      q = { items: [], head: 0 };
      this.#queues.set(delayMs, q);
    }
    q.items.push({ due: performance.now() + delayMs, tick });
    if (q.timer === undefined) this.#arm(delayMs, q);
  }

  #arm(delayMs: number, q: Queue): void {
    const wait = Math.max(0, q.items[q.head].due - performance.now());
    q.timer = setTimeout(() => this.#run(delayMs, q), wait);
  }

  #run(delayMs: number, q: Queue): void {
    q.timer = undefined;
    const now = performance.now();
    while (q.head < q.items.length && q.items[q.head].due <= now + 0.5) {
      const item = q.items[q.head++];
      if (item.tick()) {
        item.due = now + delayMs;
        q.items.push(item);
      }
    }
    if (q.head > 1024 && q.head * 2 > q.items.length) {
      q.items = q.items.slice(q.head);
      q.head = 0;
    }
    if (q.head < q.items.length) this.#arm(delayMs, q);
    else {
      q.items = [];
      q.head = 0;
    }
  }
}

const pacer = new Pacer();

function streamAnswer(shape: AnswerShape, usage: boolean, signal: AbortSignal): Response {
  let i = 0;
  let stopped = false;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(ROLE_CHUNK);
      if (shape.delayMs === 0) {
        for (; i < shape.chunks; i++) controller.enqueue(contentChunk(i));
        controller.enqueue(finalChunks(shape.chunks, usage));
        controller.close();
        return;
      }
      pacer.add(shape.delayMs, () => {
        if (stopped || signal.aborted) return false;
        try {
          controller.enqueue(contentChunk(i++));
          if (i < shape.chunks) return true;
          controller.enqueue(finalChunks(shape.chunks, usage));
          controller.close();
        } catch {
          // The client went away between two chunks.
        }
        return false;
      });
    },
    cancel() {
      stopped = true;
    },
  });
  return new Response(body, {
    headers: { "content-type": "text/event-stream", "cache-control": "no-cache" },
  });
}

function jsonAnswer(shape: AnswerShape): Response {
  const parts: string[] = [];
  for (let i = 0; i < shape.chunks; i++) parts.push(`w${i} [t=${stampNow().toFixed(3)}] `);
  const body = {
    id: "chatcmpl-bench",
    object: "chat.completion",
    created: 1700000000,
    model: "bench",
    choices: [{
      index: 0,
      message: { role: "assistant", content: parts.join("") },
      finish_reason: "stop",
    }],
    usage: {
      prompt_tokens: 10,
      completion_tokens: shape.chunks * 4,
      total_tokens: 10 + shape.chunks * 4,
    },
  };
  return new Response(JSON.stringify(body), { headers: { "content-type": "application/json" } });
}

interface CompletionBody {
  model?: string;
  stream?: boolean;
  messages?: { content?: string }[];
  "stream_options"?: { "include_usage"?: boolean };
}

/**
 * Answers one request: `POST …/chat/completions` streams or returns JSON,
 * `GET …/models` lists one model, anything else is 404.
 */
export async function handle(req: Request): Promise<Response> {
  const url = new URL(req.url);
  if (req.method === "GET" && url.pathname.endsWith("/models")) {
    return Response.json({ object: "list", data: [{ id: "bench", object: "model" }] });
  }
  if (req.method !== "POST" || !url.pathname.endsWith("/chat/completions")) {
    return new Response("not found", { status: 404 });
  }
  const body = await req.json() as CompletionBody;
  const last = body.messages?.at(-1)?.content;
  const shape = shapeOf(req.headers.get("x-bench"), body.model, last);
  if (body.stream !== true) return jsonAnswer(shape);
  return streamAnswer(shape, body.stream_options?.include_usage === true, req.signal);
}

if (import.meta.main) {
  const { values } = parseArgs({ args: Deno.args, options: { port: { type: "string" } } });
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: Number(values.port ?? 0),
    onListen: ({ port }) => {
      Deno.stdout.writeSync(encoder.encode(JSON.stringify({ port }) + "\n"));
    },
    onError: () => new Response("internal error", { status: 500 }),
  }, handle);
  Deno.addSignalListener("SIGTERM", () => server.shutdown());
  await server.finished;
}
