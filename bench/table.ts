/**
 * The benchmark's report: one Markdown table with medians of the rounds, the
 * spread (min–max) and the ratio of EasyBackend (B) to DIRECT (A), judged
 * against each scenario's target.
 * @module
 */

import type { Measured } from "./run.ts";
import type { Scenario } from "./scenarios.ts";
import { median, spread } from "./stats.ts";

/** One scenario's runs. */
export interface Row {
  scenario: Scenario;
  A: Measured[];
  /** The runs through the byte pipe (empty when the scenario has none). */
  P: Measured[];
  B: Measured[];
}

function f(n: number, digits = 1): string {
  return Number.isFinite(n) ? n.toFixed(digits) : "–";
}

function withSpread(values: number[], digits = 1): string {
  if (values.length === 0) return "–";
  const s = spread(values);
  const m = median(values);
  return values.length > 1
    ? `${f(m, digits)} (${f(s.min, digits)}–${f(s.max, digits)})`
    : f(m, digits);
}

function verdict(row: Row): string {
  const { scenario: s, A, B } = row;
  if (s.metric === "rps") {
    if (s.target.ratio === undefined) return "";
    const ratio = median(B.map((b) => b.rps)) / median(A.map((a) => a.rps));
    return ratio >= s.target.ratio ? `✅ ≥ ${s.target.ratio}×` : `❌ < ${s.target.ratio}×`;
  }
  if (s.metric === "delay") {
    const p50 = median(B.map((b) => b.delayP50));
    const p99 = median(B.map((b) => b.delayP99));
    const ok = p50 <= s.target.p50! && p99 <= s.target.p99!;
    return `${ok ? "✅" : "❌"} p50 ≤ ${s.target.p50}, p99 ≤ ${s.target.p99} ms`;
  }
  const share = Math.min(...B.map((b) => b.requests / s.load.total));
  const rss = Math.max(...B.map((b) => b.peakRssMiB));
  const ok = share >= s.target.share! && rss <= s.target.rssMiB! && B.every((b) => b.errors === 0);
  return `${ok ? "✅" : "❌"} 100 %, RSS ≤ ${s.target.rssMiB} MiB`;
}

/**
 * Renders the table.
 * @param rows the scenarios with their runs
 * @param info rounds and cores, for the header
 */
export function table(rows: Row[], info: { rounds: number; cores: number }): string {
  const lines = [
    `Medians of ${info.rounds} round(s), (min–max) spread; A = DIRECT, B = EasyBackend (on a PIPE row: the Node byte pipe); ${info.cores} cores.`,
    "",
    "| scenario | A req/s | B req/s | B/A | B/PIPE | A ttfc p50/p99 ms | B ttfc p50/p99 ms | A delay p50/p99 ms | B delay p50/p99 ms | B done / errors | B peak RSS MiB | B CPU ms/req | B disk KiB/req | target |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  const m = (xs: Measured[], k: keyof Measured) => median(xs.map((x) => x[k] as number));
  const line = (name: string, A: Measured[], B: Measured[], vsPipe: string, target: string) =>
    `| ${name} | ${withSpread(A.map((a) => a.rps))} | ${withSpread(B.map((b) => b.rps))} | ${
      f(m(B, "rps") / m(A, "rps"), 2)
    } | ${vsPipe} | ${f(m(A, "ttfcP50"))}/${f(m(A, "ttfcP99"))} | ${f(m(B, "ttfcP50"))}/${
      f(m(B, "ttfcP99"))
    } | ${f(m(A, "delayP50"), 2)}/${f(m(A, "delayP99"), 2)} | ${
      withSpread(B.map((b) => b.delayP50), 2)
    } / ${withSpread(B.map((b) => b.delayP99), 1)} | ${B.map((b) => b.requests).join(",")} / ${
      B.map((b) => b.errors).join(",")
    } | ${f(Math.max(...B.map((b) => b.peakRssMiB)), 0)} | ${f(m(B, "cpuMsPerReq"), 3)} | ${
      f(m(B, "diskKiBPerReq"), 1)
    } | ${target} |`;
  for (const row of rows) {
    const { A, P, B, scenario: s } = row;
    if (P.length > 0) lines.push(line(`${s.name} PIPE`, A, P, "", ""));
    const vsPipe = P.length > 0 ? f(m(B, "rps") / m(P, "rps"), 2) : "";
    lines.push(line(s.name, A, B, vsPipe, verdict(row)));
  }
  return lines.join("\n");
}
