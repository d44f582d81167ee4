/**
 * The WebSocket client: one socket for the whole session, JSON frames
 * (`ask` → `delta`… → `done` | `error`), and a `cancel` frame when the user
 * presses Ctrl-C, so the server stops that answer's upstream call. The
 * conversation API (`/history`, `/list`) goes over HTTP to `apiUrl`.
 * @module
 */

import { AppError, Code } from "../../lib/errors.ts";
import type { AnswerEvent, AskRequest, ChatClient } from "../client.ts";
import { answerFailure, canceled, serverFailure, unreachable } from "../failure.ts";
import { RestApi } from "./rest.ts";
import { AsyncQueue } from "./queue.ts";

/** Options of {@link createWsClient}. */
export interface WsClientOptions {
  /** `ws://host:port` or `wss://host:port`. */
  url: string;
  /** The HTTP base of the conversation API. */
  apiUrl: string;
  token: string | null;
  httpClient?: Deno.HttpClient;
}

type Frame = Record<string, unknown>;

/** A {@link ChatClient} over WebSocket JSON frames. */
export function createWsClient(options: WsClientOptions): ChatClient {
  const api = new RestApi({
    baseUrl: options.apiUrl,
    token: options.token,
    httpClient: options.httpClient,
  });
  const pending = new Map<string, AsyncQueue<Frame>>();
  let socket: Promise<WebSocket> | null = null;
  let counter = 0;

  function failAll(err: AppError): void {
    for (const queue of pending.values()) queue.fail(err);
    pending.clear();
    socket = null;
  }

  function connect(): Promise<WebSocket> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = {};
      if (options.token) headers.authorization = `Bearer ${options.token}`;
      const ws = new WebSocket(options.url, { headers, client: options.httpClient });
      let open = false;
      ws.onopen = () => {
        open = true;
        resolve(ws);
      };
      ws.onerror = (e) => {
        const message = (e as ErrorEvent).message ?? "";
        const err = handshakeFailure(options.url, message);
        if (!open) reject(err);
        else failAll(err);
      };
      ws.onclose = () => {
        failAll(
          new AppError(Code.Unavailable, "Cannot finish the answer: the server closed the socket"),
        );
      };
      ws.onmessage = (e) => {
        if (typeof e.data !== "string") return;
        let frame: Frame;
        try {
          frame = JSON.parse(e.data);
        } catch {
          return; // A legacy text frame: not ours.
        }
        const queue = pending.get(String(frame.id));
        if (queue) queue.push(frame);
      };
    });
  }

  async function send(frame: Frame): Promise<void> {
    socket ??= connect();
    let ws: WebSocket;
    try {
      ws = await socket;
    } catch (err) {
      socket = null;
      throw err;
    }
    ws.send(JSON.stringify(frame));
  }

  return {
    protocol: "ws",
    async *ask(req: AskRequest, signal: AbortSignal): AsyncGenerator<AnswerEvent> {
      const id = `c${++counter}`;
      const queue = new AsyncQueue<Frame>();
      pending.set(id, queue);
      const onAbort = () => {
        queue.fail(canceled());
        send({ type: "cancel", id }).catch(() => {});
      };
      signal.addEventListener("abort", onAbort, { once: true });
      try {
        await send({
          type: "ask",
          id,
          prompt: req.prompt,
          "conversation_id": req.conversationId ?? "new",
          "parent_id": req.parentId,
          model: req.model,
        });
        for await (const frame of queue) {
          const event = toAnswerEvent(frame);
          if (event === null) continue;
          yield event;
          if (event.type === "done") return;
        }
      } finally {
        signal.removeEventListener("abort", onAbort);
        pending.delete(id);
      }
    },
    history: (cid, pid) => api.history(cid, pid),
    list: () => api.list(),
    async close() {
      const current = socket;
      socket = null;
      if (!current) return;
      const ws = await current.catch(() => null);
      if (!ws || ws.readyState === WebSocket.CLOSED) return;
      const closed = new Promise<void>((resolve) => ws.addEventListener("close", () => resolve()));
      ws.onclose = null;
      ws.close(1000);
      await closed;
    },
  };
}

/** One JSON frame as an answer event; null for frames of other types. */
export function toAnswerEvent(frame: Frame): AnswerEvent | null {
  switch (frame.type) {
    case "delta":
      return typeof frame.text === "string" ? { type: "delta", text: frame.text } : null;
    case "done":
      return {
        type: "done",
        conversationId: String(frame.conversation_id),
        parentId: String(frame.parent_id),
        model: typeof frame.model === "string" ? frame.model : null,
        usage: frame.usage ?? null,
      };
    case "error":
      throw answerFailure(frame);
    default:
      return null;
  }
}

/** The failure of a handshake: the server's HTTP status when the runtime says it. */
function handshakeFailure(url: string, message: string): AppError {
  const status = /\b([45]\d\d)\b/.exec(message)?.[1];
  if (status === "401") return serverFailure(Code.Unauthenticated, "", { status: "401" });
  if (status) {
    return new AppError(
      Code.Unavailable,
      `Cannot open the socket at ${url}: the server answered ${status}`,
    );
  }
  // Over wss Deno upgrades through HTTP/2, where a refused upgrade (a wrong
  // token, mostly) surfaces as a bare stream error without its status.
  if (/stream error/i.test(message)) {
    return new AppError(
      Code.Unavailable,
      `Cannot open the socket at ${url}: the server refused the upgrade (check --token)`,
    );
  }
  return unreachable(url, new Error(message));
}
