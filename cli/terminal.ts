/**
 * The client's only ways to print (lint forbids `console`): whole writes to
 * stdout and stderr, and a line reader over stdin that needs no raw mode.
 * @module
 */

const encoder = new TextEncoder();

/** Writes all of `text` to a stream such as `Deno.stdout`. */
export async function writeAll(
  stream: { write(p: Uint8Array): Promise<number> },
  text: string,
): Promise<void> {
  let bytes = encoder.encode(text);
  while (bytes.length > 0) {
    const n = await stream.write(bytes);
    bytes = bytes.subarray(n);
  }
}

/** Writes to stdout. */
export function out(text: string): Promise<void> {
  return writeAll(Deno.stdout, text);
}

/** Writes to stderr. */
export function err(text: string): Promise<void> {
  return writeAll(Deno.stderr, text);
}

/**
 * The lines of a byte stream, without their line ends (LF or CRLF). A last
 * line without a line end is yielded too.
 * @param body e.g. `Deno.stdin.readable`
 */
export async function* readLines(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let partial = "";
  for await (const chunk of body.pipeThrough(new TextDecoderStream())) {
    partial += chunk;
    let cut: number;
    while ((cut = partial.indexOf("\n")) >= 0) {
      const line = partial.slice(0, cut);
      partial = partial.slice(cut + 1);
      yield line.endsWith("\r") ? line.slice(0, -1) : line;
    }
  }
  if (partial !== "") yield partial;
}

/** Reads a whole stream as text. */
export async function readAllText(body: ReadableStream<Uint8Array>): Promise<string> {
  let text = "";
  for await (const chunk of body.pipeThrough(new TextDecoderStream())) text += chunk;
  return text;
}
