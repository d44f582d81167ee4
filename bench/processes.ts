/**
 * The benchmark's child processes: the fake upstream, EasyBackend (`main.ts`)
 * and one load generator per run, plus the RSS sampler that reads a server's
 * `/proc/<pid>/status`.
 * @module
 */

import { fileURLToPath } from "node:url";
import type { LoadSpec } from "./loadgen.ts";
import type { LoadResult } from "./recorder.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const decoder = new TextDecoder();

/** A running child process. */
export interface Child {
  pid: number;
  /** Stops it (SIGTERM, then SIGKILL after `graceMs`) and waits for it. */
  stop(graceMs?: number): Promise<void>;
}

function childOf(proc: Deno.ChildProcess): Child {
  return {
    pid: proc.pid,
    async stop(graceMs = 5000) {
      try {
        proc.kill("SIGTERM");
      } catch {
        // Already gone.
      }
      const timer = setTimeout(() => {
        try {
          proc.kill("SIGKILL");
        } catch {
          // Already gone.
        }
      }, graceMs);
      await proc.status;
      clearTimeout(timer);
    },
  };
}

async function firstLine(stream: ReadableStream<Uint8Array>): Promise<string> {
  const reader = stream.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { done, value } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  reader.releaseLock();
  // Drain the rest so the child never blocks on a full pipe.
  stream.pipeTo(new WritableStream()).catch(() => {});
  return text.split("\n")[0];
}

/** Starts the fake upstream; resolves with its port once it listens. */
export async function startFakeUpstream(): Promise<Child & { port: number }> {
  const proc = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "bench/fake_upstream.ts"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const line = await firstLine(proc.stdout);
  const port = Number(JSON.parse(line).port);
  return { ...childOf(proc), port };
}

/**
 * Starts the byte-piping Node proxy (`bench/pipe_proxy.mjs`; with "deno"
 * `bench/deno_pipe_proxy.ts`; with "parse" `bench/parse_proxy.ts`, which also
 * parses and rewrites every chunk) in front of the fake upstream; resolves
 * with its port once it listens.
 */
export async function startPipeProxy(
  upstreamPort: number,
  runtime: "node" | "deno" | "parse" = "node",
): Promise<Child & { port: number }> {
  const script = runtime === "deno" ? "bench/deno_pipe_proxy.ts" : "bench/parse_proxy.ts";
  const proc = new Deno.Command(runtime === "node" ? "node" : Deno.execPath(), {
    args: runtime === "node"
      ? ["bench/pipe_proxy.mjs", String(upstreamPort)]
      : ["run", "--allow-net", script, String(upstreamPort)],
    cwd: ROOT,
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const line = await firstLine(proc.stdout);
  const port = Number(JSON.parse(line).port);
  return { ...childOf(proc), port };
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function waitForPort(port: number, deadline: number): Promise<void> {
  while (Date.now() < deadline) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`Cannot start EasyBackend: port ${port} did not open in time`);
}

/** EasyBackend's ports. */
export interface BackendPorts {
  http: number;
  grpc: number;
  ws: number;
}

/**
 * The V8 flags of `deno task start`, the Dockerfile and `deno task compile`:
 * old-space grows by 1.25x its live size instead of up to 4x (BENCHMARKS.md).
 */
export const BACKEND_V8_FLAGS = "--heap-growing-percent=25";

/**
 * Starts `main.ts` against the fake upstream with a fresh data dir. The
 * `BENCH_BACKEND_ROOT` environment variable runs another checkout's `main.ts`
 * (e.g. a `git worktree` of the commit before a change, for a before/after);
 * `BENCH_V8_FLAGS` passes V8 flags to it instead of the ones `deno task start`
 * uses ({@link BACKEND_V8_FLAGS}); set it to "" for V8's defaults.
 * `BENCH_FSYNC_DELAY_MS` runs it under `strace`, which makes each of its
 * fsyncs that much slower (a slow disk; needs strace installed).
 * `options.entry` runs another entry point of this checkout (the tracing
 * `bench/trace_server.ts`) with `options.env` added; with `options.logs` its
 * log lines (stdout) go there instead of this terminal.
 */
export async function startBackend(
  upstreamPort: number,
  dataDir: string,
  options: { entry?: string; env?: Record<string, string>; logs?: string[] } = {},
): Promise<Child & { ports: BackendPorts }> {
  const ports = { http: freePort(), grpc: freePort(), ws: freePort() };
  const v8Flags = Deno.env.get("BENCH_V8_FLAGS") ?? BACKEND_V8_FLAGS;
  // A data dir under /dev (/dev/shm: a store in memory) needs Deno's --allow-all.
  const permissions = dataDir.startsWith("/dev/")
    ? ["--allow-all"]
    : ["--allow-net", "--allow-env", "--allow-read", "--allow-write", "--allow-sys"];
  const args = [
    "run",
    ...permissions,
    ...(v8Flags ? [`--v8-flags=${v8Flags}`] : []),
    options.entry ?? "main.ts",
  ];
  // A slower disk: strace delays each of the server's fsyncs (only those
  // calls stop it, through a seccomp filter).
  const fsyncDelayMs = Number(Deno.env.get("BENCH_FSYNC_DELAY_MS") ?? "0");
  const traced = fsyncDelayMs > 0;
  const proc = new Deno.Command(traced ? "strace" : Deno.execPath(), {
    args: traced
      ? [
        ...["-f", "--seccomp-bpf", "-qq", "-o", "/dev/null", "-e", "trace=fdatasync,fsync"],
        ...["-e", `inject=fdatasync,fsync:delay_exit=${Math.round(fsyncDelayMs * 1000)}`],
        Deno.execPath(),
        ...args,
      ]
      : args,
    cwd: Deno.env.get("BENCH_BACKEND_ROOT") ?? ROOT,
    env: {
      API_KEY: "sk-bench",
      API_BASE_URL: `http://127.0.0.1:${upstreamPort}/v1`,
      MODEL: "bench-c20-d0",
      DATA_DIR: dataDir,
      HOST: "127.0.0.1",
      HTTP_PORT: String(ports.http),
      GRPC_PORT: String(ports.grpc),
      WS_PORT: String(ports.ws),
      LOG_LEVEL: "warn",
      ...options.env,
    },
    stdout: options.logs ? "piped" : "inherit",
    stderr: "inherit",
  }).spawn();
  if (options.logs) collectLines(proc.stdout, options.logs);
  const deadline = Date.now() + 30_000;
  // The listeners start in this order; the last one open means all are.
  for (const port of [ports.http, ports.grpc, ports.ws]) await waitForPort(port, deadline);
  if (!traced) return { ...childOf(proc), ports };
  // Measure and stop the server itself, strace's child; strace ends with it.
  const children = Deno.readTextFileSync(`/proc/${proc.pid}/task/${proc.pid}/children`);
  const pid = Number(children.trim().split(/\s+/)[0]);
  return {
    pid,
    async stop(graceMs = 5000) {
      const signal = (sig: Deno.Signal) => {
        try {
          Deno.kill(pid, sig);
        } catch {
          // Already gone.
        }
      };
      signal("SIGTERM");
      const timer = setTimeout(() => signal("SIGKILL"), graceMs);
      await proc.status;
      clearTimeout(timer);
    },
    ports,
  };
}

/** Appends each line of `stream` to `into` until it ends. */
async function collectLines(stream: ReadableStream<Uint8Array>, into: string[]): Promise<void> {
  let rest = "";
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    const lines = (rest + text).split("\n");
    rest = lines.pop()!;
    into.push(...lines);
  }
  if (rest !== "") into.push(rest);
}

/** Runs one load generator process and returns its result. */
export async function runLoadProcess(spec: LoadSpec): Promise<LoadResult> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-read",
      "--allow-env",
      "--allow-sys",
      "bench/loadgen.ts",
      "--spec",
      JSON.stringify(spec),
    ],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const lines = decoder.decode(out.stdout).trim().split("\n");
  try {
    return JSON.parse(lines[lines.length - 1]) as LoadResult;
  } catch {
    throw new Error(
      `Cannot read the load generator's result: ${decoder.decode(out.stderr).slice(-500)}`,
    );
  }
}

function statusKb(pid: number, field: string): number {
  try {
    const text = Deno.readTextFileSync(`/proc/${pid}/status`);
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text);
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

/** CPU time (user + system) a process has used so far, in ms. */
function cpuMs(pid: number): number {
  try {
    const text = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return NaN;
  }
}

/** Bytes a process has caused to be written to storage so far (`/proc/<pid>/io`). */
function writeBytes(pid: number): number {
  try {
    const m = /^write_bytes:\s+(\d+)/m.exec(Deno.readTextFileSync(`/proc/${pid}/io`));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

/** Samples a process's resident memory and CPU time while a run goes on. */
export class RssSampler {
  #pid: number;
  #peakKb = 0;
  #cpu0: number;
  #written0: number;
  #timer: ReturnType<typeof setInterval>;

  /** @param pid the process; @param everyMs the sampling interval */
  constructor(pid: number, everyMs = 100) {
    this.#pid = pid;
    this.#cpu0 = cpuMs(pid);
    this.#written0 = writeBytes(pid);
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), everyMs);
  }

  #sample(): void {
    const kb = statusKb(this.#pid, "VmRSS");
    if (kb > this.#peakKb) this.#peakKb = kb;
  }

  /**
   * Stops sampling; returns the peak VmRSS seen and the process's VmHWM, in
   * MiB, the CPU time it used meanwhile, in ms, and the bytes it wrote to
   * storage meanwhile (its database's WAL and checkpoints), in KiB.
   */
  stop(): { peakMiB: number; hwmMiB: number; cpuMs: number; writtenKiB: number } {
    clearInterval(this.#timer);
    this.#sample();
    return {
      peakMiB: this.#peakKb / 1024,
      hwmMiB: statusKb(this.#pid, "VmHWM") / 1024,
      cpuMs: cpuMs(this.#pid) - this.#cpu0,
      writtenKiB: (writeBytes(this.#pid) - this.#written0) / 1024,
    };
  }
}
