/**
 * A lean HTTP/1.1 client for the upstream calls: it reads straight from a
 * `Deno.TcpConn` or `Deno.TlsConn` into one reused buffer per connection (one
 * async op per read, no web streams), keeps connections alive per origin, and
 * ties each request to its `AbortSignal` with one listener.
 *
 * @example
 * ```ts ignore
 * const client = new Http1Client();
 * const res = await client.request("http://127.0.0.1:8080/v1/x", {
 *   method: "POST",
 *   headers: { "content-type": "application/json" },
 *   body: "{}",
 * });
 * // Views of the connection's buffer, each valid until the next read.
 * for (let view; (view = await res.readView()) !== null;) use(view);
 * client.close();
 * ```
 * @module
 */

import { type BodyOwner, Http1Body, type Http1Response, readFailure } from "./http1_body.ts";
import { DEFAULT_BUFFER_SIZE, Http1Conn } from "./http1_conn.ts";
import { readHead } from "./http1_head.ts";
import { encodeRequest, type Target, targetOf } from "./http1_request.ts";

export type { Http1Response } from "./http1_body.ts";

/** One request. */
export interface Http1RequestInit {
  /** `GET`, `POST`, … */
  method: string;
  /** Header names as given; the client adds Host, Content-Length and `accept-encoding: identity` when absent. */
  headers: Record<string, string>;
  /** The request body. */
  body?: string | Uint8Array | null;
  /** Aborts connecting, waiting for the head and reading the body. */
  signal?: AbortSignal;
}

/** Options of {@link Http1Client}. */
export interface Http1ClientOptions {
  /** The most idle connections kept per origin. @default 256 */
  maxIdlePerOrigin?: number;
  /** An idle connection older than this is closed, not reused. @default 4000 */
  idleTimeoutMs?: number;
  /** A bigger response head (or trailer section) is an error. @default 65536 */
  maxHeaderBytes?: number;
  /** Extra CA certificates (PEM) for https. */
  caCerts?: string[];
  /** The read buffer of each connection, in bytes (it grows for a bigger head). @default 4096 */
  bufferSize?: number;
}

/** An HTTP/1.1 client with a keep-alive pool per origin. */
export class Http1Client {
  #maxIdle: number;
  #idleTimeoutMs: number;
  #maxHeaderBytes: number;
  #caCerts: string[] | undefined;
  #bufferSize: number;
  #idle = new Map<string, Http1Conn[]>();
  #targets = new Map<string, Target>();
  #release = (conn: Http1Conn): void => this.#keepIdle(conn);

  /** @param options pool, limits and TLS options */
  constructor(options: Http1ClientOptions = {}) {
    this.#maxIdle = options.maxIdlePerOrigin ?? 256;
    this.#idleTimeoutMs = options.idleTimeoutMs ?? 4000;
    this.#maxHeaderBytes = options.maxHeaderBytes ?? 64 * 1024;
    this.#caCerts = options.caCerts;
    this.#bufferSize = options.bufferSize ?? DEFAULT_BUFFER_SIZE;
  }

  /**
   * Sends one request and reads the response head.
   * @param url an `http:` or `https:` URL
   * @param init method, headers, body and signal
   * @throws the signal's reason when aborted; a TypeError "Cannot …" when the
   * connection or the response fails
   */
  async request(url: string | URL, init: Http1RequestInit): Promise<Http1Response> {
    const signal = init.signal;
    signal?.throwIfAborted();
    const target = this.#target(url);
    const bytes = encodeRequest(target, init);
    const exchange = new Exchange(this.#release, signal);
    let conn = this.#takeIdle(target.origin);
    try {
      for (;;) {
        if (conn === null) conn = await exchange.connect(target, this.#caCerts, this.#bufferSize);
        exchange.conn = conn;
        conn.received = false;
        try {
          await conn.writeAll(bytes);
          const head = await readHead(conn, init.method, this.#maxHeaderBytes);
          return new Http1Body(conn, head, exchange, this.#maxHeaderBytes);
        } catch (e) {
          // The server closed a kept-alive connection as we sent on it: once more on a fresh one.
          if (!conn.reused || conn.received || signal?.aborted) throw e;
          conn.close();
          conn = null;
        }
      }
    } catch (e) {
      exchange.fail();
      throw readFailure(e, signal);
    }
  }

  /** Closes every idle connection; later requests still work. */
  close(): void {
    for (const list of this.#idle.values()) {
      for (const conn of list) conn.close();
    }
    this.#idle.clear();
  }

  /** {@link close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  #target(url: string | URL): Target {
    if (typeof url !== "string") return targetOf(url);
    let target = this.#targets.get(url);
    if (target === undefined) {
      if (this.#targets.size >= 256) this.#targets.clear();
      target = targetOf(new URL(url));
      this.#targets.set(url, target);
    }
    return target;
  }

  /** The newest idle connection of the origin, if one is fresh enough. */
  #takeIdle(origin: string): Http1Conn | null {
    const list = this.#idle.get(origin);
    if (list === undefined) return null;
    const conn = list.pop();
    if (conn === undefined) return null;
    if (Date.now() - conn.idleSince > this.#idleTimeoutMs) {
      // It is the newest; all below it are older still.
      conn.close();
      for (const older of list) older.close();
      list.length = 0;
      return null;
    }
    conn.idle = false;
    return conn;
  }

  /** Puts a connection whose response was read to its end into the idle list. */
  #keepIdle(conn: Http1Conn): void {
    let list = this.#idle.get(conn.origin);
    if (list === undefined) {
      list = [];
      this.#idle.set(conn.origin, list);
    }
    const now = Date.now();
    while (
      list.length > 0 &&
      (list.length >= this.#maxIdle || now - list[0].idleSince > this.#idleTimeoutMs)
    ) {
      list.shift()!.close();
    }
    if (this.#maxIdle <= 0) {
      conn.close();
      return;
    }
    conn.idle = true;
    conn.reused = true;
    conn.idleSince = now;
    list.push(conn);
    conn.watchIdle((gone) => this.#dropIdle(gone));
  }

  /** An idle connection that received EOF, a byte or an error: closed and forgotten. */
  #dropIdle(conn: Http1Conn): void {
    conn.close();
    const list = this.#idle.get(conn.origin);
    const i = list?.indexOf(conn) ?? -1;
    if (i >= 0) list!.splice(i, 1);
  }
}

/** One request's hold on its signal and connection. */
class Exchange implements BodyOwner {
  readonly signal: AbortSignal | undefined;
  conn: Http1Conn | null = null;
  #release: (conn: Http1Conn) => void;
  #onAbort: (() => void) | null = null;
  #rejectConnect: ((reason: unknown) => void) | null = null;

  constructor(release: (conn: Http1Conn) => void, signal: AbortSignal | undefined) {
    this.#release = release;
    this.signal = signal;
    if (signal !== undefined) {
      this.#onAbort = () => {
        this.conn?.close();
        this.#rejectConnect?.(signal.reason);
      };
      signal.addEventListener("abort", this.#onAbort, { once: true });
    }
  }

  /** Opens a fresh connection; an abort rejects at once and closes the socket when it comes. */
  connect(target: Target, caCerts: string[] | undefined, bufferSize: number): Promise<Http1Conn> {
    const socket = target.tls
      ? Deno.connectTls({
        hostname: target.hostname,
        port: target.port,
        caCerts,
        alpnProtocols: ["http/1.1"],
      })
      : Deno.connect({ hostname: target.hostname, port: target.port });
    return new Promise((resolve, reject) => {
      this.#rejectConnect = reject;
      socket.then((s) => {
        this.#rejectConnect = null;
        if (this.signal?.aborted) return s.close();
        if (!target.tls) (s as Deno.TcpConn).setNoDelay(true);
        resolve(new Http1Conn(s, target.origin, bufferSize));
      }, (e) => {
        this.#rejectConnect = null;
        const why = e instanceof Error ? e.message : String(e);
        reject(
          new TypeError(`Cannot connect to the upstream ${target.origin}: ${why}`, { cause: e }),
        );
      });
    });
  }

  finish(conn: Http1Conn, reuse: boolean): void {
    this.#unlisten();
    this.conn = null;
    if (reuse && !this.signal?.aborted && !conn.closed) this.#release(conn);
    else conn.close();
  }

  /** The request failed before a response: the connection is closed. */
  fail(): void {
    this.#unlisten();
    this.conn?.close();
    this.conn = null;
  }

  #unlisten(): void {
    if (this.#onAbort === null) return;
    this.signal!.removeEventListener("abort", this.#onAbort);
    this.#onAbort = null;
  }
}
