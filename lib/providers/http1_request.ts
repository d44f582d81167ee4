/**
 * The request side of the HTTP/1.1 client: where a URL goes (the pool key,
 * host, port, TLS, path) and the request head and body encoded as one array,
 * so that they leave in one write.
 * @module
 */

import type { Http1RequestInit } from "./http1.ts";

/** Where a request goes. */
export interface Target {
  /** The pool key, e.g. `https://api.example.com` or `http://127.0.0.1:8080`. */
  origin: string;
  /** The host to connect to (IPv6 without brackets). */
  hostname: string;
  port: number;
  tls: boolean;
  /** The Host header: the host, with the port when it is not the default. */
  host: string;
  /** The path with the query. */
  path: string;
}

const encoder = new TextEncoder();

/**
 * The target of a URL.
 * @throws {TypeError} for a protocol other than http: and https:
 */
export function targetOf(url: URL): Target {
  const tls = url.protocol === "https:";
  if (!tls && url.protocol !== "http:") {
    throw new TypeError(
      `Cannot send the upstream request: protocol ${url.protocol} is not supported`,
    );
  }
  const hostname = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  return {
    origin: `${url.protocol}//${url.host}`,
    hostname,
    port: url.port === "" ? (tls ? 443 : 80) : Number(url.port),
    tls,
    host: url.host,
    path: (url.pathname || "/") + url.search,
  };
}

/** Whether a header name or value would break the head (a line break or NUL). */
function unsafe(s: string): boolean {
  return s.includes("\r") || s.includes("\n") || s.includes("\0");
}

/**
 * The request head and body in one array.
 * @param target where the request goes
 * @param init method, headers and body
 * @throws {TypeError} when a header name or value holds a line break
 */
export function encodeRequest(target: Target, init: Http1RequestInit): Uint8Array {
  const body = typeof init.body === "string" ? encoder.encode(init.body) : init.body ?? null;
  let host = true;
  let length = true;
  let encoding = true;
  let lines = "";
  for (const name in init.headers) {
    const value = init.headers[name];
    if (unsafe(name) || unsafe(value)) {
      throw new TypeError(
        `Cannot send the upstream request: header ${JSON.stringify(name)} is invalid`,
      );
    }
    const lower = name.toLowerCase();
    if (lower === "host") host = false;
    else if (lower === "content-length" || lower === "transfer-encoding") length = false;
    else if (lower === "accept-encoding") encoding = false;
    lines += `${name}: ${value}\r\n`;
  }
  let head = `${init.method} ${target.path} HTTP/1.1\r\n`;
  if (host) head += `Host: ${target.host}\r\n`;
  head += lines;
  if (
    length &&
    (body !== null || init.method === "POST" || init.method === "PUT" || init.method === "PATCH")
  ) {
    head += `Content-Length: ${body?.length ?? 0}\r\n`;
  }
  if (encoding) head += "Accept-Encoding: identity\r\n";
  head += "\r\n";
  const bodyLength = body?.length ?? 0;
  const out = new Uint8Array(head.length * 3 + bodyLength);
  const { written } = encoder.encodeInto(head, out);
  if (body !== null) out.set(body, written);
  return out.subarray(0, written + bodyLength);
}
