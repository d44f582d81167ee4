/**
 * The ids of new conversations and messages: UUIDv7 (RFC 9562), a 48-bit
 * millisecond timestamp, then a 12-bit counter, then 62 random bits. Ids made
 * later sort later, so a new row's entry goes to the right edge of every
 * index keyed by an id (the primary keys, a message's conversation and
 * parent): the rows written in one commit share those pages, where random
 * UUIDv4 ids scattered one page per index and row across the file
 * (BENCHMARKS.md). They are still 128-bit UUIDs in the usual text form, so
 * clients that take ids as opaque strings see no change.
 * @module
 */

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** Random bytes drawn in bulk: one `getRandomValues` call per 409 ids. */
const pool = new Uint8Array(4096);
let poolAt = pool.length;
const bytes = new Uint8Array(16);

let lastMs = 0;
/** The counter within the millisecond (12 bits), started at a random value below 2048. */
let counter = 0;

function random(into: Uint8Array, from: number, count: number): void {
  if (poolAt + count > pool.length) {
    crypto.getRandomValues(pool);
    poolAt = 0;
  }
  into.set(pool.subarray(poolAt, poolAt + count), from);
  poolAt += count;
}

/**
 * A new UUIDv7, later in sort order than every one this thread made before
 * (a counter orders those of one millisecond; a clock that steps back keeps
 * the last time).
 * @example
 * ```ts
 * import { newRowId } from "./row_id.ts";
 * const a = newRowId();
 * const b = newRowId();
 * if (!(a < b) || a[14] !== "7") throw new Error("unexpected");
 * ```
 */
export function newRowId(): string {
  let ms = Date.now();
  random(bytes, 8, 8);
  if (ms > lastMs) {
    lastMs = ms;
    counter = (bytes[8] << 3 | bytes[9] >> 5) & 0x7ff;
  } else {
    ms = lastMs;
    counter++;
    if (counter > 0xfff) {
      // 4 096 ids in one millisecond: borrow the next one.
      ms = ++lastMs;
      counter = 0;
    }
  }
  bytes[0] = Math.floor(ms / 2 ** 40) & 0xff;
  bytes[1] = Math.floor(ms / 2 ** 32) & 0xff;
  bytes[2] = (ms >>> 24) & 0xff;
  bytes[3] = (ms >>> 16) & 0xff;
  bytes[4] = (ms >>> 8) & 0xff;
  bytes[5] = ms & 0xff;
  bytes[6] = 0x70 | (counter >>> 8);
  bytes[7] = counter & 0xff;
  bytes[8] = 0x80 | (bytes[8] & 0x3f);
  const b = bytes;
  return HEX[b[0]] + HEX[b[1]] + HEX[b[2]] + HEX[b[3]] + "-" + HEX[b[4]] + HEX[b[5]] + "-" +
    HEX[b[6]] + HEX[b[7]] + "-" + HEX[b[8]] + HEX[b[9]] + "-" + HEX[b[10]] + HEX[b[11]] +
    HEX[b[12]] + HEX[b[13]] + HEX[b[14]] + HEX[b[15]];
}
