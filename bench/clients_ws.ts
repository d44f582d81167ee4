/**
 * WebSocket load clients (Deno's WebSocket): the legacy text protocol and the
 * JSON frames. One socket per worker; each worker asks one question at a time.
 * @module
 */

import type { AskOnce, ClientTarget, LoadClient } from "./clients_http.ts";
import type { RequestProbe } from "./recorder.ts";

interface Pending {
  probe: RequestProbe;
  resolve: () => void;
  reject: (err: Error) => void;
}

type FrameHandler = (data: string, pending: Pending) => "more" | "done" | Error;

function legacyFrame(data: string, p: Pending): "more" | "done" | Error {
  if (data.startsWith("<|end|>")) return "done";
  if (data.startsWith("<|err|>")) return new Error("legacy error frame");
  p.probe.text(data);
  return "more";
}

function jsonFrame(data: string, p: Pending): "more" | "done" | Error {
  const frame = JSON.parse(data);
  if (frame.type === "delta") {
    p.probe.text(frame.text);
    return "more";
  }
  if (frame.type === "done") return "done";
  if (frame.type === "error") return new Error(`error frame ${frame.code}`);
  return "more";
}

function openSocket(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.onopen = () => resolve(ws);
    ws.onerror = () => reject(new Error("cannot connect"));
  });
}

function socketClient(
  url: string,
  message: (n: number) => string,
  handle: FrameHandler,
): LoadClient {
  return {
    async worker() {
      const ws = await openSocket(url);
      let pending: Pending | null = null;
      let n = 0;
      ws.onmessage = (e) => {
        if (pending === null) return;
        const p = pending;
        let out: "more" | "done" | Error;
        try {
          out = handle(String(e.data), p);
        } catch (err) {
          out = err as Error;
        }
        if (out === "more") return;
        pending = null;
        if (out === "done") {
          p.probe.done();
          p.resolve();
        } else p.reject(out);
      };
      ws.onclose = () => {
        pending?.reject(new Error("socket closed"));
        pending = null;
      };
      ws.onerror = () => {};
      const ask: AskOnce = (probe, signal) =>
        new Promise<void>((resolve, reject) => {
          if (ws.readyState !== WebSocket.OPEN) return reject(new Error("socket closed"));
          const onAbort = () => {
            pending = null;
            reject(new Error("timeout"));
          };
          signal.addEventListener("abort", onAbort, { once: true });
          pending = {
            probe,
            resolve: () => {
              signal.removeEventListener("abort", onAbort);
              resolve();
            },
            reject: (err) => {
              signal.removeEventListener("abort", onAbort);
              reject(err);
            },
          };
          ws.send(message(n++));
        });
      return { ask, close: () => ws.close() };
    },
    close() {},
  };
}

/** The legacy protocol: `<|ask|>$new$new$<prompt>`; the shape rides in the prompt. */
export function wsLegacy(t: ClientTarget): LoadClient {
  return socketClient(
    `ws://${t.host}:${t.port}/`,
    () => `<|ask|>$new$new$${t.shape}`,
    legacyFrame,
  );
}

/** The JSON frames: `{"type":"ask",…}` → delta … done. */
export function wsJson(t: ClientTarget): LoadClient {
  return socketClient(
    `ws://${t.host}:${t.port}/`,
    (n) =>
      JSON.stringify({
        type: "ask",
        id: `a${n}`,
        prompt: t.shape,
        conversation_id: "new",
        parent_id: null,
        model: t.shape,
      }),
    jsonFrame,
  );
}
