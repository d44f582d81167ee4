/**
 * Encodes Server-Sent Events as text, the inverse of `parse.ts`: data with
 * several lines becomes several `data:` lines, and every event ends with a
 * blank line so it is dispatched at once.
 *
 * @example
 * ```ts
 * import { encodeSSE, encodeSSEComment } from "./encode.ts";
 * const text = encodeSSE({ event: "delta", data: '{"text":"hi"}' });
 * if (text !== 'event: delta\ndata: {"text":"hi"}\n\n') throw new Error("unexpected");
 * if (encodeSSEComment("keep-alive") !== ": keep-alive\n\n") throw new Error("unexpected");
 * ```
 * @module
 */

const LINE_BREAK = /\r\n|\r|\n/;

function assertSingleLine(value: string, what: string): void {
  if (value.includes("\n") || value.includes("\r")) {
    throw new TypeError(`Cannot encode SSE ${what}: it contains a line break`);
  }
}

/**
 * Encodes one event.
 *
 * @param event the type (omitted: the client sees `message`), the data (each
 *   line of it becomes one `data:` line; CRLF and CR become LF on the other
 *   side) and an optional id
 * @returns the event's text, ending with a blank line
 * @throws {TypeError} when `event` or `id` contains a line break, or `id` a NUL
 *
 * @example
 * ```ts
 * import { encodeSSE, encodeSSEComment } from "./encode.ts";
 * const text = encodeSSE({ data: "a\nb", id: "7" }) + encodeSSEComment("ping");
 * if (text !== "id: 7\ndata: a\ndata: b\n\n: ping\n\n") {
 *   throw new Error("unexpected");
 * }
 * ```
 */
export function encodeSSE(event: { event?: string; data: string; id?: string }): string {
  let out = "";
  if (event.event !== undefined && event.event !== "") {
    assertSingleLine(event.event, "event name");
    out += `event: ${event.event}\n`;
  }
  if (event.id !== undefined) {
    assertSingleLine(event.id, "event id");
    if (event.id.includes("\0")) throw new TypeError("Cannot encode SSE event id: it contains NUL");
    out += `id: ${event.id}\n`;
  }
  for (const line of event.data.split(LINE_BREAK)) out += `data: ${line}\n`;
  return out + "\n";
}

/**
 * Encodes a comment, which clients ignore: a keep-alive for proxies that close
 * idle connections (the HTML standard suggests one about every 15 s).
 *
 * @param text the comment; each of its lines becomes one comment line
 * @returns the comment's text, ending with a blank line
 *
 * @example
 * ```ts
 * import { encodeSSE, encodeSSEComment } from "./encode.ts";
 * const text = encodeSSEComment("") + encodeSSE({ data: "x" });
 * if (text !== ":\n\ndata: x\n\n") throw new Error("unexpected");
 * ```
 */
export function encodeSSEComment(text: string): string {
  let out = "";
  for (const line of text.split(LINE_BREAK)) out += line === "" ? ":\n" : `: ${line}\n`;
  return out + "\n";
}
