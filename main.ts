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
): Engine {
  const provider = createProvider(config, logger, { closeSignal: providerClose });
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
  });
  const limited = limitEngine(core, {
    rateLimitRpm: config.rateLimitRpm,
    maxStreamsPerToken: config.maxStreamsPerToken,
    maxStreams: config.maxStreams,
  });
  return observeEngine(limited, engineMetrics(metrics));
}

/** Starts the three listeners, closing the ones already started if one fails. */
async function startListeners(deps: TransportDeps): Promise<ServerHandle[]> {
  const handles: ServerHandle[] = [];
  const starters: [string, (d: TransportDeps) => Promise<ServerHandle>][] = [
    ["HTTP", serveHttp],
    ["gRPC", serveGrpc],
    ["WebSocket", serveWs],
  ];
  for (const [name, start] of starters) {
    try {
      handles.push(await start(deps));
    } catch (err) {
      await Promise.all(handles.map((h) => h.close(AbortSignal.abort())));
      const message = (err as Error).message ?? String(err);
      throw new Error(
        message.startsWith("Cannot") ? message : `Cannot start the ${name} listener: ${message}`,
        { cause: err },
      );
    }
  }
  return handles;
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

  let store: ConversationStore;
  try {
    store = await openSqliteStore(config.dataDir, { logger });
  } catch (err) {
    printLine(Deno.stderr, `easybackend: ${(err as Error).message}`);
    return 1;
  }
  const providerClose = new AbortController();
  const metrics = new MetricsRegistry();
  const engine = buildEngine(config, store, logger, metrics, providerClose.signal);
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

  const stopped = Promise.withResolvers<string>();
  const signals: Deno.Signal[] = ["SIGTERM", "SIGINT"];
  const onSignal = (name: string) => () => stopped.resolve(name);
  const listeners = signals.map((s) => [s, onSignal(s)] as const);
  for (const [s, fn] of listeners) Deno.addSignalListener(s, fn);
  const signal = await stopped.promise;

  logger.info("shutting down", { signal, graceMs: config.shutdownGraceMs });
  shutdown.abort();
  const grace = AbortSignal.timeout(Math.max(1, config.shutdownGraceMs));
  await Promise.all(handles.map((h) => h.close(grace)));
  providerClose.abort();
  await store.close();
  for (const [s, fn] of listeners) Deno.removeSignalListener(s, fn);
  logger.info("stopped");
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
