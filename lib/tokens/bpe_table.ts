/**
 * A byte-pair encoding's ranks kept outside the JS heap: the token bytes back
 * to back in one `Uint8Array`, and an open-addressed hash table from bytes to
 * rank in an `Int32Array`. gpt-tokenizer holds the same ranks as about 200 000
 * strings and a `Map` (25 MB of old space that every full garbage collection
 * marks, and that lengthens its final pause); typed arrays are never scanned.
 * @module
 */

/** The ranks of one encoding, as typed arrays that can be transferred between threads. */
export interface BpeTable {
  /** Every token's bytes, back to back. */
  bytes: Uint8Array;
  /** Rank `r`'s bytes are `bytes[offsets[r]]` up to `bytes[offsets[r + 1]]`. */
  offsets: Uint32Array;
  /** Open addressing on an FNV-1a hash: rank + 1 per slot, 0 when empty; a power of two long. */
  slots: Int32Array;
}

/** A rank entry as gpt-tokenizer's `bpeRanks` modules list them: text, or bytes when not UTF-8. */
export type RankEntry = string | readonly number[];

const encoder = new TextEncoder();

/** FNV-1a's offset basis and prime, for callers that hash while they write the bytes. */
export const FNV_BASIS = 0x811c9dc5;
/** @see FNV_BASIS */
export const FNV_PRIME = 0x01000193;

function hash(bytes: Uint8Array, start: number, end: number): number {
  let h = FNV_BASIS;
  for (let i = start; i < end; i++) h = Math.imul(h ^ bytes[i], FNV_PRIME);
  return h >>> 0;
}

/**
 * Whether bytes are well-formed UTF-8 (no overlong forms, surrogates or code
 * points past U+10FFFF), exactly as gpt-tokenizer decides whether to look a
 * byte string up among its text ranks or among its byte ranks.
 * @param bytes the bytes
 * @param start first index
 * @param end index past the last
 */
export function isValidUtf8(bytes: Uint8Array, start: number, end: number): boolean {
  let i = start;
  while (i < end) {
    const b = bytes[i];
    let n: number;
    let cp: number;
    if (b <= 0x7f) {
      i++;
      continue;
    } else if ((b & 0xe0) === 0xc0) {
      if (b <= 0xc1) return false;
      n = 2;
      cp = b & 0x1f;
    } else if ((b & 0xf0) === 0xe0) {
      n = 3;
      cp = b & 0x0f;
    } else if ((b & 0xf8) === 0xf0) {
      if (b > 0xf4) return false;
      n = 4;
      cp = b & 0x07;
    } else return false;
    if (i + n > end) return false;
    for (let j = 1; j < n; j++) {
      const c = bytes[i + j];
      if ((c & 0xc0) !== 0x80) return false;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (n === 3 && cp < 0x800) return false;
    if (n === 4 && cp < 0x10000) return false;
    if (cp >= 0xd800 && cp <= 0xdfff) return false;
    if (cp > 0x10ffff) return false;
    i += n;
  }
  return true;
}

/**
 * Builds the table from a rank list (index = rank). A byte entry that is valid
 * UTF-8 is left out: gpt-tokenizer looks valid UTF-8 up only among its text
 * entries, so it never finds such an entry, and counting must not either.
 * @param ranks the encoding's entries, in rank order
 */
export function buildBpeTable(ranks: readonly RankEntry[]): BpeTable {
  const n = ranks.length;
  let size = 0;
  for (const entry of ranks) size += typeof entry === "string" ? entry.length * 3 : entry.length;
  const scratch = new Uint8Array(size);
  const offsets = new Uint32Array(n + 1);
  let at = 0;
  for (let r = 0; r < n; r++) {
    offsets[r] = at;
    const entry = ranks[r];
    if (typeof entry === "string") {
      at += encoder.encodeInto(entry, scratch.subarray(at)).written;
    } else {
      scratch.set(entry, at);
      if (isValidUtf8(scratch, at, at + entry.length)) continue;
      at += entry.length;
    }
  }
  offsets[n] = at;
  const bytes = scratch.slice(0, at);
  let capacity = 1;
  while (capacity < n * 2) capacity *= 2;
  const slots = new Int32Array(capacity);
  const mask = capacity - 1;
  for (let r = 0; r < n; r++) {
    const start = offsets[r];
    const end = offsets[r + 1];
    if (start === end) continue;
    let s = hash(bytes, start, end) & mask;
    while (slots[s] !== 0) s = (s + 1) & mask;
    slots[s] = r + 1;
  }
  return { bytes, offsets, slots };
}

/**
 * The rank of a byte string, or -1 when it is no token.
 * @param table the encoding's table
 * @param key the bytes to look up, between start and end
 * @param start first index
 * @param end index past the last
 * @param h the bytes' FNV-1a hash, when the caller has it already
 */
export function rankOf(
  table: BpeTable,
  key: Uint8Array,
  start: number,
  end: number,
  h: number = hash(key, start, end),
): number {
  const { bytes, offsets, slots } = table;
  const mask = slots.length - 1;
  const length = end - start;
  for (let s = h & mask;; s = (s + 1) & mask) {
    const r = slots[s] - 1;
    if (r < 0) return -1;
    const at = offsets[r];
    if (offsets[r + 1] - at !== length) continue;
    let i = 0;
    while (i < length && bytes[at + i] === key[start + i]) i++;
    if (i === length) return r;
  }
}
