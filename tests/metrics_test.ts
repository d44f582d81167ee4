import { deepStrictEqual as assertEquals, match as assertMatch } from "node:assert";
import { MetricsRegistry } from "../lib/metrics.ts";

Deno.test("metrics registry renders counters, gauges and histograms in Prometheus text format", () => {
  const m = new MetricsRegistry();
  const c = m.counter("x_total", "Things");
  c.inc({ kind: "a" });
  c.inc({ kind: "a" }, 2);
  c.inc({ kind: 'q"uote' });
  c.inc({ zone: "b", kind: "back\\slash\nline" });
  const g = m.gauge("y_active", "Active", () => [[{ key: "0" }, 5]]);
  g.inc({ protocol: "ws" });
  const h = m.histogram("z_seconds", "Latency", [0.1, 1]);
  h.observe({ protocol: "http" }, 0.05);
  h.observe({ protocol: "http" }, 0.5);
  h.observe({ protocol: "http" }, 5);
  const text = m.render();
  assertMatch(text, /^# HELP x_total Things\n# TYPE x_total counter\n/);
  assertMatch(text, /\nx_total\{kind="a"\} 3\n/);
  assertMatch(text, /\nx_total\{kind="q\\"uote"\} 1\n/);
  // Names sorted, backslash and newline escaped.
  assertMatch(text, /\nx_total\{kind="back\\\\slash\\nline",zone="b"\} 1\n/);
  assertMatch(text, /\ny_active\{protocol="ws"\} 1\n/);
  assertMatch(text, /\ny_active\{key="0"\} 5\n/);
  assertMatch(text, /\nz_seconds_bucket\{protocol="http",le="0.1"\} 1\n/);
  assertMatch(text, /\nz_seconds_bucket\{protocol="http",le="1"\} 2\n/);
  assertMatch(text, /\nz_seconds_bucket\{protocol="http",le="\+Inf"\} 3\n/);
  assertMatch(text, /\nz_seconds_sum\{protocol="http"\} 5.55\n/);
  assertMatch(text, /\nz_seconds_count\{protocol="http"\} 3\n/);
  assertEquals(c.get({ kind: "a" }), 3);
  assertEquals(h.count({ protocol: "http" }), 3);
});
