/**
 * The worker that reads an encoding's ranks from gpt-tokenizer and builds its
 * {@link BpeTable}. The ranks module (200 000 strings, 25 MB of heap) is
 * loaded only in this short-lived isolate; the typed arrays are transferred
 * back and the isolate ends with the strings.
 * @module
 */

/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />

import { buildBpeTable, type RankEntry } from "./bpe_table.ts";

async function ranksOf(encoding: string): Promise<readonly RankEntry[]> {
  // Literal specifiers, so `deno compile` and `deno cache` see both.
  if (encoding === "cl100k_base") {
    return (await import("gpt-tokenizer/bpeRanks/cl100k_base")).default;
  }
  return (await import("gpt-tokenizer/bpeRanks/o200k_base")).default;
}

self.onmessage = async (e: MessageEvent<string>) => {
  try {
    const table = buildBpeTable(await ranksOf(e.data));
    const transfer = [table.bytes.buffer, table.offsets.buffer, table.slots.buffer];
    self.postMessage({ table }, { transfer: transfer as ArrayBuffer[] });
  } catch (err) {
    self.postMessage({ error: err instanceof Error ? err.message : String(err) });
  }
};
