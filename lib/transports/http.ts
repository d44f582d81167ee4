/**
 * The HTTP listener: `POST /ask` (JSON or SSE), the conversation routes,
 * health, metrics, the OpenAPI document and the docs page, and the
 * OpenAI-compatible API under `/v1/`. HTTPS when TLS is configured.
 * @module
 */

import { AppError, Code } from "../errors.ts";
import { MetricsRegistry } from "../metrics.ts";
import type { ServerHandle, TransportDeps } from "./context.ts";
import { createHttpHandler } from "./http_handler.ts";

/** Options of {@link serveHttp}, for tests and tuning. */
export interface HttpOptions {
  /** Milliseconds of upstream silence before an SSE `: keep-alive` comment. @default 15000 */
  keepAliveMs?: number;
}

function shuttingDown(): AppError {
  return new AppError(Code.Unavailable, "Cannot finish the answer: the server is shutting down", {
    reason: "shutting_down",
  });
}

/**
 * Starts the HTTP listener on `config.host:config.httpPort` and resolves once
 * it is listening.
 * @param deps engine, config, logger, shutdown signal and metrics
 * @param options keep-alive tuning
 * @throws {AppError} Unavailable when the port cannot be bound
 */
export function serveHttp(deps: TransportDeps, options: HttpOptions = {}): Promise<ServerHandle> {
  const { config } = deps;
  const logger = deps.logger.child({ protocol: "http" });
  const abortAll = new AbortController();
  let draining = deps.shutdown.aborted;
  const onShutdown = () => (draining = true);
  deps.shutdown.addEventListener("abort", onShutdown, { once: true });
  const handler = createHttpHandler({
    engine: deps.engine,
    logger: deps.logger,
    metrics: deps.metrics ?? new MetricsRegistry(),
    authTokens: config.authTokens,
    maxBodyBytes: config.maxBodyBytes,
    abortAll: abortAll.signal,
    draining: () => draining,
    keepAliveMs: options.keepAliveMs,
    docs: { wsPort: config.wsPort, grpcPort: config.grpcPort, tls: config.tlsCert !== null },
  });
  const tls = config.tlsCert && config.tlsKey ? { cert: config.tlsCert, key: config.tlsKey } : {};
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname: config.host,
      port: config.httpPort,
      ...tls,
      onListen: () => {},
      onError: (err) => {
        logger.error("cannot handle the request", { err });
        return new Response(
          '{"error":{"code":"internal","message":"Cannot answer: internal error"}}',
          {
            status: 500,
            headers: { "content-type": "application/json" },
          },
        );
      },
    }, handler);
  } catch (err) {
    deps.shutdown.removeEventListener("abort", onShutdown);
    const why = err instanceof Deno.errors.AddrInUse
      ? "the port is already in use"
      : (err as Error).message;
    return Promise.reject(
      new AppError(
        Code.Unavailable,
        `Cannot listen on ${config.host}:${config.httpPort} (HTTP_PORT): ${why}`,
        { cause: err },
      ),
    );
  }
  const port = server.addr.port;
  logger.info("listening", { host: config.host, port, tls: config.tlsCert !== null });

  let closing: Promise<void> | null = null;
  async function close(signal?: AbortSignal): Promise<void> {
    draining = true;
    deps.shutdown.removeEventListener("abort", onShutdown);
    const abort = () => abortAll.abort(shuttingDown());
    // No signal: running answers may take as long as they need.
    if (signal?.aborted) abort();
    else signal?.addEventListener("abort", abort, { once: true });
    try {
      await server.shutdown();
    } finally {
      signal?.removeEventListener("abort", abort);
    }
    logger.info("closed", { port });
  }
  return Promise.resolve({ port, close: (signal?: AbortSignal) => (closing ??= close(signal)) });
}
