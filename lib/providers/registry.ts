/**
 * The one place that picks a provider from the configuration: builds the key
 * pool, binds `fetch` to the proxy when `PROXY` is set (else the OpenAI
 * answers stream over the lean HTTP/1.1 client), and returns the provider. A new upstream is a new folder and one line here.
 * @module
 */

import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";
import { ChatGPTWebProvider } from "./chatgpt_web/client.ts";
import { EchoProvider } from "./echo/client.ts";
import { Http1Client } from "./http1.ts";
import { OpenAIProvider } from "./openai/client.ts";
import { KeyPool } from "./pool.ts";
import type { Provider } from "./provider.ts";

/** Options of {@link createProvider}. */
export interface CreateProviderOptions {
  /**
   * When it aborts, resources the provider holds (the proxy's HTTP client)
   * are released. Without it they live as long as the process.
   */
  closeSignal?: AbortSignal;
  /**
   * Called with the key pool when the provider has one (not `echo`), so the
   * caller can report its state (healthy or resting keys, attempts) as metrics.
   */
  onKeyPool?: (pool: KeyPool) => void;
}

/**
 * Builds the configured provider.
 * @param config the validated configuration (`provider`, `apiKeys`, `apiBaseUrl`, `model`, `proxy`, timeouts)
 * @param logger the root logger
 * @param options when to release the proxy client
 */
export function createProvider(
  config: Config,
  logger: Logger,
  options: CreateProviderOptions = {},
): Provider {
  const log = logger.child({ provider: config.provider });
  // main.ts says loudly at start-up that no upstream is configured.
  if (config.provider === "echo") return new EchoProvider({ model: config.model });
  const pool = new KeyPool({
    keys: config.apiKeys,
    attempts: config.upstreamAttempts,
    firstTokenTimeoutMs: config.firstTokenTimeoutMs,
    idleTimeoutMs: config.idleTimeoutMs,
    logger: log,
  });
  options.onKeyPool?.(pool);
  const common = {
    baseUrl: config.apiBaseUrl,
    model: config.model,
    pool,
    fetch: proxiedFetch(config.proxy, options.closeSignal),
    logger: log,
  };
  log.info("upstream provider ready", {
    keys: config.apiKeys.length,
    proxy: config.proxy !== null,
    model: config.model,
  });
  switch (config.provider) {
    case "openai":
      return new OpenAIProvider({
        ...common,
        http: directClient(config, options.closeSignal),
      });
    case "chatgpt-web":
      return new ChatGPTWebProvider(common);
  }
}

/** `fetch`, bound to an HTTP client that goes through `proxy` when one is set. */
function proxiedFetch(proxy: string | null, closeSignal?: AbortSignal): typeof fetch {
  if (proxy === null) return globalThis.fetch;
  const client = Deno.createHttpClient({ proxy: { url: proxy } });
  closeSignal?.addEventListener("abort", () => client.close(), { once: true });
  return (input, init) => fetch(input, { ...init, client });
}

/**
 * The HTTP/1.1 client of the streamed answers when no proxy is set (through a
 * proxy, `PROXY` or the usual `HTTPS_PROXY` family, they use `fetch`), closed
 * with `closeSignal`.
 */
function directClient(config: Config, closeSignal?: AbortSignal): Http1Client | undefined {
  if (config.proxy !== null || config.proxyInEnvironment) return undefined;
  const client = new Http1Client();
  closeSignal?.addEventListener("abort", () => client.close(), { once: true });
  return client;
}
