/**
 * HTTP load clients: the DIRECT clients (straight to the fake upstream's
 * Chat Completions) and EasyBackend's `/ask` in JSON and SSE. Bodies are read
 * with a streaming reader; only complete lines are scanned for stamps.
 * @module
 */

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
}

async function readStream(
  res: Response,
  probe: RequestProbe,
  endMark: string,
  errorMark: string | null,
): Promise<void> {
  if (res.status !== 200 || res.body === null) {
    await res.body?.cancel();
    throw new Error(`HTTP ${res.status}`);
  }
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let tail = "";
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
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
        return;
      }
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  throw new Error("stream ended without its end mark");
}

function stateless(ask: AskOnce): LoadClient {
  return {
    worker: () => Promise.resolve({ ask, close() {} }),
    close() {},
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
  return stateless(async (probe, signal) => {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream" },
      body,
      signal,
    });
    await readStream(res, probe, "data: [DONE]", null);
  });
}

/** DIRECT: Chat Completions non-streaming, straight to the fake upstream. */
export function directJson(t: ClientTarget): LoadClient {
  const url = `http://${t.host}:${t.port}/v1/chat/completions`;
  const body = JSON.stringify({ model: t.shape, messages: [{ role: "user", content: t.shape }] });
  return stateless(async (probe, signal) => {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
      signal,
    });
    if (res.status !== 200) {
      await res.body?.cancel();
      throw new Error(`HTTP ${res.status}`);
    }
    const json = await res.json();
    if (typeof json.choices?.[0]?.message?.content !== "string") throw new Error("no content");
    probe.done();
  });
}

/** EasyBackend `POST /ask/new` with `"stream": true`. */
export function backendSse(t: ClientTarget): LoadClient {
  const url = `http://${t.host}:${t.port}/ask/new`;
  const body = JSON.stringify({ prompt: t.shape, model: t.shape, stream: true });
  return stateless(async (probe, signal) => {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream" },
      body,
      signal,
    });
    await readStream(res, probe, "event: done", "event: error");
  });
}

/** EasyBackend `POST /ask/new`, the JSON answer. */
export function backendJson(t: ClientTarget): LoadClient {
  const url = `http://${t.host}:${t.port}/ask/new`;
  const body = JSON.stringify({ prompt: t.shape, model: t.shape });
  return stateless(async (probe, signal) => {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
      signal,
    });
    if (res.status !== 200) {
      await res.body?.cancel();
      throw new Error(`HTTP ${res.status}`);
    }
    const json = await res.json();
    if (typeof json.message !== "string" || typeof json.parent_id !== "string") {
      throw new Error("no message");
    }
    probe.done();
  });
}
