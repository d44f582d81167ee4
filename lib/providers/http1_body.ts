/**
 * The response of the HTTP/1.1 client: its status and headers, and a body
 * read straight from the connection's buffer into the caller's array, framed
 * by Content-Length, chunked encoding or the connection's close.
 * @module
 */

import { ChunkedDecoder } from "./http1_chunked.ts";
import type { Http1Conn } from "./http1_conn.ts";
import { Framing, responseError, type ResponseHead } from "./http1_head.ts";

/** A response whose body is read on demand. */
export interface Http1Response {
  /** The status code. */
  readonly status: number;
  /** Whether the status is 200–299. */
  readonly ok: boolean;
  /** The response headers (case-insensitive; repeated ones joined). */
  readonly headers: Headers;
  /**
   * Reads body bytes into `into` (decoded from chunked framing).
   * @returns the count, or null at the end
   * @throws {TypeError} when the body is content-encoded; use {@link text}
   */
  read(into: Uint8Array): Promise<number | null>;
  /**
   * Reads body bytes without a copy to the caller: a view of the connection's
   * own buffer (chunked framing removed), valid until the next read or
   * cancel. The least memory per open stream: no second buffer.
   * @returns the bytes, or null at the end
   * @throws {TypeError} when the body is content-encoded; use {@link text}
   */
  readView(): Promise<Uint8Array | null>;
  /**
   * The whole body as UTF-8 text, decompressed when gzip or deflate encoded.
   * @param limit the most body bytes read; the rest is cancelled
   * @default limit 1048576
   */
  text(limit?: number): Promise<string>;
  /** Stops reading; the connection is closed unless the body was read to its end. Idempotent. */
  cancel(): Promise<void>;
  /**
   * The caller needs no more of the body (its answer is complete: an event
   * stream sent its end marker). A body that has ended frees its connection
   * for the next request at once; else the rest is read and dropped in the
   * background, at most 64 KiB within 2 s, and the connection is reused if
   * the body ends by then, closed otherwise.
   */
  release(): void;
}

/** The request a body belongs to: its signal, and where its connection goes afterwards. */
export interface BodyOwner {
  /** The request's signal, if any. */
  readonly signal: AbortSignal | undefined;
  /**
   * Ends the request: removes the abort listener, and returns the connection
   * to the pool when `reuse`, else closes it.
   */
  finish(conn: Http1Conn, reuse: boolean): void;
}

const DEFAULT_TEXT_LIMIT = 1024 * 1024;
/** The most body bytes {@link Http1Response.release} reads and drops to reuse a connection. */
const DRAIN_BYTES = 64 * 1024;
/** How long {@link Http1Response.release} waits for the body's end. */
const DRAIN_MS = 2000;
const decoder = new TextDecoder();

/**
 * The error to throw for a failure while reading: the signal's reason after
 * an abort, our own TypeErrors as they are, anything else wrapped.
 * @param e what was thrown
 * @param signal the request's signal
 */
export function readFailure(e: unknown, signal: AbortSignal | undefined): unknown {
  if (signal?.aborted) return signal.reason;
  if (e instanceof TypeError && e.message.startsWith("Cannot ")) return e;
  return responseError(e instanceof Error ? e.message : String(e), e);
}

/** The {@link Http1Response} over one connection. */
export class Http1Body implements Http1Response {
  readonly status: number;
  readonly ok: boolean;
  readonly headers: Headers;
  #conn: Http1Conn;
  #owner: BodyOwner;
  #framing: Framing;
  #remaining: number;
  #keepAlive: boolean;
  #chunked: ChunkedDecoder | null = null;
  #encoding: string | null;
  #done = false;
  // What a failed read threw; later reads throw it again.
  #failure: unknown = undefined;
  // What `read` could not fit into its caller's array, handed out first next time.
  #left: Uint8Array | null = null;

  /**
   * @param conn the connection, its buffer at the first body byte
   * @param head the parsed head
   * @param owner the request
   * @param maxHeaderBytes the most trailer bytes accepted
   */
  constructor(conn: Http1Conn, head: ResponseHead, owner: BodyOwner, maxHeaderBytes: number) {
    this.status = head.status;
    this.ok = head.status >= 200 && head.status <= 299;
    this.headers = head.headers;
    this.#conn = conn;
    this.#owner = owner;
    this.#framing = head.framing;
    this.#remaining = head.length;
    this.#keepAlive = head.keepAlive;
    const enc = head.headers.get("content-encoding")?.trim().toLowerCase() ?? "";
    this.#encoding = enc === "" || enc === "identity" ? null : enc;
    if (head.framing === Framing.Chunked) this.#chunked = new ChunkedDecoder(maxHeaderBytes);
    if (head.framing === Framing.None) this.#end();
  }

  async read(into: Uint8Array): Promise<number | null> {
    if (this.#encoding !== null) {
      throw responseError(`content-encoding ${this.#encoding} is not supported`);
    }
    if (into.length === 0 && this.#left === null && !this.#done) return 0;
    const view = await this.#nextView();
    if (view === null) return null;
    const n = Math.min(view.length, into.length);
    into.set(n === view.length ? view : view.subarray(0, n));
    // The rest stays valid: the buffer is not read into again before it is taken.
    if (n < view.length) this.#left = view.subarray(n);
    return n;
  }

  readView(): Promise<Uint8Array | null> {
    if (this.#encoding !== null) {
      return Promise.reject(responseError(`content-encoding ${this.#encoding} is not supported`));
    }
    return this.#nextView();
  }

  /** The next body bytes as a view (what `read` left first), or null at the end. */
  async #nextView(): Promise<Uint8Array | null> {
    const left = this.#left;
    if (left !== null) {
      this.#left = null;
      return left;
    }
    if (this.#failure !== undefined) throw this.#failure;
    if (this.#done) return null;
    const conn = this.#conn;
    try {
      if (this.#owner.signal?.aborted) throw this.#owner.signal.reason;
      for (;;) {
        const view = this.#decodeView();
        if (view !== null) return view;
        if (this.#done) return null;
        if (!(await conn.fill())) this.#endOfStream();
      }
    } catch (e) {
      if (this.#done) return null; // cancelled while reading
      this.#close();
      throw this.#failure = readFailure(e, this.#owner.signal);
    }
  }

  /**
   * The buffered body bytes as a view of the connection's buffer, or null when
   * none. The last bytes of a body are copied: once it ends, the connection
   * (and its buffer) may serve the next request.
   */
  #decodeView(): Uint8Array | null {
    const conn = this.#conn;
    let from = conn.start;
    let n: number;
    let ended: boolean;
    if (this.#chunked !== null) {
      ({ from, count: n } = this.#chunked.decodeInPlace(conn));
      ended = this.#chunked.done;
    } else {
      n = conn.end - conn.start;
      if (this.#framing === Framing.Length) n = Math.min(n, this.#remaining);
      conn.start += n;
      this.#remaining -= n;
      ended = this.#framing === Framing.Length && this.#remaining === 0;
    }
    const view = n === 0
      ? null
      : ended
      ? conn.buf.slice(from, from + n)
      : conn.buf.subarray(from, from + n);
    if (ended) this.#end();
    return view;
  }

  #endOfStream(): void {
    if (this.#framing === Framing.Close) {
      this.#keepAlive = false;
      this.#end();
      return;
    }
    throw responseError(
      this.#framing === Framing.Length
        ? `the body ended ${this.#remaining} bytes before its content-length`
        : "the body ended inside a chunk",
    );
  }

  /** The body was read to its end: the connection may serve the next request. */
  #end(): void {
    this.#done = true;
    const conn = this.#conn;
    this.#owner.finish(conn, this.#keepAlive && conn.start === conn.end);
  }

  #close(): void {
    if (this.#done) return;
    this.#done = true;
    this.#owner.finish(this.#conn, false);
  }

  async text(limit = DEFAULT_TEXT_LIMIT): Promise<string> {
    const raw = await this.#collect(limit);
    if (this.#encoding === null) return decoder.decode(raw);
    if (this.#encoding !== "gzip" && this.#encoding !== "x-gzip" && this.#encoding !== "deflate") {
      throw responseError(`content-encoding ${this.#encoding} is not supported`);
    }
    return decoder.decode(await decompress(raw, this.#encoding, limit));
  }

  /** Up to `limit` body bytes; cancels what is left. */
  async #collect(limit: number): Promise<Uint8Array> {
    let out = new Uint8Array(Math.min(limit, 16 * 1024));
    let total = 0;
    for (let view; total < limit && (view = await this.#nextView()) !== null;) {
      const n = Math.min(view.length, limit - total);
      if (total + n > out.length) {
        const bigger = new Uint8Array(Math.min(limit, Math.max(out.length * 2, total + n)));
        bigger.set(out.subarray(0, total));
        out = bigger;
      }
      out.set(n === view.length ? view : view.subarray(0, n), total);
      total += n;
    }
    await this.cancel();
    return out.subarray(0, total);
  }

  cancel(): Promise<void> {
    this.#left = null;
    this.#close();
    return Promise.resolve();
  }

  release(): void {
    if (this.#done) return;
    if (this.#failure !== undefined || this.#encoding !== null) return this.#close();
    void this.#drain();
  }

  async #drain(): Promise<void> {
    const timer = setTimeout(() => this.#close(), DRAIN_MS);
    try {
      let total = 0;
      while (total <= DRAIN_BYTES) {
        const view = await this.#nextView();
        if (view === null) break;
        total += view.length;
      }
    } catch {
      // The connection failed or the request was aborted: it is closed already.
    } finally {
      clearTimeout(timer);
      this.#close();
    }
  }
}

/** Decompresses a whole gzip or zlib (`deflate`) body, at most `limit` bytes of output. */
async function decompress(raw: Uint8Array, encoding: string, limit: number): Promise<Uint8Array> {
  const format = encoding === "deflate" ? "deflate" : "gzip";
  const stream = new Blob([raw as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new DecompressionStream(format));
  const reader = stream.getReader();
  const parts: Uint8Array[] = [];
  let total = 0;
  try {
    while (total < limit) {
      const { value, done } = await reader.read();
      if (done) break;
      parts.push(value);
      total += value.length;
    }
  } catch (e) {
    throw responseError(`the ${encoding} body is corrupt`, e);
  } finally {
    await reader.cancel().catch(() => {});
  }
  const out = new Uint8Array(Math.min(total, limit));
  let at = 0;
  for (const p of parts) {
    const n = Math.min(p.length, out.length - at);
    out.set(p.subarray(0, n), at);
    at += n;
  }
  return out;
}
