/**
 * Runs `main.ts` as a child process on loopback, with ports 0 for all three
 * listeners, and reads the bound ports from its JSON `listening` log lines.
 *
 * @example
 * ```ts ignore
 * const server = await startServer({ env: { API_KEY: "sk-test", API_BASE_URL: fake.url } });
 * const res = await fetch(`${server.httpUrl}/healthz`);
 * await server.stop();
 * ```
 * @module
 */

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** What the child inherits: enough for Deno to find its cache, none of our config. */
function baseEnv(): Record<string, string> {
  const out: Record<string, string> = { NO_COLOR: "1" };
  for (const name of ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME", "TMPDIR", "DENO_CERT"]) {
    const v = Deno.env.get(name);
    if (v !== undefined) out[name] = v;
  }
  return out;
}

/** A running server process. */
export interface ServerProcess {
  /** `http://127.0.0.1:<port>` of the HTTP listener. */
  httpUrl: string;
  grpcPort: number;
  wsPort: number;
  /** The data directory (a temp dir unless one was given; removed by stop/kill only when made here). */
  dataDir: string;
  /** Every line the process wrote on stdout and stderr so far. */
  logs(): string[];
  /** Sends a signal (SIGTERM by default) and resolves with the exit code. */
  stop(signal?: Deno.Signal): Promise<number>;
  /** Kills the process with SIGKILL and waits for it to end. */
  kill(): Promise<void>;
}

/** Options of {@link startServer}. */
export interface StartServerOptions {
  /** Extra environment (API_KEY, PROVIDER, API_BASE_URL, AUTH_TOKENS …). */
  env?: Record<string, string>;
  /** Use this data directory (kept afterwards), e.g. to restart on the same database. */
  dataDir?: string;
  /** Extra command-line flags. */
  args?: string[];
  /** How long to wait for the three listeners. @default 20000 */
  startTimeoutMs?: number;
}

async function collectLines(
  stream: ReadableStream<Uint8Array>,
  into: string[],
  onLine: () => void,
): Promise<void> {
  let buffered = "";
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    buffered += text;
    const lines = buffered.split("\n");
    buffered = lines.pop()!;
    for (const line of lines) into.push(line);
    onLine();
  }
  if (buffered !== "") into.push(buffered);
  onLine();
}

function listeningPort(lines: string[], protocol: string): number | null {
  for (const line of lines) {
    if (!line.startsWith("{")) continue;
    try {
      const o = JSON.parse(line);
      if (o.msg === "listening" && o.protocol === protocol) return o.port;
    } catch {
      // not a log line
    }
  }
  return null;
}

/**
 * Starts `main.ts` with `Deno.execPath() run --allow-all`.
 * @throws {Error} with the process output when it exits or does not listen in time
 */
export async function startServer(options: StartServerOptions = {}): Promise<ServerProcess> {
  const ownDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? await Deno.makeTempDir({ prefix: "eb-server-" });
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", MAIN, ...(options.args ?? [])],
    env: {
      ...baseEnv(),
      HOST: "127.0.0.1",
      HTTP_PORT: "0",
      GRPC_PORT: "0",
      WS_PORT: "0",
      DATA_DIR: dataDir,
      LOG_LEVEL: "info",
      ...options.env,
    },
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  let wake = () => {};
  const notify = () => wake();
  const readers = Promise.all([
    collectLines(child.stdout, lines, notify),
    collectLines(child.stderr, lines, notify),
  ]);
  let exited: number | null = null;
  const status = child.status.then((s) => {
    exited = s.code;
    notify();
    return s.code;
  });

  const finish = async (): Promise<number> => {
    const code = await status;
    await readers;
    if (ownDir) await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    return code;
  };

  const deadline = Date.now() + (options.startTimeoutMs ?? 20_000);
  while (true) {
    const http = listeningPort(lines, "http");
    const grpc = listeningPort(lines, "grpc");
    const ws = listeningPort(lines, "ws");
    if (http !== null && grpc !== null && ws !== null) {
      return {
        httpUrl: `http://127.0.0.1:${http}`,
        grpcPort: grpc,
        wsPort: ws,
        dataDir,
        logs: () => [...lines],
        async stop(signal: Deno.Signal = "SIGTERM") {
          if (exited === null) child.kill(signal);
          return await finish();
        },
        async kill() {
          if (exited === null) child.kill("SIGKILL");
          await finish();
        },
      };
    }
    if (exited !== null || Date.now() > deadline) {
      if (exited === null) child.kill("SIGKILL");
      await finish();
      throw new Error(`Cannot start the server (exit ${exited}):\n${lines.join("\n")}`);
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 100);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

/**
 * Runs `main.ts` to completion (for `--help` and bad configuration) and
 * returns its exit code and output.
 */
export async function runMain(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", MAIN, ...args],
    env: { ...baseEnv(), ...env },
    clearEnv: true,
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}
