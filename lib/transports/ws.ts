/**
 * The WebSocket transport: `Deno.serve` + `Deno.upgradeWebSocket` on
 * `WS_PORT` (WSS when TLS is on). Any path upgrades. Speaks the original text
 * protocol and the JSON frames beside it (see `ws_frames.ts`); each connection
 * is a {@link WsSession}.
 * @module
 */

import { AppError, Code } from "../errors.ts";
import { Authenticator, bearerToken } from "./auth.ts";
import type { ServerHandle, TransportDeps } from "./context.ts";
import { errorBody, httpStatus } from "./wire_errors.ts";
import { WsSession } from "./ws_session.ts";

/** Options of {@link serveWs} beyond the shared deps. */
export interface WsOptions {
  /** Unsent bytes a socket may hold before answers pause. @default 1048576 */
  highWaterMark?: number;
  /** Seconds a peer may leave a ping unanswered before it is dropped. @default 30 */
  idleTimeoutSeconds?: number;
}

/** The `Sec-WebSocket-Protocol` entry prefix that carries a token. */
export const BEARER_PROTOCOL_PREFIX = "bearer.";

const SHUTDOWN_CLOSE_CODE = 1001;

/**
 * Starts the WebSocket listener on `config.host:config.wsPort` and resolves once
 * it is listening.
 * @param deps engine, config, logger and the shutdown signal
 * @param options backpressure and ping tuning
 */
// deno-lint-ignore require-await -- async so a bind failure rejects instead of throwing
export async function serveWs(
  deps: TransportDeps,
  options: WsOptions = {},
): Promise<ServerHandle> {
  const { config, engine } = deps;
  const logger = deps.logger.child({ protocol: "ws" });
  const auth = new Authenticator(config.authTokens);
  const sessions = new Set<WsSession>();
  const stop = new AbortController();
  let draining = false;
  const onShutdown = () => (draining = true);
  deps.shutdown.addEventListener("abort", onShutdown, { once: true });
  if (deps.shutdown.aborted) draining = true;

  async function handle(req: Request): Promise<Response> {
    if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("This port speaks WebSocket: upgrade required\n", {
        status: 426,
        headers: { "upgrade": "websocket", "content-type": "text/plain; charset=utf-8" },
      });
    }
    if (draining) return errorResponse(shuttingDown());
    const offered = protocolToken(req.headers.get("sec-websocket-protocol"));
    const token = bearerToken(req.headers.get("authorization")) ??
      new URL(req.url).searchParams.get("token") ?? offered?.token ?? null;
    let principal: string;
    try {
      principal = await auth.principal(token);
    } catch (err) {
      return errorResponse(AppError.from(err));
    }
    const { socket, response } = Deno.upgradeWebSocket(req, {
      protocol: offered?.protocol,
      idleTimeout: options.idleTimeoutSeconds ?? 30,
    });
    const session = new WsSession({
      socket,
      engine,
      logger,
      principal,
      maxFrameBytes: config.maxWsFrameBytes,
      highWaterMark: options.highWaterMark ?? 1 << 20,
      stop: stop.signal,
      draining: () => draining,
    });
    sessions.add(session);
    socket.addEventListener("close", () => sessions.delete(session));
    return response;
  }

  const server = Deno.serve({
    hostname: config.host,
    port: config.wsPort,
    ...(config.tlsCert && config.tlsKey ? { cert: config.tlsCert, key: config.tlsKey } : {}),
    onListen: () => {},
    onError: (err) => {
      logger.error("cannot handle the request", { err });
      return new Response("internal error\n", { status: 500 });
    },
  }, handle);
  const port = server.addr.port;
  logger.info("listening", { host: config.host, port, tls: config.tlsCert !== null });

  let closing: Promise<void> | null = null;
  async function close(signal?: AbortSignal): Promise<void> {
    draining = true;
    deps.shutdown.removeEventListener("abort", onShutdown);
    // Deno's server.shutdown() drops upgraded sockets at once, so new upgrades
    // are refused (503) while running asks finish, and the listener stops last.
    await untilIdleOrAborted(sessions, signal);
    stop.abort(shuttingDown());
    await Promise.all([...sessions].map((s) => s.idle()));
    for (const s of sessions) s.close(SHUTDOWN_CLOSE_CODE, "server shutting down");
    await server.shutdown();
    logger.info("closed", { port });
  }

  deps.metrics?.gauge("easybackend_ws_connections", "Open WebSocket connections", () => [
    [{}, sessions.size],
  ]);
  return {
    port,
    close: (signal?: AbortSignal) => (closing ??= close(signal)),
  };
}

function shuttingDown(): AppError {
  return new AppError(Code.Unavailable, "Cannot finish the answer: the server is shutting down", {
    reason: "shutting_down",
  });
}

function errorResponse(err: AppError): Response {
  return Response.json(errorBody(err), { status: httpStatus(err) });
}

/** The first `bearer.<token>` entry of a `Sec-WebSocket-Protocol` header, if any. */
export function protocolToken(
  header: string | null,
): { protocol: string; token: string } | null {
  for (const entry of (header ?? "").split(",")) {
    const protocol = entry.trim();
    if (protocol.startsWith(BEARER_PROTOCOL_PREFIX)) {
      const token = protocol.slice(BEARER_PROTOCOL_PREFIX.length);
      if (token !== "") return { protocol, token };
    }
  }
  return null;
}

/** Resolves when every session is idle, or as soon as `signal` fires. */
async function untilIdleOrAborted(
  sessions: Set<WsSession>,
  signal: AbortSignal | undefined,
): Promise<void> {
  const idle = Promise.all([...sessions].map((s) => s.idle()));
  if (!signal) {
    await idle;
    return;
  }
  if (signal.aborted) return;
  let onAbort = () => {};
  const aborted = new Promise<void>((resolve) => {
    onAbort = resolve;
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    await Promise.race([idle, aborted]);
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}
