/**
 * End to end: how `main.ts` starts and refuses to start. `--help` exits 0, a
 * bad value exits 2 with one line naming the variable, a taken port or an
 * unwritable data directory exits 1 with one clear line.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { runMain } from "../_helpers/server_process.ts";

Deno.test("--help prints every variable and exits 0", async () => {
  const out = await runMain(["--help"]);
  assert.equal(out.code, 0);
  for (const name of ["API_KEY", "HTTP_PORT", "DATA_DIR", "AUTH_TOKENS", "SHUTDOWN_GRACE"]) {
    assert.match(out.stdout, new RegExp(name));
  }
});

Deno.test("a bad configuration value exits 2 with one line naming the variable", async () => {
  for (
    const [env, name] of [
      [{ HTTP_PORT: "eighty" }, "HTTP_PORT"],
      [{ PROVIDER: "nope" }, "PROVIDER"],
      [{ LOG_LEVEL: "loud" }, "LOG_LEVEL"],
    ] as const
  ) {
    const out = await runMain([], env);
    assert.equal(out.code, 2, name);
    const lines = out.stderr.trim().split("\n");
    assert.equal(lines.length, 1, out.stderr);
    assert.match(lines[0], new RegExp(name));
  }
  const flag = await runMain(["--grpc-port", "70000"]);
  assert.equal(flag.code, 2);
  assert.match(flag.stderr, /GRPC_PORT/);
});

Deno.test("a port already taken exits 1 with one clear line", async () => {
  const dir = await Deno.makeTempDir({ prefix: "eb-e2e-port-" });
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const out = await runMain([], {
      HOST: "127.0.0.1",
      HTTP_PORT: String(taken.addr.port),
      GRPC_PORT: "0",
      WS_PORT: "0",
      DATA_DIR: dir,
    });
    assert.equal(out.code, 1);
    const lines = out.stderr.trim().split("\n");
    assert.equal(lines.length, 1, out.stderr);
    assert.match(lines[0], new RegExp(`${taken.addr.port}.*already in use`));
  } finally {
    taken.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an unwritable data directory exits 1 with one clear line", async () => {
  const dir = await Deno.makeTempDir({ prefix: "eb-e2e-dir-" });
  const file = join(dir, "a-file");
  await Deno.writeTextFile(file, "not a directory");
  try {
    const out = await runMain([], { DATA_DIR: join(file, "data"), HTTP_PORT: "0" });
    assert.equal(out.code, 1);
    const lines = out.stderr.trim().split("\n");
    assert.equal(lines.length, 1, out.stderr);
    assert.match(lines[0], /data directory/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
