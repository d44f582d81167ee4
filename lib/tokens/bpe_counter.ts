/**
 * Counts the tokens of a text with a {@link BpeTable}: the encoding's regex
 * splits the text into pieces, a piece that is one token counts 1, and any
 * other piece is merged byte pair by byte pair, lowest rank first, as
 * tiktoken and gpt-tokenizer do. Scratch buffers are reused between calls, so
 * a count allocates little beyond the regex's matches.
 * @module
 */

import { type BpeTable, FNV_BASIS, FNV_PRIME, rankOf } from "./bpe_table.ts";

const NONE = 0x7fffffff;

/** Counts tokens of one encoding. */
export class BpeCounter {
  #table: BpeTable;
  #split: RegExp;
  #bytes = new Uint8Array(1024);
  #starts = new Int32Array(1025);
  #ranks = new Int32Array(1025);

  /**
   * @param table the encoding's ranks
   * @param split the encoding's pre-tokenization regex (with the `g` and `u` flags)
   */
  constructor(table: BpeTable, split: RegExp) {
    this.#table = table;
    this.#split = new RegExp(split.source, split.flags);
  }

  /** Tokens of a text, with special-token markers counted as plain text. */
  count(text: string): number {
    const split = this.#split;
    split.lastIndex = 0;
    let total = 0;
    for (let m = split.exec(text); m !== null; m = split.exec(text)) total += this.#piece(m[0]);
    return total;
  }

  #piece(piece: string): number {
    if (piece.length * 3 > this.#bytes.length) this.#grow(piece.length * 3);
    // UTF-8 as TextEncoder writes it (a lone surrogate becomes U+FFFD), and
    // its hash, in one pass: pieces are short, and a call into the runtime's
    // encoder costs more than this loop.
    const bytes = this.#bytes;
    let length = 0;
    let h = FNV_BASIS;
    let wellFormed = true;
    for (let i = 0; i < piece.length; i++) {
      let c = piece.charCodeAt(i);
      if (c < 0x80) {
        bytes[length++] = c;
        h = Math.imul(h ^ c, FNV_PRIME);
        continue;
      }
      if (c >= 0xd800 && c <= 0xdfff) {
        const d = i + 1 < piece.length ? piece.charCodeAt(i + 1) : 0;
        if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          i++;
        } else {
          c = 0xfffd;
          wellFormed = false;
        }
      }
      const start = length;
      if (c < 0x800) {
        bytes[length++] = 0xc0 | (c >> 6);
      } else if (c < 0x10000) {
        bytes[length++] = 0xe0 | (c >> 12);
        bytes[length++] = 0x80 | ((c >> 6) & 0x3f);
      } else {
        bytes[length++] = 0xf0 | (c >> 18);
        bytes[length++] = 0x80 | ((c >> 12) & 0x3f);
        bytes[length++] = 0x80 | ((c >> 6) & 0x3f);
      }
      bytes[length++] = 0x80 | (c & 0x3f);
      for (let j = start; j < length; j++) h = Math.imul(h ^ bytes[j], FNV_PRIME);
    }
    // A piece with a lone surrogate is never one token: gpt-tokenizer looks it
    // up as text first, and no token's text holds one.
    if (wellFormed && rankOf(this.#table, bytes, 0, length, h >>> 0) >= 0) return 1;
    return this.#merge(length);
  }

  #grow(bytes: number): void {
    this.#bytes = new Uint8Array(bytes);
    this.#starts = new Int32Array(bytes + 1);
    this.#ranks = new Int32Array(bytes + 1);
  }

  /** The number of parts left when no adjacent pair of parts is a token. */
  #merge(length: number): number {
    const starts = this.#starts;
    const ranks = this.#ranks;
    let n = length + 1;
    for (let i = 0; i < n; i++) {
      starts[i] = i;
      ranks[i] = i < length - 1 ? this.#rank(i, i + 2) : NONE;
    }
    while (n > 1) {
      let lowest = NONE;
      let at = -1;
      for (let i = 0; i < n - 1; i++) {
        if (ranks[i] < lowest) {
          lowest = ranks[i];
          at = i;
        }
      }
      if (at < 0) break;
      starts.copyWithin(at + 1, at + 2, n);
      ranks.copyWithin(at, at + 1, n);
      n--;
      ranks[at] = at + 2 < n ? this.#rank(starts[at], starts[at + 2]) : NONE;
      if (at > 0) ranks[at - 1] = at + 1 < n ? this.#rank(starts[at - 1], starts[at + 1]) : NONE;
    }
    return n - 1;
  }

  #rank(start: number, end: number): number {
    const r = rankOf(this.#table, this.#bytes, start, end);
    return r < 0 ? NONE : r;
  }
}
