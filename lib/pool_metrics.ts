/**
 * The key pool's state as Prometheus series, read at scrape time: one series
 * per key index (never the key itself) saying whether it is healthy or
 * resting, its consecutive failures, and its attempts and failed attempts.
 * @module
 */

import type { MetricsRegistry } from "./metrics.ts";
import type { KeyState } from "./providers/pool.ts";

/**
 * Registers the key-pool series.
 * @param registry the process's registry
 * @param state reads the pool's state (`KeyPool.state`)
 */
export function registerKeyPoolMetrics(registry: MetricsRegistry, state: () => KeyState[]): void {
  const per = (pick: (k: KeyState) => number) => () =>
    state().map((k): [Record<string, string>, number] => [{ key: String(k.index) }, pick(k)]);
  registry.gauge(
    "easybackend_upstream_key_healthy",
    "1 when the upstream key (by index) is in rotation, 0 while it rests",
    per((k) => (k.healthy ? 1 : 0)),
  );
  registry.gauge(
    "easybackend_upstream_key_consecutive_failures",
    "Failures of the upstream key (by index) since its last success",
    per((k) => k.failures),
  );
  registry.counter(
    "easybackend_upstream_attempts_total",
    "Upstream attempts by key index",
    per((k) => k.attempts),
  );
  registry.counter(
    "easybackend_upstream_attempt_errors_total",
    "Failed upstream attempts by key index (retried or not)",
    per((k) => k.errors),
  );
}
