/**
 * What every transport shares: the handle of a running listener, and how a
 * call's {@link CallContext} is made from a client signal and the shutdown signal.
 * @module
 */

import type { Engine } from "../engine/types.ts";
import type { Logger } from "../log.ts";
import type { CallContext } from "../providers/provider.ts";
import type { Config } from "../config.ts";
import type { MetricsRegistry } from "../metrics.ts";

/** The wire protocols, as they appear in logs and metrics. */
export type Protocol = "http" | "grpc" | "ws";

/** What `main.ts` hands every transport. */
export interface TransportDeps {
  engine: Engine;
  config: Config;
  logger: Logger;
  /** Fires when the server begins to shut down. */
  shutdown: AbortSignal;
  /** The process's metrics, served on `GET /metrics`; a transport may add its own series. */
  metrics?: MetricsRegistry;
}

/** A running listener. */
export interface ServerHandle {
  /** The port actually bound (useful with port 0). */
  readonly port: number;
  /**
   * Stops accepting, lets running calls finish until `signal` fires (then they
   * are aborted), and resolves once everything is closed.
   */
  close(signal?: AbortSignal): Promise<void>;
}

/** Options of {@link createCallContext}. */
export interface CallContextOptions {
  protocol: Protocol;
  /** The owner principal (see `auth.ts`). */
  principal: string;
  logger: Logger;
  /** Signals that end this call: client gone, cancel, shutdown. */
  signals: AbortSignal[];
  /** A request id the client sent, if any; otherwise one is made. */
  requestId?: string | null;
}

/** A call's context, owned by the transport that made it. */
export interface OwnedCallContext extends CallContext {
  /**
   * Stops following the signals it was made from; the transport calls it
   * once the call has ended (a signal that outlives calls, such as the
   * shutdown signal, would otherwise keep a listener per call).
   */
  dispose(): void;
  /** Aborts the call itself (e.g. its client went away), with this reason. */
  abort(reason: unknown): void;
}

/**
 * Makes the context of one call: one signal, one request id, one child
 * logger. The signal is a controller that follows `signals` through one
 * listener each, removed by `dispose` (an `AbortSignal.any` costs ~10× more
 * per call and is tracked through weak references; bench/request_overhead_bench.ts).
 */
export function createCallContext(options: CallContextOptions): OwnedCallContext {
  const requestId = sanitizeRequestId(options.requestId) ?? crypto.randomUUID();
  const sources = options.signals;
  const controller = new AbortController();
  const dispose = () => {
    for (const s of sources) s.removeEventListener("abort", follow);
  };
  const follow = (event: Event) => {
    dispose();
    controller.abort((event.target as AbortSignal).reason);
  };
  const aborted = sources.find((s) => s.aborted);
  if (aborted) controller.abort(aborted.reason);
  else for (const s of sources) s.addEventListener("abort", follow);
  return {
    signal: controller.signal,
    requestId,
    principal: options.principal,
    protocol: options.protocol,
    logger: options.logger.child({ requestId, protocol: options.protocol }),
    dispose,
    abort: (reason) => controller.abort(reason),
  };
}

function sanitizeRequestId(id: string | null | undefined): string | null {
  if (!id) return null;
  return /^[\w.:-]{1,128}$/.test(id) ? id : null;
}
