/**
 * Test fixture for the gRPC transport: the real server (sqlite in a temp dir,
 * a real provider, the real engine) on a loopback port, and @grpc/grpc-js
 * clients built from our own proto files.
 * @module
 */

import * as grpc from "@grpc/grpc-js";
import { parseConfig } from "../../lib/config.ts";
import { createEngine } from "../../lib/engine/engine.ts";
import type { Engine } from "../../lib/engine/types.ts";
import { silentLogger } from "../../lib/log.ts";
import { EchoProvider } from "../../lib/providers/echo/client.ts";
import type { Provider } from "../../lib/providers/provider.ts";
import { openSqliteStore } from "../../lib/store/sqlite.ts";
import type { ConversationStore } from "../../lib/store/store.ts";
import type { ServerHandle } from "../../lib/transports/context.ts";
import { loadProtos, serveGrpc } from "../../lib/transports/grpc.ts";

/** Options of {@link startGrpc}. */
export interface StartGrpcOptions {
  provider?: Provider;
  /** Extra environment for the config (AUTH_TOKENS, TLS_CERT …). */
  env?: Record<string, string>;
}

/** A generated client: grpc-js adds one method per rpc at run time. */
// deno-lint-ignore no-explicit-any
export type ServiceClient = grpc.Client & { [method: string]: any };

/** A running gRPC server with its store, and clients to reach it. */
export interface GrpcFixture extends AsyncDisposable {
  handle: ServerHandle;
  store: ConversationStore;
  engine: Engine;
  /** Fires the server's shutdown signal. */
  shutdown: AbortController;
  /** `host:port` to dial. */
  address: string;
  /** A client of `chat.Chat`. */
  legacy(creds?: grpc.ChannelCredentials, options?: grpc.ChannelOptions): ServiceClient;
  /** A client of `easybackend.v1.Chat`. */
  typed(creds?: grpc.ChannelCredentials, options?: grpc.ChannelOptions): ServiceClient;
  /** A client of `grpc.health.v1.Health`. */
  health(): ServiceClient;
  /** A generic client for raw calls. */
  raw(): ServiceClient;
}

/** Environment every test config gets (ports 0, loopback, default limits). */
export const BASE_ENV: Record<string, string> = {
  HOST: "127.0.0.1",
  HTTP_PORT: "0",
  GRPC_PORT: "0",
  WS_PORT: "0",
  DATA_DIR: "unused",
  RATE_LIMIT_RPM: "0",
  MAX_STREAMS_PER_TOKEN: "0",
  MAX_STREAMS: "0",
  MAX_WS_FRAME_BYTES: "1048576",
  MAX_GRPC_MESSAGE_BYTES: "4194304",
};

// deno-lint-ignore no-explicit-any
type ClientCtor = new (address: string, creds: grpc.ChannelCredentials, options?: object) => any;

/** The client constructors of our services. */
export function clientConstructors(): {
  legacy: ClientCtor;
  typed: ClientCtor;
  health: ClientCtor;
} {
  // deno-lint-ignore no-explicit-any
  const pkg = grpc.loadPackageDefinition(loadProtos()) as any;
  return {
    legacy: pkg.chat.Chat,
    typed: pkg.easybackend.v1.Chat,
    health: pkg.grpc.health.v1.Health,
  };
}

/** Starts the real server on a loopback port. */
export async function startGrpc(options: StartGrpcOptions = {}): Promise<GrpcFixture> {
  const dir = await Deno.makeTempDir({ prefix: "eb_grpc_" });
  const parsed = parseConfig([], { ...BASE_ENV, DATA_DIR: dir, ...options.env });
  if (parsed.help) throw new Error("unexpected --help");
  const store = await openSqliteStore(dir);
  const engine = createEngine({
    store,
    provider: options.provider ?? new EchoProvider(),
    logger: silentLogger,
  });
  const shutdown = new AbortController();
  const handle = await serveGrpc({
    engine,
    config: parsed.config,
    logger: silentLogger,
    shutdown: shutdown.signal,
  });
  const address = `127.0.0.1:${handle.port}`;
  const ctors = clientConstructors();
  const clients: grpc.Client[] = [];
  const insecure = grpc.credentials.createInsecure();
  function make(ctor: ClientCtor, creds = insecure, opts?: grpc.ChannelOptions): ServiceClient {
    const c = new ctor(address, creds, opts);
    clients.push(c);
    return c;
  }
  return {
    handle,
    store,
    engine,
    shutdown,
    address,
    legacy: (creds, opts) => make(ctors.legacy, creds, opts),
    typed: (creds, opts) => make(ctors.typed, creds, opts),
    health: () => make(ctors.health),
    raw: () => make(grpc.Client as unknown as ClientCtor),
    async [Symbol.asyncDispose]() {
      for (const c of clients) c.close();
      await handle.close(AbortSignal.abort());
      await store.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** What a server-streaming call gave: its messages and its final status. */
export interface StreamResult<T> {
  messages: T[];
  error: grpc.ServiceError | null;
}

/** Reads a server stream to its end. */
export function collect<T>(call: grpc.ClientReadableStream<T>): Promise<StreamResult<T>> {
  return new Promise((resolve) => {
    const messages: T[] = [];
    call.on("data", (m: T) => messages.push(m));
    call.on("error", (error: grpc.ServiceError) => resolve({ messages, error }));
    call.on("end", () => resolve({ messages, error: null }));
  });
}

/** Calls a unary method and resolves with its answer or its error. */
export function unary<T>(
  client: ServiceClient,
  method: string,
  request: unknown,
  metadata = new grpc.Metadata(),
): Promise<{ value: T | null; error: grpc.ServiceError | null }> {
  return new Promise((resolve) => {
    client[method](request, metadata, (error: grpc.ServiceError | null, value: T) => {
      resolve({ value: error ? null : value, error });
    });
  });
}

/** Metadata carrying a bearer token. */
export function bearer(token: string): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set("authorization", `Bearer ${token}`);
  return md;
}

/** Waits until `check` holds, polling every 20 ms, at most `ms`. */
export async function eventually(check: () => Promise<boolean>, ms = 1000): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return await check();
}
