/**
 * The floor of a backend that reads what it relays: `Deno.serve` in front of
 * the fake upstream, calling it with the project's own HTTP/1.1 client
 * (`lib/providers/http1.ts`) and SSE decoder (`lib/sse/parse.ts`) as
 * EasyBackend does, parsing every chunk's JSON and writing it back out as a
 * new chunk, the events of one read in one write. It stores nothing and has
 * no engine, limits, auth, metrics or logging: what EasyBackend adds beyond
 * this is its own cost; what this costs beyond the byte pipe is the cost of
 * reading the text at all on this runtime.
 *
 *   deno run --allow-net bench/parse_proxy.ts <upstream port>
 *
 * It speaks the upstream's own protocol (OpenAI Chat Completions, streamed
 * or not), so the DIRECT load clients drive it, and prints one JSON line
 * `{"port": N}` once it listens on 127.0.0.1.
 * @module
 */

import { Http1Client } from "../lib/providers/http1.ts";
import { SSEDecoder } from "../lib/sse/parse.ts";

const upstream = `http://127.0.0.1:${Number(Deno.args[0])}`;
const client = new Http1Client();
const encoder = new TextEncoder();
const DONE = encoder.encode("data: [DONE]\n\n");

interface Chunk {
  choices?: { index?: number; delta?: { content?: string }; finish_reason?: string | null }[];
  usage?: unknown;
}

/** One upstream chunk, parsed and written anew (the text, the finish reason, the usage). */
function reframe(data: string): string {
  const chunk = JSON.parse(data) as Chunk;
  const choice = chunk.choices?.[0];
  const out = {
    object: "chat.completion.chunk",
    choices: choice
      ? [{
        index: 0,
        delta: { content: choice.delta?.content ?? "" },
        finish_reason: choice.finish_reason ?? null,
      }]
      : [],
    usage: chunk.usage ?? null,
  };
  return `data: ${JSON.stringify(out)}\n\n`;
}

function relayEvents(
  res: Awaited<ReturnType<Http1Client["request"]>>,
  signal: AbortSignal,
): ReadableStream<Uint8Array> {
  const decoder = new SSEDecoder();
  let ended = false;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      while (!ended) {
        const view = await res.readView();
        if (view === null) {
          ended = true;
          controller.close();
          return;
        }
        const events = decoder.push(view);
        if (events === null) continue;
        let text = "";
        for (const e of events) {
          if (e.data === "[DONE]") ended = true;
          else text += reframe(e.data);
        }
        if (text !== "") controller.enqueue(encoder.encode(text));
        if (ended) {
          controller.enqueue(DONE);
          controller.close();
          res.release();
        }
        return;
      }
    },
    cancel() {
      ended = true;
      if (!signal.aborted) res.cancel();
    },
  }, { highWaterMark: 0 });
}

const server = Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ port }) => Deno.stdout.writeSync(encoder.encode(JSON.stringify({ port }) + "\n")),
}, async (req) => {
  const body = await req.bytes();
  const streamed = (JSON.parse(new TextDecoder().decode(body)) as { stream?: boolean }).stream;
  const res = await client.request(upstream + new URL(req.url).pathname, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
    signal: req.signal,
  });
  if (!streamed) {
    const answer = JSON.parse(await res.text());
    return Response.json(answer, { status: res.status });
  }
  return new Response(relayEvents(res, req.signal), {
    status: res.status,
    headers: { "content-type": "text/event-stream", "cache-control": "no-cache" },
  });
});
Deno.addSignalListener("SIGTERM", () => server.shutdown());
await server.finished;
client.close();
