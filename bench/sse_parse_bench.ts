/**
 * Micro-benchmark of the SSE parser (lib/sse/parse.ts): a 1 MiB stream of
 * Chat Completions chunks fed in one-byte chunks and in 64 KiB chunks.
 * MB/s = 1 MiB / the reported time per iteration.
 *
 *   deno bench bench/sse_parse_bench.ts
 * @module
 */

import { parseSSE } from "../lib/sse/parse.ts";

const CHUNK =
  'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,' +
  '"model":"bench","choices":[{"index":0,"delta":{"content":"Bonjour à tous "},' +
  '"finish_reason":null}]}\n\n';

function payload(bytes: number): Uint8Array {
  return new TextEncoder().encode(CHUNK.repeat(Math.ceil(bytes / CHUNK.length)));
}

const MIB = payload(1 << 20);
const SMALL = payload(64 << 10);

function split(bytes: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size));
  return out;
}

const LARGE_CHUNKS = split(MIB, 64 << 10);
const BYTE_CHUNKS = split(SMALL, 1);

async function count(chunks: Uint8Array[]): Promise<number> {
  let n = 0;
  for await (const _ of parseSSE(ReadableStream.from(chunks))) n++;
  return n;
}

Deno.bench({
  name: "parseSSE 1 MiB in 64 KiB chunks",
  group: "sse",
  baseline: true,
  async fn() {
    await count(LARGE_CHUNKS);
  },
});

Deno.bench({
  name: "parseSSE 64 KiB in 1-byte chunks",
  group: "sse",
  async fn() {
    await count(BYTE_CHUNKS);
  },
});
