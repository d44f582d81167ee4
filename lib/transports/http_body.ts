/**
 * Reading HTTP request bodies: a byte limit enforced while reading (also when
 * there is no `Content-Length`), strict UTF-8, and JSON parse errors turned
 * into a 400 that says what is wrong without echoing the body back.
 * @module
 */

import { AppError, Code } from "../errors.ts";

function tooLarge(limit: number): AppError {
  return new AppError(
    Code.ResourceExhausted,
    `Cannot read the request body: it is larger than ${limit} bytes`,
    { reason: "payload_too_large" },
  );
}

/**
 * Reads a request body into bytes, stopping as soon as it exceeds `limit`.
 * @param req the request
 * @param limit the largest accepted size in bytes
 * @throws {AppError} ResourceExhausted (`payload_too_large`) when the body is too large
 */
export async function readBodyBytes(req: Request, limit: number): Promise<Uint8Array<ArrayBuffer>> {
  const declared = req.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) throw tooLarge(limit);
  if (req.body === null) return new Uint8Array(0);
  // A declared length within the limit bounds the body (the HTTP server
  // reads no more than it): one read of the whole body.
  if (declared !== null && /^\d+$/.test(declared)) return await req.bytes();
  // Otherwise (chunked) the limit is checked while reading. The reader is
  // not released afterwards: nothing else reads the body, and a release
  // costs an error object with its stack.
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}

/**
 * Parses a JSON request body, with a client-safe message naming what is wrong.
 * @param bytes the body
 * @throws {AppError} InvalidArgument when the body is empty, not UTF-8 or not JSON
 */
export function parseJsonBody(bytes: Uint8Array): unknown {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (err) {
    throw new AppError(
      Code.InvalidArgument,
      "Cannot parse the request body: it is not valid UTF-8",
      { cause: err },
    );
  }
  if (text.trim() === "") {
    throw new AppError(
      Code.InvalidArgument,
      "Cannot parse the request body: it is empty, a JSON object is expected",
    );
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new AppError(
      Code.InvalidArgument,
      `Cannot parse the request body: it is not valid JSON (${describeJsonError(text)})`,
      { cause: err },
    );
  }
}

const TYPOGRAPHIC_QUOTES = /[\u201C\u201D\u2018\u2019\u201E\u00AB\u00BB]/;

/** Says where and why a text is not JSON, without quoting the text. */
function describeJsonError(text: string): string {
  const at = firstBadPosition(text);
  const ch = text[at];
  if (ch !== undefined && TYPOGRAPHIC_QUOTES.test(ch)) {
    return `typographic quote ${ch} at character ${at + 1}; use straight double quotes "`;
  }
  if (ch === "'") return `single quote at character ${at + 1}; JSON strings use double quotes "`;
  if (ch === undefined) return "it ends too early";
  return `unexpected ${JSON.stringify(ch)} at character ${at + 1}`;
}

/**
 * The index of the first character where a JSON parse fails, found by a
 * small scanner (V8's messages differ between versions and quote the input).
 */
function firstBadPosition(text: string): number {
  let i = 0;
  const ws = () => {
    while (i < text.length && " \t\r\n".includes(text[i])) i++;
  };
  const fail = (): never => {
    throw i;
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === "{") return container("}", true);
    if (c === "[") return container("]", false);
    if (c === '"') return string();
    const m = /^(-?\d+(\.\d+)?([eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i));
    if (!m) fail();
    i += m![0].length;
  };
  const string = (): void => {
    i++;
    while (i < text.length && text[i] !== '"') {
      if (text[i] === "\\") i++;
      else if (text.charCodeAt(i) < 0x20) fail();
      i++;
    }
    if (i >= text.length) fail();
    i++;
  };
  const container = (close: string, keyed: boolean): void => {
    i++;
    ws();
    if (text[i] === close) {
      i++;
      return;
    }
    while (true) {
      if (keyed) {
        ws();
        if (text[i] !== '"') fail();
        string();
        ws();
        if (text[i] !== ":") fail();
        i++;
      }
      value();
      ws();
      if (text[i] === ",") {
        i++;
        continue;
      }
      if (text[i] === close) {
        i++;
        return;
      }
      fail();
    }
  };
  try {
    value();
    ws();
    return i;
  } catch (pos) {
    return typeof pos === "number" ? pos : 0;
  }
}
