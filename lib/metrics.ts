/**
 * A small Prometheus registry: counters, gauges and histograms with labels,
 * rendered in the text exposition format (version 0.0.4).
 *
 * @example
 * ```ts
 * import { MetricsRegistry } from "./metrics.ts";
 * const m = new MetricsRegistry();
 * const c = m.counter("demo_total", "Demo events");
 * c.inc({ kind: "a" });
 * if (!m.render().includes('demo_total{kind="a"} 1')) throw new Error("bad");
 * ```
 * @module
 */

/** Label values of one series. */
export type Labels = Record<string, string>;

/** The series key of some labels (sorted by name); called on every update, so no arrays or closures. */
function key(labels: Labels): string {
  const names = Object.keys(labels);
  if (names.length === 0) return "";
  if (names.length > 1) names.sort();
  let out = "{";
  for (let i = 0; i < names.length; i++) {
    if (i > 0) out += ",";
    out += `${names[i]}="${escapeLabel(labels[names[i]])}"`;
  }
  return out + "}";
}

const NEEDS_ESCAPE = /[\\\n"]/;

function escapeLabel(value: string): string {
  if (!NEEDS_ESCAPE.test(value)) return value;
  return value.replaceAll("\\", "\\\\").replaceAll("\n", "\\n").replaceAll('"', '\\"');
}

function withLabel(series: string, name: string, value: string): string {
  const extra = `${name}="${value}"`;
  return series === "" ? `{${extra}}` : series.slice(0, -1) + "," + extra + "}";
}

function num(n: number): string {
  if (n === Infinity) return "+Inf";
  return Number.isInteger(n) ? String(n) : String(Number(n.toPrecision(12)));
}

interface Metric {
  render(): string[];
}

/** Labelled values, some optionally read from a callback at scrape time. */
abstract class Series implements Metric {
  #values = new Map<string, number>();
  #collect?: () => Array<[Labels, number]>;
  /** The Prometheus type line's word. */
  protected abstract readonly type: "counter" | "gauge";
  constructor(
    readonly name: string,
    readonly help: string,
    collect?: () => Array<[Labels, number]>,
  ) {
    this.#collect = collect;
  }
  /** Adds `by` (default 1) to the series of these labels. */
  inc(labels: Labels = {}, by = 1): void {
    const k = key(labels);
    this.#values.set(k, (this.#values.get(k) ?? 0) + by);
  }
  /** The current value of one series. */
  get(labels: Labels = {}): number {
    return this.#values.get(key(labels)) ?? 0;
  }
  /** Sets one series. */
  protected put(labels: Labels, value: number): void {
    this.#values.set(key(labels), value);
  }
  render(): string[] {
    const out = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`];
    const values = new Map(this.#values);
    for (const [labels, v] of this.#collect?.() ?? []) values.set(key(labels), v);
    for (const [k, v] of values) out.push(`${this.name}${k} ${num(v)}`);
    return out;
  }
}

/** A monotonically increasing count, optionally read from a callback at scrape time. */
export class Counter extends Series {
  protected readonly type = "counter";
}

/** A value that goes up and down, or is read from a callback at scrape time. */
export class Gauge extends Series {
  protected readonly type = "gauge";
  /** Sets the series of these labels. */
  set(labels: Labels, value: number): void {
    this.put(labels, value);
  }
  /** Subtracts `by` (default 1). */
  dec(labels: Labels = {}, by = 1): void {
    this.inc(labels, -by);
  }
}

/** A distribution over fixed buckets (upper bounds, in the metric's unit). */
export class Histogram implements Metric {
  #series = new Map<string, { counts: number[]; sum: number; count: number }>();
  constructor(readonly name: string, readonly help: string, readonly buckets: readonly number[]) {}
  /** Records one observation. */
  observe(labels: Labels, value: number): void {
    const k = key(labels);
    let s = this.#series.get(k);
    if (!s) {
      s = { counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.#series.set(k, s);
    }
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]) s.counts[i]++;
    s.sum += value;
    s.count++;
  }
  /** How many observations one series has. */
  count(labels: Labels = {}): number {
    return this.#series.get(key(labels))?.count ?? 0;
  }
  render(): string[] {
    const out = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const [k, s] of this.#series) {
      this.buckets.forEach((b, i) =>
        out.push(`${this.name}_bucket${withLabel(k, "le", num(b))} ${s.counts[i]}`)
      );
      out.push(`${this.name}_bucket${withLabel(k, "le", "+Inf")} ${s.count}`);
      out.push(`${this.name}_sum${k} ${num(s.sum)}`);
      out.push(`${this.name}_count${k} ${s.count}`);
    }
    return out;
  }
}

/** Latency buckets in seconds, from 5 ms to 2 minutes. */
export const SECONDS_BUCKETS: readonly number[] = [
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
  60,
  120,
];

/** The set of metrics of one process. */
export class MetricsRegistry {
  #metrics: Metric[] = [];
  /** Registers a counter, optionally read from a callback (of running totals) at scrape time. */
  counter(name: string, help: string, collect?: () => Array<[Labels, number]>): Counter {
    return this.#add(new Counter(name, help, collect));
  }
  /** Registers a gauge, optionally read from a callback at scrape time. */
  gauge(name: string, help: string, collect?: () => Array<[Labels, number]>): Gauge {
    return this.#add(new Gauge(name, help, collect));
  }
  /** Registers a histogram. */
  histogram(name: string, help: string, buckets: readonly number[] = SECONDS_BUCKETS): Histogram {
    return this.#add(new Histogram(name, help, buckets));
  }
  /** The text exposition of every metric. */
  render(): string {
    return this.#metrics.flatMap((m) => m.render()).join("\n") + "\n";
  }
  #add<T extends Metric>(m: T): T {
    this.#metrics.push(m);
    return m;
  }
}
