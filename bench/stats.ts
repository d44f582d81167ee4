/**
 * Small statistics for the benchmark: percentiles, medians and a growable
 * sample buffer that keeps millions of numbers without boxing them.
 * @module
 */

/** A growable buffer of float samples. */
export class Samples {
  #data = new Float64Array(1024);
  #size = 0;

  /** How many samples were added. */
  get size(): number {
    return this.#size;
  }

  /** Adds one sample. */
  add(value: number): void {
    if (this.#size === this.#data.length) {
      const bigger = new Float64Array(this.#data.length * 2);
      bigger.set(this.#data);
      this.#data = bigger;
    }
    this.#data[this.#size++] = value;
  }

  /** The samples, sorted ascending (a copy). */
  sorted(): Float64Array {
    return this.#data.slice(0, this.#size).sort();
  }
}

/**
 * The p-th percentile (0–100) of sorted values, nearest rank; NaN when empty.
 * @param sorted values in ascending order
 * @param p the percentile
 */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))];
}

/** The median of some values; NaN when empty. */
export function median(values: readonly number[]): number {
  const finite = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (finite.length === 0) return NaN;
  const mid = finite.length >> 1;
  return finite.length % 2 === 1 ? finite[mid] : (finite[mid - 1] + finite[mid]) / 2;
}

/** The smallest and largest finite value, or NaNs. */
export function spread(values: readonly number[]): { min: number; max: number } {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return { min: NaN, max: NaN };
  return { min: Math.min(...finite), max: Math.max(...finite) };
}

/** The wall-clock time in epoch milliseconds, comparable across processes. */
export function wallNow(): number {
  return performance.timeOrigin + performance.now();
}

const STAMP_RE = /\[t=(\d+(?:\.\d+)?)\]/g;

/**
 * Records the forwarding delay of every `[t=<epoch ms>]` stamp in a text.
 * @param text received text
 * @param now the receive time in epoch ms
 * @param into where the delays go
 * @returns how many stamps the text held
 */
export function recordStamps(text: string, now: number, into: Samples): number {
  let n = 0;
  STAMP_RE.lastIndex = 0;
  for (let m = STAMP_RE.exec(text); m !== null; m = STAMP_RE.exec(text)) {
    into.add(now - Number(m[1]));
    n++;
  }
  return n;
}
