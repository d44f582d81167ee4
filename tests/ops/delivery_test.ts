/**
 * The Dockerfile, checked as far as a machine without a Docker engine allows:
 * its instructions are sound (pinned base image of the Deno we test with,
 * every COPY source present, dependencies in their own layer, a non-root
 * user, the volume, ports and health check), and the image's steps run here
 * the same way: the files it copies, its `deno install --frozen` and
 * `deno cache --frozen`, then its ENTRYPOINT with `--cached-only` and its
 * HEALTHCHECK command against the running server, plain and over TLS.
 */

import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { makeTestCertificate } from "../_helpers/tls.ts";

const ROOT = join(dirname(new URL(import.meta.url).pathname), "..", "..");

interface Instruction {
  op: string;
  args: string;
}

/** The Dockerfile's instructions, with continuation lines joined. */
async function dockerfile(): Promise<Instruction[]> {
  const text = await Deno.readTextFile(join(ROOT, "Dockerfile"));
  const joined = text.replace(/\\\n/g, " ");
  return joined.split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"))
    .map((l) => {
      const [op, ...rest] = l.split(/\s+/);
      return { op: op.toUpperCase(), args: rest.join(" ") };
    });
}

/** The argv of an exec-form (JSON array) instruction. */
function execForm(args: string): string[] {
  const parsed = JSON.parse(args.replace(/^CMD\s+/, ""));
  assert.ok(Array.isArray(parsed), `exec form expected, got ${args}`);
  return parsed;
}

Deno.test("the Dockerfile pins the tested Deno, copies files that exist, caches dependencies first and runs as a non-root user", async () => {
  const ins = await dockerfile();
  const from = ins.filter((i) => i.op === "FROM");
  assert.equal(from.length, 1);
  assert.equal(from[0].args, `denoland/deno:${Deno.version.deno}`);
  const copies = ins.filter((i) => i.op === "COPY");
  for (const c of copies) {
    const parts = c.args.split(/\s+/).filter((p) => !p.startsWith("--"));
    for (const source of parts.slice(0, -1)) {
      await Deno.stat(join(ROOT, source)).catch(() => {
        throw new Error(`COPY source ${source} does not exist`);
      });
    }
  }
  // Dependencies are installed after copying only the manifest and lock.
  const install = ins.findIndex((i) => i.op === "RUN" && i.args.includes("deno install --frozen"));
  assert.ok(install > 0);
  const before = copies.filter((c) => ins.indexOf(c) < install).map((c) => c.args);
  assert.deepEqual(before, ["deno.json deno.lock ./"]);
  const user = ins.filter((i) => i.op === "USER").at(-1);
  assert.ok(user && user.args !== "root" && user.args !== "0");
  assert.ok(ins.some((i) => i.op === "RUN" && i.args.includes(`chown -R ${user.args}`)));
  assert.ok(ins.some((i) => i.op === "VOLUME" && i.args === "/app/conversations"));
  assert.ok(ins.some((i) => i.op === "ENV" && i.args === "DATA_DIR=/app/conversations"));
  assert.deepEqual(ins.filter((i) => i.op === "EXPOSE").map((i) => i.args), ["8000 9000 9001"]);
  const health = ins.find((i) => i.op === "HEALTHCHECK")!;
  assert.ok(health.args.includes("deploy/healthcheck.ts"));
  const ignore = await Deno.readTextFile(join(ROOT, ".dockerignore"));
  for (const p of ["conversations", "dist", ".git"]) assert.ok(ignore.includes(p));
});

/** The image's /app: the files its COPY instructions take, in a temp dir. */
async function buildApp(): Promise<string> {
  const app = await Deno.makeTempDir({ prefix: "eb-image-app-" });
  for (const c of (await dockerfile()).filter((i) => i.op === "COPY")) {
    const parts = c.args.split(/\s+/);
    const target = parts.at(-1)!;
    for (const source of parts.slice(0, -1)) {
      const to = target.endsWith("/") && target !== "./" ? join(app, target) : join(app, source);
      const info = await Deno.stat(join(ROOT, source));
      if (info.isDirectory) await copyDir(join(ROOT, source), to);
      else {
        await Deno.mkdir(dirname(to), { recursive: true });
        await Deno.copyFile(join(ROOT, source), to);
      }
    }
  }
  return app;
}

async function copyDir(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const e of Deno.readDir(from)) {
    if (e.isDirectory) await copyDir(join(from, e.name), join(to, e.name));
    else await Deno.copyFile(join(from, e.name), join(to, e.name));
  }
}

/** Runs an instruction's argv with our deno binary in the app dir. */
function command(argv: string[], cwd: string, env: Record<string, string>): Deno.Command {
  assert.equal(argv[0], "deno");
  return new Deno.Command(Deno.execPath(), {
    args: argv.slice(1),
    cwd,
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

function freePorts(n: number): number[] {
  const ls = Array.from({ length: n }, () => Deno.listen({ hostname: "127.0.0.1", port: 0 }));
  const ports = ls.map((l) => l.addr.port);
  for (const l of ls) l.close();
  return ports;
}

async function untilHealthy(url: string, client?: Deno.HttpClient): Promise<void> {
  const until = Date.now() + 20_000;
  while (Date.now() < until) {
    const ok = await fetch(`${url}/healthz`, { client }).then(async (r) => {
      await r.body?.cancel();
      return r.ok;
    }, () => false);
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`Cannot reach ${url}/healthz`);
}

for (const tls of [false, true]) {
  Deno.test(`the image's steps, ENTRYPOINT and HEALTHCHECK work when run here${tls ? " with TLS" : ""}`, async () => {
    const ins = await dockerfile();
    const app = await buildApp();
    await using cert = await makeTestCertificate();
    const data = join(app, "conversations");
    try {
      for (const run of ins.filter((i) => i.op === "RUN")) {
        for (const step of run.args.split("&&").map((s) => s.trim())) {
          if (!step.startsWith("deno ")) continue; // mkdir/chown are the image's own
          const out = await command(step.split(/\s+/), app, {}).output();
          assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
        }
      }
      await Deno.mkdir(data, { recursive: true });
      const [http, grpcPort, ws] = freePorts(3);
      const env: Record<string, string> = {
        HOST: "127.0.0.1",
        HTTP_PORT: String(http),
        GRPC_PORT: String(grpcPort),
        WS_PORT: String(ws),
        DATA_DIR: data,
        PROVIDER: "echo",
        LOG_LEVEL: "debug",
        ...(tls ? { TLS_CERT: cert.certFile, TLS_KEY: cert.keyFile } : {}),
      };
      const entry = execForm(ins.find((i) => i.op === "ENTRYPOINT")!.args);
      assert.ok(entry.includes("--cached-only"));
      const child = command(entry, app, env).spawn();
      const healthArgv = execForm(ins.find((i) => i.op === "HEALTHCHECK")!.args.replace(
        /^.*?CMD\s+/,
        "",
      ));
      const check = async () => (await command(healthArgv, app, env).output()).code;
      try {
        const client = tls ? Deno.createHttpClient({ caCerts: [cert.certPem] }) : undefined;
        const base = `${tls ? "https" : "http"}://127.0.0.1:${http}`;
        try {
          await untilHealthy(base, client);
          // An answer counts tokens: the encoding loads in a worker module,
          // which must be in the cache the image runs from.
          const ask = await fetch(`${base}/ask/new`, {
            client,
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ prompt: "hello from the image" }),
          });
          assert.match(await ask.text(), /hello from the image/);
          // 33 more answers make 66 commits: the store's WAL checkpoint runs
          // on its worker module, which must be in the cache too.
          for (let i = 0; i < 33; i++) {
            const more = await fetch(`${base}/ask/new`, {
              client,
              method: "POST",
              headers: { "content-type": "application/json" },
              body: JSON.stringify({ prompt: `answer ${i}` }),
            });
            assert.equal(more.status, 200, await more.text());
          }
        } finally {
          client?.close();
        }
        assert.equal(await check(), 0, "the health check passes on a running server");
      } finally {
        child.kill("SIGTERM");
        const out = await child.output();
        assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
        const logs = new TextDecoder().decode(out.stdout);
        assert.match(logs, /"msg":"store checkpointed"/);
        assert.doesNotMatch(logs, /cannot checkpoint/);
      }
      assert.equal(await check(), 1, "the health check fails once the server is gone");
      assert.ok((await Deno.stat(join(data, "easybackend.db"))).isFile, "the database is there");
    } finally {
      await Deno.remove(app, { recursive: true });
    }
  });
}
