/**
 * The decoder of `Transfer-Encoding: chunked` (RFC 9112 section 7.1) for the
 * HTTP/1.1 client: a byte-level state machine over the connection's read
 * buffer that moves chunk data down over the framing between it, so framing
 * split at any byte boundary costs nothing extra and data is moved once.
 * @module
 */

import type { Http1Conn } from "./http1_conn.ts";
import { responseError } from "./http1_head.ts";

const LF = 0x0a;
const CR = 0x0d;

// Decoder states (plain numbers: the hot loop compares them per byte).
const SIZE = 0;
const EXTENSION = 1;
const DATA = 2;
const DATA_END = 3;
const TRAILER = 4;
const DONE = 5;

/** A hex digit's value, or -1. */
function hexValue(b: number): number {
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  if (b >= 0x61 && b <= 0x66) return b - 0x57;
  if (b >= 0x41 && b <= 0x46) return b - 0x37;
  return -1;
}

/** The state of one chunked body; {@link decodeInPlace} consumes from the connection's buffer. */
export class ChunkedDecoder {
  #state = SIZE;
  #size = 0;
  #digits = 0;
  #remaining = 0;
  #lineBytes = 0;
  #trailerBytes = 0;
  #maxTrailerBytes: number;

  /** @param maxTrailerBytes the most trailer bytes accepted */
  constructor(maxTrailerBytes: number) {
    this.#maxTrailerBytes = maxTrailerBytes;
  }

  /** Whether the last chunk and the trailers were read. */
  get done(): boolean {
    return this.#state === DONE;
  }

  /**
   * Decodes the buffered bytes of `conn` in place: the data bytes are moved
   * down over the framing between them, so the decoded data of everything
   * buffered lies at `conn.buf[from..from + count]`, with no second buffer.
   * The bytes are consumed; they stay valid until the next read of `conn`.
   * @returns `from` (the start of the decoded data) and `count`
   */
  decodeInPlace(conn: Http1Conn): { from: number; count: number } {
    const buf = conn.buf;
    const from = conn.start;
    let i = from;
    let w = from;
    const end = conn.end;
    while (i < end && this.#state !== DONE) {
      if (this.#state === DATA) {
        const n = Math.min(this.#remaining, end - i);
        if (w !== i) buf.copyWithin(w, i, i + n);
        i += n;
        w += n;
        this.#remaining -= n;
        if (this.#remaining === 0) this.#state = DATA_END;
        continue;
      }
      this.#step(buf[i++]);
    }
    conn.start = i;
    return { from, count: w - from };
  }

  /** One framing byte. */
  #step(b: number): void {
    switch (this.#state) {
      case SIZE:
        return this.#sizeByte(b);
      case EXTENSION:
        if (b === LF) this.#endSizeLine();
        return;
      case DATA_END:
        if (b === LF) this.#state = SIZE;
        else if (b !== CR) throw responseError("missing line end after chunk data");
        return;
      case TRAILER:
        return this.#trailerByte(b);
    }
  }

  #sizeByte(b: number): void {
    const v = hexValue(b);
    if (v >= 0) {
      if (++this.#digits > 13) throw responseError("chunk size too large");
      this.#size = this.#size * 16 + v;
      return;
    }
    if (this.#digits === 0) throw responseError("invalid chunk size");
    if (b === LF) this.#endSizeLine();
    else if (b === CR || b === 0x3b || b === 0x20 || b === 0x09) this.#state = EXTENSION;
    else throw responseError("invalid chunk size");
  }

  #endSizeLine(): void {
    if (this.#size === 0) {
      this.#state = TRAILER;
      this.#lineBytes = 0;
      return;
    }
    this.#remaining = this.#size;
    this.#size = 0;
    this.#digits = 0;
    this.#state = DATA;
  }

  /** Trailer lines are read and dropped; an empty line ends the body. */
  #trailerByte(b: number): void {
    if (b === LF) {
      if (this.#lineBytes === 0) this.#state = DONE;
      this.#lineBytes = 0;
    } else if (b !== CR) {
      this.#lineBytes++;
      if (++this.#trailerBytes > this.#maxTrailerBytes) {
        throw responseError(`the trailers are over ${this.#maxTrailerBytes} bytes`);
      }
    }
  }
}
