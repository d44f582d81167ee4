/**
 * One upstream socket of the HTTP/1.1 client: the `Deno.TcpConn` or
 * `Deno.TlsConn`, one reused read buffer with a window of unread bytes
 * (`start`..`end`), and the idle watch that notices a server closing a
 * kept-alive connection.
 * @module
 */

/** What a socket read settles to when its error is kept: a count, null at EOF, or the error. */
type ReadResult = number | null | Error;

/** The default size of a connection's read buffer, in bytes. */
export const DEFAULT_BUFFER_SIZE = 4 * 1024;

function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

/** A socket plus its read buffer, owned by one request at a time or idle in the pool. */
export class Http1Conn {
  /** The pool key, `http://host:port` or `https://host:port`. */
  readonly origin: string;
  /** The read buffer; bytes `start`..`end` are read but not yet consumed. */
  buf: Uint8Array;
  /** The first unconsumed byte in {@link buf}. */
  start = 0;
  /** One past the last read byte in {@link buf}. */
  end = 0;
  /** Whether the connection sits in the pool's idle list. */
  idle = false;
  /** When the connection went idle, as `Date.now()`. */
  idleSince = 0;
  /** Whether it served a request before (a failure before any byte may be retried then). */
  reused = false;
  /** Whether any byte of the current response arrived. */
  received = false;
  #socket: Deno.Conn;
  #closed = false;
  // A read started while idle, handed over to the next owner's first fill().
  #pending: Promise<ReadResult> | null = null;

  /**
   * @param socket the connected socket
   * @param origin the pool key
   * @param bufferSize the read buffer's size
   * @default bufferSize 4096
   */
  constructor(socket: Deno.Conn, origin: string, bufferSize = DEFAULT_BUFFER_SIZE) {
    this.#socket = socket;
    this.origin = origin;
    this.buf = new Uint8Array(bufferSize);
  }

  /** Whether {@link close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Writes all of `data`; usually one write. */
  async writeAll(data: Uint8Array): Promise<void> {
    let off = await this.#socket.write(data);
    while (off < data.length) off += await this.#socket.write(data.subarray(off));
  }

  /**
   * Reads more bytes into the buffer after `end`, making room first (moving
   * unconsumed bytes to the front, or doubling the buffer when it is full).
   * @returns false at EOF
   */
  async fill(): Promise<boolean> {
    let n: number | null;
    const pending = this.#pending;
    if (pending !== null) {
      this.#pending = null;
      const r = await pending;
      if (r instanceof Error) throw r;
      n = r;
    } else {
      n = await this.#socket.read(this.#room());
    }
    if (n === null) return false;
    this.end += n;
    return true;
  }

  /** The free part of the buffer; the whole buffer (no new view) when nothing is unconsumed. */
  #room(): Uint8Array {
    if (this.start === this.end) {
      this.start = this.end = 0;
      return this.buf;
    }
    if (this.end === this.buf.length) {
      const used = this.end - this.start;
      if (this.start > 0) {
        this.buf.copyWithin(0, this.start, this.end);
      } else {
        const bigger = new Uint8Array(this.buf.length * 2);
        bigger.set(this.buf);
        this.buf = bigger;
      }
      this.start = 0;
      this.end = used;
    }
    return this.buf.subarray(this.end);
  }

  /**
   * Starts the one pending read of an idle connection: whatever it brings
   * (EOF, a byte, an error) while the connection is still idle means the
   * connection is no longer usable, and `onEvent` is called. If the
   * connection is taken before that, the next {@link fill} receives the read.
   * @param onEvent called once if the read settles while idle
   */
  watchIdle(onEvent: (conn: Http1Conn) => void): void {
    this.start = this.end = 0;
    const pending = this.#socket.read(this.buf).catch(asError);
    this.#pending = pending;
    pending.then(() => {
      if (this.idle && this.#pending === pending) onEvent(this);
    });
  }

  /** Closes the socket (a pending read then rejects); idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.idle = false;
    try {
      this.#socket.close();
    } catch {
      // Already closed by the runtime.
    }
  }
}
