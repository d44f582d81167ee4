/**
 * HTTP load clients: the DIRECT clients (straight to the fake upstream's
 * Chat Completions) and EasyBackend's `/ask` in JSON and SSE. Bodies are read
 * with a streaming reader; only complete lines are scanned for stamps. The
 * requests go through `fetch`, or with `http: "http1"` through the project's
 * own HTTP/1.1 client (`lib/providers/http1.ts`): one reused buffer per
 * connection and no web streams, so the load generator's own per-chunk work
 * (its share of every measured delay, DIRECT's included) is smaller.
 * @module
 */

import { Http1Client } from "../lib/providers/http1.ts";
import type { RequestProbe } from "./recorder.ts";

/** One request of a protocol; throws on failure. */
export type AskOnce = (probe: RequestProbe, signal: AbortSignal) => Promise<void>;

/** A connected client of one protocol. */
export interface LoadClient {
  /** Opens one worker's connection (a socket for WebSocket, nothing for HTTP). */
  worker(): Promise<{ ask: AskOnce; close(): void }>;
  /** Releases shared resources. */
  close(): void;
}

/** What every client is given. */
export interface ClientTarget {
  host: string;
  port: number;
  /** The answer shape token, `bench-c<chunks>-d<ms>`. */
  shape: string;
  /** The HTTP client of the HTTP protocols. @default "fetch" */
  http?: HttpClientName;
}

/** The HTTP clients a load run can use. */
export type HttpClientName = "fetch" | "http1";

/** One HTTP answer, whichever client read it. */
interface Answer {
  status: number;
  /** The next bytes of the body, or null at its end. */
  next(): Promise<Uint8Array | null>;
  /** The whole body as text. */
  text(): Promise<string>;
  /** Stops reading (and frees the connection). */
  cancel(): Promise<void>;
  /** After the end mark: lets the rest of the body go (fetch: cancel; http1: keep the connection). */
  finish(): void;
}

const JSON_HEADERS = { "content-type": "application/json" };
const SSE_HEADERS = { ...JSON_HEADERS, accept: "text/event-stream" };

/** POSTs JSON; one per load client. */
type Post = (url: string, body: string, sse: boolean, signal: AbortSignal) => Promise<Answer>;

function fetchPost(): Post {
  return async (url, body, sse, signal) => {
    const res = await fetch(url, {
      method: "POST",
      headers: sse ? SSE_HEADERS : JSON_HEADERS,
      body,
      signal,
    });
    let reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
    const cancel = () =>
      (reader !== null ? reader.cancel() : res.body?.cancel() ?? Promise.resolve()).catch(() => {});
    return {
      status: res.status,
      async next() {
        if (res.body === null) return null;
        reader ??= res.body.getReader();
        const r = await reader.read();
        return r.done ? null : r.value;
      },
      text: () => res.text(),
      cancel,
      finish: () => void cancel(),
    };
  };
}

function http1Post(client: Http1Client): Post {
  return async (url, body, sse, signal) => {
    const res = await client.request(url, {
      method: "POST",
      headers: sse ? SSE_HEADERS : JSON_HEADERS,
      body,
      signal,
    });
    return {
      status: res.status,
      next: () => res.readView(),
      text: () => res.text(1 << 20),
      cancel: () => res.cancel(),
      finish: () => res.release(),
    };
  };
}

/** The HTTP client of a load run, and how it ends. */
function httpClient(t: ClientTarget): { post: Post; close(): void } {
  if (t.http === "http1") {
    const client = new Http1Client({ maxIdlePerOrigin: 4096 });
    return { post: http1Post(client), close: () => client.close() };
  }
  return { post: fetchPost(), close() {} };
}

/**
 * Reads an SSE answer to its end mark, recording the stamps of complete
 * lines. Views from `next` are decoded before the next read.
 */
async function readStream(
  res: Answer,
  probe: RequestProbe,
  endMark: string,
  errorMark: string | null,
): Promise<void> {
  if (res.status !== 200) {
    await res.cancel();
    throw new Error(`HTTP ${res.status}`);
  }
  const decoder = new TextDecoder();
  let tail = "";
  let finished = false;
  try {
    while (true) {
      const value = await res.next();
      if (value === null) break;
      const text = tail + decoder.decode(value, { stream: true });
      const cut = text.lastIndexOf("\n");
      if (cut < 0) {
        tail = text;
        continue;
      }
      const lines = text.slice(0, cut);
      tail = text.slice(cut + 1);
      probe.text(lines);
      if (errorMark !== null && lines.includes(errorMark)) throw new Error("error event");
      if (lines.includes(endMark)) {
        probe.done();
        finished = true;
        return;
      }
    }
  } finally {
    if (finished) res.finish();
    else await res.cancel();
  }
  throw new Error("stream ended without its end mark");
}

function stateless(ask: AskOnce, close: () => void = () => {}): LoadClient {
  return {
    worker: () => Promise.resolve({ ask, close() {} }),
    close,
  };
}

/** DIRECT: Chat Completions streaming, straight to the fake upstream. */
export function directSse(t: ClientTarget): LoadClient {
  const url = `http://${t.host}:${t.port}/v1/chat/completions`;
  const body = JSON.stringify({
    model: t.shape,
    messages: [{ role: "user", content: t.shape }],
    stream: true,
    stream_options: { include_usage: true },
  });
  const http = httpClient(t);
  return stateless(async (probe, signal) => {
    await readStream(await http.post(url, body, true, signal), probe, "data: [DONE]", null);
  }, http.close);
}

/** DIRECT: Chat Completions non-streaming, straight to the fake upstream. */
export function directJson(t: ClientTarget): LoadClient {
  const url = `http://${t.host}:${t.port}/v1/chat/completions`;
  const body = JSON.stringify({ model: t.shape, messages: [{ role: "user", content: t.shape }] });
  const http = httpClient(t);
  return stateless(async (probe, signal) => {
    const json = await readJson(await http.post(url, body, false, signal));
    if (typeof json.choices?.[0]?.message?.content !== "string") throw new Error("no content");
    probe.done();
  }, http.close);
}

/** EasyBackend `POST /ask/new` with `"stream": true`. */
export function backendSse(t: ClientTarget): LoadClient {
  const url = `http://${t.host}:${t.port}/ask/new`;
  const body = JSON.stringify({ prompt: t.shape, model: t.shape, stream: true });
  const http = httpClient(t);
  return stateless(async (probe, signal) => {
    await readStream(
      await http.post(url, body, true, signal),
      probe,
      "event: done",
      "event: error",
    );
  }, http.close);
}

/** EasyBackend `POST /ask/new`, the JSON answer. */
export function backendJson(t: ClientTarget): LoadClient {
  const url = `http://${t.host}:${t.port}/ask/new`;
  const body = JSON.stringify({ prompt: t.shape, model: t.shape });
  const http = httpClient(t);
  return stateless(async (probe, signal) => {
    const json = await readJson(await http.post(url, body, false, signal));
    if (typeof json.message !== "string" || typeof json.parent_id !== "string") {
      throw new Error("no message");
    }
    probe.done();
  }, http.close);
}

// deno-lint-ignore no-explicit-any
async function readJson(res: Answer): Promise<any> {
  if (res.status !== 200) {
    await res.cancel();
    throw new Error(`HTTP ${res.status}`);
  }
  return JSON.parse(await res.text());
}
