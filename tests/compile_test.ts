/**
 * `deno task compile` builds one self-contained binary. Compiling needs Deno's
 * runtime (`denort`), which `deno compile` downloads on first use; where that
 * download is unreachable the test is registered as ignored and says why.
 */
import { doesNotMatch, equal, match } from "node:assert";

async function probeCompile(): Promise<string | null> {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/probe.ts`, "export {};\n");
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["compile", "--output", `${dir}/probe`, `${dir}/probe.ts`],
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (out.success) return null;
    const stderr = new TextDecoder().decode(out.stderr).split("Stack backtrace")[0];
    const lines = stderr.split("\n").map((l) => l.trim());
    const cause = lines.filter((l) => /^\d+: /.test(l)).pop()?.replace(/^\d+: /, "") ??
      lines.find((l) => l.startsWith("error:")) ?? "unknown error";
    return `deno compile cannot download its runtime (denort) here: ${cause.slice(0, 100)}`;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const skipReason = await probeCompile();
if (skipReason) {
  // deno-lint-ignore no-console
  console.warn(`compile_test: skipped: ${skipReason}`);
}

Deno.test({
  name: skipReason
    ? `deno task compile builds a binary that serves HTTP (skipped: ${skipReason})`
    : "deno task compile builds a binary that serves HTTP",
  ignore: skipReason !== null,
  sanitizeResources: false,
  async fn() {
    const root = new URL("..", import.meta.url).pathname;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["task", "compile"],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
    const dataDir = await Deno.makeTempDir();
    let rest: Promise<string> = Promise.resolve("");
    const child = new Deno.Command(`${root}dist/easybackend`, {
      env: {
        HTTP_PORT: "0",
        GRPC_PORT: "0",
        WS_PORT: "0",
        HOST: "127.0.0.1",
        DATA_DIR: dataDir,
        PROVIDER: "echo",
        LOG_LEVEL: "debug",
      },
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    try {
      const started = await httpPortFrom(child.stdout);
      const port = started.port;
      rest = started.rest;
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      match(await res.text(), /ok/i);
      // An answer counts tokens, which loads the encoding in a worker module
      // that only `--include` puts into the binary.
      const ask = await fetch(`http://127.0.0.1:${port}/ask/new`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ prompt: "hello from the binary" }),
      });
      match(await ask.text(), /hello from the binary/);
      // 33 more answers make 66 commits: the store's WAL checkpoint runs on a
      // worker module that `--include` puts into the binary too.
      for (let i = 0; i < 33; i++) {
        const more = await fetch(`http://127.0.0.1:${port}/ask/new`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ prompt: `answer ${i}` }),
        });
        equal(more.status, 200, await more.text());
      }
    } finally {
      child.kill("SIGTERM");
      await child.status;
      await Deno.remove(dataDir, { recursive: true });
    }
    const logs = await rest;
    match(logs, /"msg":"store checkpointed"/);
    doesNotMatch(logs, /cannot checkpoint/);
  },
});

/**
 * Reads the server's JSON log lines until the HTTP listener says its port;
 * `rest` then resolves with the whole log once the server's output ends.
 */
async function httpPortFrom(
  stdout: ReadableStream<Uint8Array>,
): Promise<{ port: number; rest: Promise<string> }> {
  const reader = stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  const drain = async () => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return buf;
      buf += value;
    }
  };
  for (;;) {
    const { done, value } = await reader.read();
    if (done) throw new Error("the binary exited before it listened");
    buf += value;
    // Complete lines only: the last one may still be arriving.
    for (const line of buf.split("\n").slice(0, -1)) {
      if (!line.startsWith("{")) continue;
      const rec = JSON.parse(line);
      if (rec.msg === "listening" && rec.protocol === "http") {
        return { port: rec.port, rest: drain() };
      }
    }
  }
}
