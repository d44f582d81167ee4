/**
 * A Server-Sent Events parser following the WHATWG rules ("Parsing an event
 * stream", "Interpreting an event stream"): bytes → UTF-8 decoding (one
 * `TextDecoder` in streaming mode, the same rules as `TextDecoderStream`) → lines
 * (CRLF, lone LF or lone CR, safe across chunk splits) → fields → events.
 *
 * It pulls: a chunk is read from the body only when the consumer asks for the
 * next event (no pipe reads ahead of it), and a consumer that stops early
 * cancels the body.
 *
 * @example
 * ```ts
 * import { parseSSE, type SSEEvent } from "./parse.ts";
 * const body = ReadableStream.from([new TextEncoder().encode("data: hi\n\n")]);
 * const events: SSEEvent[] = [];
 * for await (const event of parseSSE(body)) events.push(event);
 * if (events[0].event !== "message" || events[0].data !== "hi") throw new Error("unexpected");
 * ```
 * @module
 */

/** One dispatched event. */
export interface SSEEvent {
  /** The event type; `message` when the stream named none. */
  event: string;
  /** The data lines, joined with `\n`. */
  data: string;
  /** The last event id seen so far (it persists across events), or "". */
  id: string;
}

/**
 * Splits decoded text into lines. A line ends at CRLF, a lone LF or a lone CR
 * and nothing else (U+2028 is content). A CR at the very end of a chunk is kept
 * pending: if the next chunk starts with LF, the pair is one break.
 */
class LineSplitter {
  #partial = "";
  #pendingCR = false;

  /** Feeds one chunk; returns the lines it completed. */
  push(chunk: string): string[] {
    const lines: string[] = [];
    let start = 0;
    if (this.#pendingCR) {
      this.#pendingCR = false;
      if (chunk.charCodeAt(0) === 10) start = 1;
    }
    for (let i = start; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      lines.push(this.#partial + chunk.slice(start, i));
      this.#partial = "";
      if (c === 13) {
        if (i + 1 === chunk.length) this.#pendingCR = true;
        else if (chunk.charCodeAt(i + 1) === 10) i++;
      }
      start = i + 1;
    }
    if (start < chunk.length) this.#partial += chunk.slice(start);
    return lines;
  }
}

/** Folds field lines into events, as the WHATWG "interpret" steps say. */
class EventBuilder {
  #data = "";
  #hasData = false;
  #type = "";
  #lastId = "";

  /** Takes one line; returns an event when the line dispatches one. */
  line(line: string): SSEEvent | null {
    if (line === "") return this.#dispatch();
    if (line.charCodeAt(0) === 58) return null; // ":" starts a comment
    const colon = line.indexOf(":");
    let field = line;
    let value = "";
    if (colon !== -1) {
      field = line.slice(0, colon);
      value = line.charCodeAt(colon + 1) === 32 ? line.slice(colon + 2) : line.slice(colon + 1);
    }
    switch (field) {
      case "event":
        this.#type = value;
        break;
      case "data":
        this.#data = this.#hasData ? this.#data + "\n" + value : value;
        this.#hasData = true;
        break;
      case "id":
        if (!value.includes("\0")) this.#lastId = value;
        break;
      default:
        // `retry` and unknown fields carry nothing this parser reports.
        break;
    }
    return null;
  }

  #dispatch(): SSEEvent | null {
    const hadData = this.#hasData;
    const event: SSEEvent = { event: this.#type || "message", data: this.#data, id: this.#lastId };
    this.#data = "";
    this.#hasData = false;
    this.#type = "";
    return hadData ? event : null;
  }
}

/**
 * The parser as a synchronous decoder, for a caller that reads the bytes
 * itself: each {@link push} returns the events those bytes completed. The
 * same rules as {@link parseSSE}.
 */
export class SSEDecoder {
  #decoder = new TextDecoder();
  #splitter = new LineSplitter();
  #builder = new EventBuilder();

  /**
   * Feeds bytes (decoded at once: `bytes` may be reused afterwards).
   * @returns the events completed, or null when none
   */
  push(bytes: Uint8Array): SSEEvent[] | null {
    let batch: SSEEvent[] | null = null;
    for (const line of this.#splitter.push(this.#decoder.decode(bytes, { stream: true }))) {
      const event = this.#builder.line(line);
      if (event) (batch ??= []).push(event);
    }
    return batch;
  }
}

/**
 * Parses a byte stream of Server-Sent Events.
 *
 * One leading BOM is stripped and invalid UTF-8 becomes U+FFFD. Comments are
 * ignored, `id` containing NUL is ignored, an event with no data is not
 * dispatched, and an event cut off before its closing blank line at the end of
 * the stream is discarded. Breaking out of the loop cancels `body`.
 *
 * @param body the raw bytes, such as `response.body`
 * @returns the events, in order
 *
 * @example
 * ```ts
 * import { parseSSE, type SSEEvent } from "./parse.ts";
 * const bytes = new TextEncoder().encode("event: delta\r\ndata: a\r\ndata: b\r\n\r\n");
 * const events: SSEEvent[] = await Array.fromAsync(parseSSE(ReadableStream.from([bytes])));
 * if (events[0].event !== "delta" || events[0].data !== "a\nb") throw new Error("unexpected");
 * ```
 */
export async function* parseSSE(body: ReadableStream<Uint8Array>): AsyncGenerator<SSEEvent> {
  for await (const batch of parseSSEBatches(body)) yield* batch;
}

/**
 * Parses a byte stream of Server-Sent Events as {@link parseSSE} does, and
 * yields the events one read of the body completed together: a consumer that
 * forwards them can merge what arrived at once into one write, without
 * waiting for anything that has not arrived. Every batch holds at least one
 * event.
 *
 * @param body the raw bytes, such as `response.body`
 * @returns the events, in order, grouped by the read that completed them
 */
export async function* parseSSEBatches(
  body: ReadableStream<Uint8Array>,
): AsyncGenerator<SSEEvent[]> {
  const reader = bodyReader(body);
  const decoder = new SSEDecoder();
  let finished = false;
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) {
        finished = true;
        // Flushing can only complete a partial line, which the end discards.
        return;
      }
      const batch = decoder.push(value);
      if (batch) yield batch;
    }
  } catch (err) {
    finished = true;
    throw err;
  } finally {
    // The consumer stopped early (break / return): release the upstream body.
    if (!finished) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

/** Bytes of one read from a byte stream (a `fetch` body). */
const READ_SIZE = 8 * 1024;

/** The part of a reader {@link parseSSE} uses. */
export interface BytesReader {
  read(): Promise<ReadableStreamReadResult<Uint8Array>>;
  cancel(): Promise<void>;
  releaseLock(): void;
}

/**
 * A reader straight on the body, with no `TextDecoderStream` pipe (two queues,
 * a pipe loop and read-ahead per stream). A byte stream such as a `fetch`
 * body is read into one reused 8 KiB buffer: its default reader would
 * allocate 64 KiB for every pending read, which is most of the memory of an
 * idle stream (BENCHMARKS.md).
 */
export function bodyReader(body: ReadableStream<Uint8Array>): BytesReader {
  let byob: ReadableStreamBYOBReader;
  try {
    byob = body.getReader({ mode: "byob" });
  } catch {
    return body.getReader();
  }
  let buffer = new ArrayBuffer(READ_SIZE);
  return {
    async read() {
      const r = await byob.read(new Uint8Array(buffer, 0, READ_SIZE));
      if (r.value) buffer = r.value.buffer as ArrayBuffer;
      if (r.done) return { done: true, value: undefined };
      return r as ReadableStreamReadResult<Uint8Array>;
    },
    cancel: () => byob.cancel(),
    releaseLock: () => byob.releaseLock(),
  };
}
