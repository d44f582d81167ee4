/**
 * Loads an encoding's {@link BpeTable} in a worker (`load_worker.ts`), so the
 * rank strings it is built from never enter this isolate's heap.
 * @module
 */

import type { EncodingName } from "../tokens.ts";
import type { BpeTable } from "./bpe_table.ts";

/**
 * Builds the table of an encoding in a worker and ends the worker.
 * @param encoding "o200k_base" or "cl100k_base"
 */
export function loadBpeTable(encoding: EncodingName): Promise<BpeTable> {
  const worker = new Worker(new URL("./load_worker.ts", import.meta.url), { type: "module" });
  return new Promise<BpeTable>((resolve, reject) => {
    worker.onmessage = (e: MessageEvent<{ table?: BpeTable; error?: string }>) => {
      worker.terminate();
      if (e.data.table) resolve(e.data.table);
      else reject(new Error(`Cannot load the ${encoding} token ranks: ${e.data.error}`));
    };
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      worker.terminate();
      reject(new Error(`Cannot load the ${encoding} token ranks: ${e.message}`));
    };
    worker.postMessage(encoding);
  });
}
