/**
 * The composition root: config → logger → store → provider → engine →
 * transports. The only module that wires concrete implementations together;
 * it owns the shutdown controller and the signal handlers.
 *
 * Exit codes: 0 after a clean shutdown (or `--help`), 1 when a listener or the
 * store cannot start, 2 on a bad configuration value.
 * @module
 */

import { type Config, ConfigError, helpText, readConfig } from "./lib/config.ts";
import { createEngine } from "./lib/engine/engine.ts";
import { limitEngine } from "./lib/engine/limits.ts";
import { engineMetrics, observeEngine } from "./lib/engine/observed.ts";
import type { Engine } from "./lib/engine/types.ts";
import { createLogger, type Logger } from "./lib/log.ts";
import { MetricsRegistry } from "./lib/metrics.ts";
import { registerKeyPoolMetrics } from "./lib/pool_metrics.ts";
import { createProvider } from "./lib/providers/registry.ts";
import { openSqliteStore } from "./lib/store/sqlite.ts";
import type { ConversationStore } from "./lib/store/store.ts";
import type { ServerHandle, TransportDeps } from "./lib/transports/context.ts";
import { serveGrpc } from "./lib/transports/grpc.ts";
import { serveHttp } from "./lib/transports/http.ts";
import { serveWs } from "./lib/transports/ws.ts";

const encoder = new TextEncoder();

function printLine(stream: { writeSync(p: Uint8Array): number }, line: string): void {
  stream.writeSync(encoder.encode(line + "\n"));
}

/** Reads the configuration, or the exit code when the process must stop now. */
function loadConfig(args: string[]): Config | number {
  try {
    const parsed = readConfig(args);
    if (parsed.help) {
      printLine(Deno.stdout, helpText());
      return 0;
    }
    return parsed.config;
  } catch (err) {
    if (err instanceof ConfigError) {
      printLine(Deno.stderr, `easybackend: ${err.message}`);
      return 2;
    }
    throw err;
  }
}

/** The engine with its decorators: observed (logs, metrics) around limited. */
function buildEngine(
  config: Config,
  store: ConversationStore,
  logger: Logger,
  metrics: MetricsRegistry,
  providerClose: AbortSignal,
): { engine: Engine; settled: () => Promise<void> } {
  const provider = createProvider(config, logger, {
    closeSignal: providerClose,
    onKeyPool: (pool) => registerKeyPoolMetrics(metrics, () => pool.state()),
  });
  if (provider.name === "echo") {
    logger.warn(
      "no upstream is configured: answering with the offline echo provider; set API_KEY",
    );
  }
  const core = createEngine({
    store,
    provider,
    logger,
    model: config.model,
    systemPrompt: config.systemPrompt,
    contextTokens: config.contextTokens,
    maxPromptChars: config.maxPromptChars,
    draftIntervalMs: config.draftIntervalMs,
  });
  const limited = limitEngine(core, {
    rateLimitRpm: config.rateLimitRpm,
    maxStreamsPerToken: config.maxStreamsPerToken,
    maxStreams: config.maxStreams,
  });
  return { engine: observeEngine(limited, engineMetrics(metrics)), settled: core.settled };
}

interface Listener {
  name: string;
  variable: string;
  port: number;
  start: (d: TransportDeps) => Promise<ServerHandle>;
}

/** Starts the three listeners, closing the ones already started if one fails. */
async function startListeners(deps: TransportDeps): Promise<ServerHandle[]> {
  const { config } = deps;
  const handles: ServerHandle[] = [];
  const listeners: Listener[] = [
    { name: "HTTP", variable: "HTTP_PORT", port: config.httpPort, start: serveHttp },
    { name: "gRPC", variable: "GRPC_PORT", port: config.grpcPort, start: serveGrpc },
    { name: "WebSocket", variable: "WS_PORT", port: config.wsPort, start: serveWs },
  ];
  for (const l of listeners) {
    try {
      // serveWs throws synchronously: `await` inside the try catches both forms.
      handles.push(await l.start(deps));
    } catch (err) {
      await Promise.all(handles.map((h) => h.close(AbortSignal.abort())));
      throw new Error(listenFailure(l, config.host, err), { cause: err });
    }
  }
  return handles;
}

/** One line naming the listener, its address and variable, and why it cannot listen. */
function listenFailure(l: Listener, host: string, err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const inUse = err instanceof Deno.errors.AddrInUse || /in use|EADDRINUSE|No address added/i
    .test(message);
  const why = inUse ? "the port is already in use" : message.replace(/^Cannot [^:]*: /, "");
  if (message.includes(l.variable) && message.startsWith("Cannot")) return message;
  return `Cannot start the ${l.name} listener on ${host}:${l.port} (${l.variable}): ${why}`;
}

/** Process series beside the engine's: start time and resident memory. */
function registerProcessMetrics(metrics: MetricsRegistry): void {
  const started = Date.now() / 1000;
  metrics.gauge("process_start_time_seconds", "Start time of the process since the epoch", () => [
    [{}, started],
  ]);
  metrics.gauge("process_resident_memory_bytes", "Resident memory size", () => [
    [{}, Deno.memoryUsage().rss],
  ]);
}

/**
 * Resolves with the first SIGTERM or SIGINT; `force` fires on the second one,
 * so an operator can cut the grace period short.
 */
function awaitSignals(): { first: Promise<string>; force: AbortSignal; dispose(): void } {
  const first = Promise.withResolvers<string>();
  const force = new AbortController();
  let seen = 0;
  const signals: Deno.Signal[] = ["SIGTERM", "SIGINT"];
  const handlers = signals.map((s) => {
    const fn = () => {
      seen++;
      if (seen === 1) first.resolve(s);
      else force.abort();
    };
    Deno.addSignalListener(s, fn);
    return [s, fn] as const;
  });
  return {
    first: first.promise,
    force: force.signal,
    dispose: () => handlers.forEach(([s, fn]) => Deno.removeSignalListener(s, fn)),
  };
}

/** What the shutdown sequence closes, in order. */
interface Running {
  handles: ServerHandle[];
  shutdown: AbortController;
  providerClose: AbortController;
  store: ConversationStore;
  /** Resolves once no answer is still storing its end. */
  settled: () => Promise<void>;
  logger: Logger;
  graceMs: number;
}

/**
 * How long the shutdown waits, once the listeners are closed, for answers
 * still storing their end (a client that left, a canceled call) before the
 * store closes under them.
 */
const SETTLE_MS = 10_000;

/**
 * Stops accepting everywhere at once; running answers get the grace period
 * (cut short by a second signal), then are aborted and stored incomplete;
 * the store closes last, once every answer has stored its end.
 */
async function stop(run: Running, signal: string, force: AbortSignal): Promise<void> {
  const started = performance.now();
  run.logger.info("shutting down", { signal, graceMs: run.graceMs });
  run.shutdown.abort();
  const grace = AbortSignal.any([AbortSignal.timeout(Math.max(1, run.graceMs)), force]);
  const onGraceOver = () => {
    run.logger.warn("grace period over: canceling running answers", { forced: force.aborted });
  };
  grace.addEventListener("abort", onGraceOver, { once: true });
  await Promise.all(run.handles.map((h) => h.close(grace)));
  grace.removeEventListener("abort", onGraceOver);
  run.providerClose.abort();
  // A call ends when its client leaves, while its answer may still be writing
  // the partial reply: the store stays open for those writes.
  const settleLimit = AbortSignal.any([AbortSignal.timeout(SETTLE_MS), force]);
  if (!await untilSettled(run.settled(), settleLimit)) {
    run.logger.warn("closing the store while answers still run", { forced: force.aborted });
  }
  await run.store.close();
  run.logger.info("stopped", { durationMs: Math.round(performance.now() - started) });
}

/** Whether `settled` resolved before `limit` aborted. */
function untilSettled(settled: Promise<void>, limit: AbortSignal): Promise<boolean> {
  if (limit.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const give = () => resolve(false);
    limit.addEventListener("abort", give, { once: true });
    settled.then(() => {
      limit.removeEventListener("abort", give);
      resolve(true);
    });
  });
}

/**
 * Runs the server until SIGTERM or SIGINT.
 * @param args command-line arguments
 * @returns the exit code
 */
export async function main(args: string[]): Promise<number> {
  const config = loadConfig(args);
  if (typeof config === "number") return config;
  const logger = createLogger({ level: config.logLevel });
  // Before any listener: a signal that comes during start-up is not lost.
  const signals = awaitSignals();
  try {
    let store: ConversationStore;
    try {
      store = await openSqliteStore(config.dataDir, { logger });
    } catch (err) {
      printLine(Deno.stderr, `easybackend: ${(err as Error).message}`);
      return 1;
    }
    const providerClose = new AbortController();
    const metrics = new MetricsRegistry();
    registerProcessMetrics(metrics);
    const { engine, settled } = buildEngine(config, store, logger, metrics, providerClose.signal);
    const shutdown = new AbortController();
    const deps: TransportDeps = { engine, config, logger, shutdown: shutdown.signal, metrics };
    let handles: ServerHandle[];
    try {
      handles = await startListeners(deps);
    } catch (err) {
      printLine(Deno.stderr, `easybackend: ${(err as Error).message}`);
      providerClose.abort();
      await store.close();
      return 1;
    }
    logger.info("ready", { provider: config.provider, model: engine.defaultModel });
    const signal = await signals.first;
    const graceMs = config.shutdownGraceMs;
    await stop(
      { handles, shutdown, providerClose, store, settled, logger, graceMs },
      signal,
      signals.force,
    );
    return 0;
  } finally {
    signals.dispose();
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
