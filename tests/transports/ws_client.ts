/**
 * Test helpers for the WebSocket transport: a real engine on a real sqlite
 * store in a temp dir behind `serveWs` on port 0, and a client that queues the
 * frames it receives so a test can await them one by one.
 * @module
 */

import { parseConfig } from "../../lib/config.ts";
import { createEngine } from "../../lib/engine/engine.ts";
import type { Engine } from "../../lib/engine/types.ts";
import { silentLogger } from "../../lib/log.ts";
import type { Provider } from "../../lib/providers/provider.ts";
import type { ConversationStore } from "../../lib/store/store.ts";
import { openSqliteStore } from "../../lib/store/sqlite.ts";
import type { ServerHandle } from "../../lib/transports/context.ts";
import { serveWs, type WsOptions } from "../../lib/transports/ws.ts";

/** A running WebSocket server over a real engine and store. */
export interface WsHarness {
  url: string;
  engine: Engine;
  store: ConversationStore;
  server: ServerHandle;
  shutdown: AbortController;
  /** Closes the server, the store and removes the temp dir. */
  close(signal?: AbortSignal): Promise<void>;
}

/** Starts the harness with a provider and extra environment. */
export async function startWs(
  provider: Provider,
  options: { env?: Record<string, string>; ws?: WsOptions } = {},
): Promise<WsHarness> {
  const dataDir = await Deno.makeTempDir({ prefix: "eb-ws-" });
  const parsed = parseConfig([], {
    HOST: "127.0.0.1",
    WS_PORT: "0",
    DATA_DIR: dataDir,
    ...options.env,
  });
  if (parsed.help) throw new Error("unexpected --help");
  const store = await openSqliteStore(dataDir);
  const engine = createEngine({ store, provider, logger: silentLogger });
  const shutdown = new AbortController();
  const server = await serveWs(
    { engine, config: parsed.config, logger: silentLogger, shutdown: shutdown.signal },
    options.ws,
  );
  let closed = false;
  return {
    url: `ws://127.0.0.1:${server.port}`,
    engine,
    store,
    server,
    shutdown,
    async close(signal?: AbortSignal) {
      if (closed) return;
      closed = true;
      shutdown.abort();
      await server.close(signal ?? AbortSignal.abort());
      await store.close();
      await Deno.remove(dataDir, { recursive: true });
    },
  };
}

/** A WebSocket client that queues received text frames. */
export class QueueClient {
  readonly socket: WebSocket;
  readonly opened: Promise<void>;
  readonly closed: Promise<CloseEvent>;
  #frames: string[] = [];
  #waiters: (() => void)[] = [];

  /** Connects to `url`, offering `protocols`. */
  constructor(url: string, protocols?: string | string[]) {
    this.socket = new WebSocket(url, protocols);
    this.opened = new Promise((resolve, reject) => {
      this.socket.addEventListener("open", () => resolve(), { once: true });
      this.socket.addEventListener("error", () => reject(new Error("socket failed")), {
        once: true,
      });
    });
    this.opened.catch(() => {});
    this.closed = new Promise((resolve) => {
      this.socket.addEventListener("close", (e) => resolve(e), { once: true });
    });
    this.socket.addEventListener("message", (e) => {
      this.#frames.push(String(e.data));
      for (const w of this.#waiters.splice(0)) w();
    });
    this.socket.addEventListener("close", () => {
      for (const w of this.#waiters.splice(0)) w();
    });
  }

  /** Sends a text frame (a string, or an object as JSON). */
  send(frame: string | Record<string, unknown>): void {
    this.socket.send(typeof frame === "string" ? frame : JSON.stringify(frame));
  }

  /** The next frame; rejects after `timeoutMs` or when the socket closed. */
  async next(timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (this.#frames.length === 0) {
      if (this.socket.readyState === WebSocket.CLOSED) throw new Error("socket closed");
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("no frame in time");
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        timer = setTimeout(resolve, left);
        this.#waiters.push(resolve);
      });
      clearTimeout(timer);
    }
    return this.#frames.shift()!;
  }

  /** The next frame parsed as JSON. */
  async nextJson(timeoutMs?: number): Promise<Record<string, unknown>> {
    return JSON.parse(await this.next(timeoutMs));
  }

  /** Legacy frames up to and including the `<|end|>` or `<|err|>` one. */
  async legacyAnswer(): Promise<{ text: string; last: string }> {
    let text = "";
    for (;;) {
      const f = await this.next();
      if (f.startsWith("<|end|>$") || f.startsWith("<|err|>$")) return { text, last: f };
      text += f;
    }
  }

  /** JSON frames of one ask id up to its `done` or `error`; other ids' frames are kept aside. */
  async jsonAnswer(
    id: string,
    aside: Record<string, unknown>[] = [],
  ): Promise<{ text: string; last: Record<string, unknown> }> {
    let text = "";
    for (;;) {
      const f = await this.nextJson();
      if (f.id !== id) {
        aside.push(f);
        continue;
      }
      if (f.type === "delta") text += f.text as string;
      else return { text, last: f };
    }
  }

  /** Closes the socket and waits for the close to complete. */
  async close(): Promise<void> {
    await this.opened.catch(() => {});
    if (this.socket.readyState !== WebSocket.CLOSED) this.socket.close();
    await this.closed;
  }
}
