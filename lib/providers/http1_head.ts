/**
 * The response head of the HTTP/1.1 client: finding its end in the read
 * buffer, parsing the status line and headers, and deciding how the body is
 * framed (RFC 9112 section 6.3).
 * @module
 */

import type { Http1Conn } from "./http1_conn.ts";

const LF = 0x0a;
const CR = 0x0d;
const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: [^\r\n]*)?$/;

/** How a response body is delimited. */
export enum Framing {
  /** No body: HEAD, 204, 304, or `Content-Length: 0`. */
  None,
  /** Exactly `Content-Length` bytes. */
  Length,
  /** `Transfer-Encoding: chunked`. */
  Chunked,
  /** Everything until the server closes the connection. */
  Close,
}

/** A parsed response head and what follows from it. */
export interface ResponseHead {
  status: number;
  headers: Headers;
  framing: Framing;
  /** The body length when {@link framing} is `Length`. */
  length: number;
  /** Whether the connection may serve another request after this response. */
  keepAlive: boolean;
}

/**
 * A `TypeError` "Cannot read the upstream response: <state>".
 * @param state what went wrong
 * @param cause the underlying error, if any
 */
export function responseError(state: string, cause?: unknown): TypeError {
  return new TypeError(`Cannot read the upstream response: ${state}`, { cause });
}

/**
 * Reads one response head from the connection (skipping 1xx interim
 * responses) and leaves `conn.start` at the first body byte.
 * @param conn the connection the request went out on
 * @param method the request method (HEAD responses have no body)
 * @param maxHeaderBytes the largest head accepted
 */
export async function readHead(
  conn: Http1Conn,
  method: string,
  maxHeaderBytes: number,
): Promise<ResponseHead> {
  for (;;) {
    const stop = await findHead(conn, maxHeaderBytes);
    const head = parseHead(conn.buf, conn.start, stop, method);
    conn.start = stop;
    if (head !== null) return head;
  }
}

/** Fills until the buffer holds a whole head; the index just past its empty line. */
async function findHead(conn: Http1Conn, maxHeaderBytes: number): Promise<number> {
  let scanned = 0; // bytes after conn.start already searched, as fill() may move them
  for (;;) {
    const stop = findHeadEnd(conn.buf, conn.start, conn.start + scanned, conn.end);
    if (stop >= 0) {
      if (stop - conn.start > maxHeaderBytes) break;
      return stop;
    }
    scanned = conn.end - conn.start;
    if (scanned > maxHeaderBytes) break;
    if (!(await conn.fill())) {
      throw responseError(
        conn.received || conn.end > conn.start
          ? "the connection closed inside the response head"
          : "the connection closed before a response",
      );
    }
    conn.received = true;
  }
  throw responseError(`the response head is over ${maxHeaderBytes} bytes`);
}

/**
 * The index just past the empty line that ends a head in `buf[start..end]`
 * (CRLF or bare LF line ends), or -1.
 */
function findHeadEnd(buf: Uint8Array, start: number, from: number, end: number): number {
  for (let i = Math.max(start + 1, from); i < end; i++) {
    if (buf[i] !== LF) continue;
    const prev = buf[i - 1];
    if (prev === LF) return i + 1;
    if (prev === CR && i - 2 >= start && buf[i - 2] === LF) return i + 1;
  }
  return -1;
}

/** Bytes as a string of the same char codes (a head is ISO-8859-1 on the wire). */
function latin1(buf: Uint8Array, start: number, stop: number): string {
  let s = "";
  for (let i = start; i < stop; i += 4096) {
    const part = buf.subarray(i, Math.min(stop, i + 4096));
    s += String.fromCharCode.apply(null, part as unknown as number[]);
  }
  return s;
}

/** Parses a head; null for a 1xx interim response. */
function parseHead(
  buf: Uint8Array,
  start: number,
  stop: number,
  method: string,
): ResponseHead | null {
  const lines = latin1(buf, start, stop).split("\n");
  const statusLine = stripCr(lines[0]);
  const m = STATUS_LINE.exec(statusLine);
  if (m === null) throw responseError("malformed status line");
  const status = Number(m[2]);
  if (status === 101) throw responseError("unexpected switch of protocols");
  if (status < 200) return null;
  const headers = new Headers();
  for (let i = 1; i < lines.length; i++) {
    const line = stripCr(lines[i]);
    if (line === "") break;
    const colon = line.indexOf(":");
    if (colon <= 0 || line.charCodeAt(0) === 0x20 || line.charCodeAt(0) === 0x09) {
      throw responseError("malformed header line");
    }
    try {
      headers.append(line.slice(0, colon), line.slice(colon + 1));
    } catch (e) {
      throw responseError("malformed header line", e);
    }
  }
  return decideFraming(status, headers, m[1] === "1", method);
}

function stripCr(line: string): string {
  return line.charCodeAt(line.length - 1) === CR ? line.slice(0, -1) : line;
}

function decideFraming(
  status: number,
  headers: Headers,
  http11: boolean,
  method: string,
): ResponseHead {
  const connection = headers.get("connection")?.toLowerCase() ?? "";
  const keepAlive = http11 ? !connection.includes("close") : connection.includes("keep-alive");
  const head = { status, headers, framing: Framing.None, length: 0, keepAlive };
  if (method === "HEAD" || status === 204 || status === 304) return head;
  const te = headers.get("transfer-encoding");
  if (te !== null) {
    const codings = te.toLowerCase().split(",");
    if (codings[codings.length - 1].trim() === "chunked") {
      // A Content-Length beside it is ignored, and such a message ends the connection.
      head.framing = Framing.Chunked;
      head.keepAlive = keepAlive && !headers.has("content-length");
    } else {
      head.framing = Framing.Close;
      head.keepAlive = false;
    }
    return head;
  }
  const cl = headers.get("content-length");
  if (cl === null) {
    head.framing = Framing.Close;
    head.keepAlive = false;
    return head;
  }
  head.length = parseContentLength(cl);
  head.framing = head.length === 0 ? Framing.None : Framing.Length;
  return head;
}

/** A Content-Length value; repeated equal values (joined "5, 5") are accepted. */
function parseContentLength(value: string): number {
  const parts = value.split(",");
  const first = parts[0].trim();
  for (const part of parts) {
    const p = part.trim();
    if (p !== first || !/^\d{1,15}$/.test(p)) throw responseError("invalid content-length");
  }
  return Number(first);
}
