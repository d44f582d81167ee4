/**
 * The gRPC listener (@grpc/grpc-js): the original `chat.Chat`, the typed
 * `easybackend.v1.Chat`, the standard health service and server reflection
 * (so `grpcurl` works without the proto files). TLS when `TLS_CERT` is set.
 * The only module that imports `@grpc/grpc-js`.
 * @module
 */

import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";
import { Buffer } from "node:buffer";
import { fileURLToPath } from "node:url";
import { AppError, Code } from "../errors.ts";
import { Authenticator } from "./auth.ts";
import type { ServerHandle, TransportDeps } from "./context.ts";
import { type GrpcRuntime, type GrpcStreamCall, track } from "./grpc_call.ts";
import { HealthService } from "./grpc_health.ts";
import { legacyAsk, type LegacyAskRequest, type LegacyAskResponse } from "./grpc_legacy.ts";
import { typedChatService } from "./grpc_typed.ts";

/** The proto files we serve, relative to the `proto/` folder. */
const PROTO_FILES = ["chat.proto", "easybackend/v1/chat.proto", "grpc/health/v1/health.proto"];

/** The services of this server, by fully qualified name. */
const LEGACY = "chat.Chat";
const TYPED = "easybackend.v1.Chat";
const HEALTH = "grpc.health.v1.Health";

/** How long a forced stop waits for aborted calls to write their status. */
const FORCE_SETTLE_MS = 1000;

/** How long written messages get to leave before the connections close. */
const FLUSH_MS = 100;

/** Loads our protos: camelCase fields, int64 as numbers, enums as names. */
export function loadProtos(): protoLoader.PackageDefinition {
  const protoDir = fileURLToPath(new URL("../../proto/", import.meta.url));
  return protoLoader.loadSync(PROTO_FILES, {
    includeDirs: [protoDir],
    keepCase: false,
    longs: Number,
    enums: String,
    defaults: true,
    oneofs: true,
  });
}

/**
 * Starts the gRPC listener on `config.host:config.grpcPort` and resolves once
 * it is bound. `close(signal)` stops accepting, lets running calls finish,
 * and when `signal` fires aborts them (UNAVAILABLE) and closes every connection.
 */
export async function serveGrpc(deps: TransportDeps): Promise<ServerHandle> {
  const packageDefinition = loadProtos();
  const force = new AbortController();
  const rt: GrpcRuntime = {
    deps,
    auth: new Authenticator(deps.config.authTokens),
    force: force.signal,
    running: new Set(),
    draining: false,
    responseMetadata: (pairs) => {
      const md = new grpc.Metadata();
      for (const [k, v] of Object.entries(pairs)) md.set(k, v);
      return md;
    },
  };
  routeGrpcLogs(deps);
  const health = new HealthService([LEGACY, TYPED, HEALTH]);
  const server = new grpc.Server({
    "grpc.max_receive_message_length": deps.config.maxGrpcMessageBytes,
  });
  addServices(server, packageDefinition, rt, health);
  new ReflectionService(packageDefinition).addToServer(server);

  const port = await bind(server, deps);
  deps.logger.info("listening", {
    protocol: "grpc",
    host: deps.config.host,
    port,
    tls: deps.config.tlsCert !== null,
  });
  const onShutdown = () => health.stopServing();
  deps.shutdown.addEventListener("abort", onShutdown, { once: true });

  let closing: Promise<void> | null = null;
  return {
    port,
    close(signal?: AbortSignal): Promise<void> {
      closing ??= shutdown(server, rt, health, force, signal).finally(() =>
        deps.shutdown.removeEventListener("abort", onShutdown)
      );
      return closing;
    },
  };
}

/**
 * grpc-js writes its own errors (such as a failed bind) on stderr; route them
 * to our JSON log instead, so stderr keeps only the one start-up failure line.
 */
function routeGrpcLogs(deps: TransportDeps): void {
  const log = (...args: unknown[]) => {
    deps.logger.warn("grpc-js", { detail: args.map(String).join(" ") });
  };
  grpc.setLogger({ error: log, info: log, debug: log } as unknown as Console);
}

function addServices(
  server: grpc.Server,
  def: protoLoader.PackageDefinition,
  rt: GrpcRuntime,
  health: HealthService,
): void {
  server.addService(
    def[LEGACY] as grpc.ServiceDefinition,
    implementation({
      Ask: (call: GrpcStreamCall<LegacyAskRequest, LegacyAskResponse>) =>
        track(rt, () => legacyAsk(call, rt)),
    }),
  );
  server.addService(def[TYPED] as grpc.ServiceDefinition, implementation(typedChatService(rt)));
  server.addService(
    def[HEALTH] as grpc.ServiceDefinition,
    implementation({
      Check: health.check.bind(health),
      Watch: health.watch.bind(health),
    }),
  );
}

/**
 * Our handlers take the structural call types of `grpc_call.ts`, which
 * grpc-js's call objects satisfy; grpc-js types a service as untyped handlers.
 */
function implementation(handlers: object): grpc.UntypedServiceImplementation {
  return handlers as grpc.UntypedServiceImplementation;
}

function bind(server: grpc.Server, deps: TransportDeps): Promise<number> {
  const { host, grpcPort, tlsCert, tlsKey } = deps.config;
  const creds = tlsCert && tlsKey
    ? grpc.ServerCredentials.createSsl(
      // Our own certificate as the (unused) client root: grpc-js under Deno
      // failed the handshake when the root certificates were null.
      Buffer.from(tlsCert),
      [{ cert_chain: Buffer.from(tlsCert), private_key: Buffer.from(tlsKey) }],
      false,
    )
    : grpc.ServerCredentials.createInsecure();
  const address = host.includes(":") ? `[${host}]:${grpcPort}` : `${host}:${grpcPort}`;
  return new Promise((resolve, reject) => {
    server.bindAsync(address, creds, (err, port) => {
      if (err) {
        reject(
          new AppError(Code.Unavailable, `Cannot listen on ${address}: ${err.message}`, {
            cause: err,
          }),
        );
      } else resolve(port);
    });
  });
}

/**
 * Stops the server: refuses new calls, waits for the running ones (aborting
 * them when `signal` fires), and only then closes the connections. Closing
 * an HTTP/2 session while a stream still writes loses that stream's last
 * messages under Deno's node:http2, so connections close only once idle.
 */
async function shutdown(
  server: grpc.Server,
  rt: GrpcRuntime,
  health: HealthService,
  force: AbortController,
  signal: AbortSignal | undefined,
): Promise<void> {
  health.stopServing();
  rt.draining = true;
  const onForce = () => {
    force.abort(
      new AppError(Code.Unavailable, "Cannot finish the call: the server is shutting down", {
        reason: "shutting_down",
      }),
    );
  };
  if (signal?.aborted) onForce();
  else signal?.addEventListener("abort", onForce, { once: true });
  while (rt.running.size > 0 && !force.signal.aborted) {
    await Promise.race([Promise.allSettled([...rt.running]), once(force.signal)]);
  }
  if (force.signal.aborted) await settle(rt.running, FORCE_SETTLE_MS);
  // Let the last messages and trailers leave before the sessions close: Deno's
  // node:http2 drops what a stream still has queued when its session closes.
  await delay(FLUSH_MS);
  const graceful = new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
  await Promise.race([graceful, once(force.signal)]);
  signal?.removeEventListener("abort", onForce);
  if (force.signal.aborted) server.forceShutdown();
  rt.deps.logger.info("closed", { protocol: "grpc" });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves when the signal fires (never, if it never does). */
function once(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
}

/** Waits until the running calls settle, at most `ms`. */
async function settle(running: Set<Promise<unknown>>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    Promise.allSettled([...running]),
    new Promise((resolve) => timer = setTimeout(resolve, ms)),
  ]);
  clearTimeout(timer);
}
