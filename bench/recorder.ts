/**
 * What a load generator measures: per request the time to its first chunk,
 * per chunk the forwarding delay (receive time minus the upstream's stamp),
 * and the outcomes.
 * @module
 */

import { percentile, recordStamps, Samples, wallNow } from "./stats.ts";

/** The measurements of one request, fed by a protocol client. */
export class RequestProbe {
  #start = performance.now();
  #first = -1;
  #rec: Recorder;
  /** Chunks (stamps) seen so far. */
  chunks = 0;

  /** @param rec the run's recorder */
  constructor(rec: Recorder) {
    this.#rec = rec;
  }

  /** Records received text: its stamps, and the first chunk's time. */
  text(text: string): void {
    const n = recordStamps(text, wallNow(), this.#rec.delays);
    if (n > 0 && this.#first < 0) {
      this.#first = performance.now();
      this.#rec.ttfc.add(this.#first - this.#start);
    }
    this.chunks += n;
  }

  /** Records a complete answer (its latency counts as time to first chunk when nothing streamed). */
  done(): void {
    if (this.#first < 0) this.#rec.ttfc.add(performance.now() - this.#start);
    this.#rec.ok++;
  }
}

/** The result of one load run, as printed by the load generator. */
export interface LoadResult {
  protocol: string;
  target: string;
  concurrency: number;
  requests: number;
  errors: number;
  errorKinds: Record<string, number>;
  elapsedMs: number;
  rps: number;
  ttfcP50: number;
  ttfcP99: number;
  delayP50: number;
  delayP99: number;
  chunks: number;
  /** Requests completed during the warm-up (not in `requests`). */
  warmupRequests: number;
}

/** The measurements of one run. */
export class Recorder {
  /** Time to first chunk per request, ms. */
  ttfc = new Samples();
  /** Forwarding delay per chunk, ms. */
  delays = new Samples();
  /** Completed requests. */
  ok = 0;
  /** Failed requests by kind. */
  errorKinds: Record<string, number> = {};
  /** Whether measurements count (false during warm-up). */
  counting = true;

  /** Counts one failure. */
  error(err: unknown): void {
    const kind = err instanceof Error ? `${err.name}: ${err.message}`.slice(0, 120) : String(err);
    this.errorKinds[kind] = (this.errorKinds[kind] ?? 0) + 1;
  }

  /** The summary of the run. */
  result(
    base: {
      protocol: string;
      target: string;
      concurrency: number;
      elapsedMs: number;
      warmupRequests: number;
    },
  ) {
    const ttfc = this.ttfc.sorted();
    const delays = this.delays.sorted();
    const errors = Object.values(this.errorKinds).reduce((a, b) => a + b, 0);
    const out: LoadResult = {
      ...base,
      requests: this.ok,
      errors,
      errorKinds: this.errorKinds,
      rps: this.ok / (base.elapsedMs / 1000),
      ttfcP50: percentile(ttfc, 50),
      ttfcP99: percentile(ttfc, 99),
      delayP50: percentile(delays, 50),
      delayP99: percentile(delays, 99),
      chunks: delays.length,
    };
    return out;
  }
}
