/**
 * Start-up fails fast with one clear line on stderr and exit code 1 when a
 * gRPC or WebSocket port is taken or the data directory cannot be written
 * (the HTTP port and a path under a file are in tests/e2e/startup_test.ts).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { runMain } from "../_helpers/server_process.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "eb-ops-start-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function oneLine(stderr: string): string {
  const lines = stderr.trim().split("\n");
  assert.equal(lines.length, 1, stderr);
  return lines[0];
}

for (const variable of ["GRPC_PORT", "WS_PORT"]) {
  Deno.test(`start-up exits 1 with one line naming ${variable} when its port is taken`, async () => {
    await withDir(async (dir) => {
      using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const out = await runMain([], {
        HOST: "127.0.0.1",
        HTTP_PORT: "0",
        GRPC_PORT: "0",
        WS_PORT: "0",
        [variable]: String(taken.addr.port),
        DATA_DIR: dir,
      });
      assert.equal(out.code, 1);
      const line = oneLine(out.stderr);
      assert.match(
        line,
        new RegExp(`${taken.addr.port} \\(${variable}\\): the port is already in use`),
      );
      assert.match(line, /^easybackend: Cannot start the/);
    });
  });
}

Deno.test("start-up exits 1 with one line when the data directory is a file", async () => {
  await withDir(async (dir) => {
    const file = join(dir, "conversations");
    await Deno.writeTextFile(file, "");
    const out = await runMain([], { HTTP_PORT: "0", GRPC_PORT: "0", WS_PORT: "0", DATA_DIR: file });
    assert.equal(out.code, 1);
    assert.match(oneLine(out.stderr), /^easybackend: Cannot .*conversations/);
  });
});

Deno.test({
  name: "start-up exits 1 with one line when the data directory is read-only",
  // root writes anywhere, so the permission cannot be tested as root.
  ignore: Deno.uid() === 0,
  async fn() {
    await withDir(async (dir) => {
      const data = join(dir, "data");
      await Deno.mkdir(data, { mode: 0o500 });
      try {
        const out = await runMain([], {
          HTTP_PORT: "0",
          GRPC_PORT: "0",
          WS_PORT: "0",
          DATA_DIR: data,
        });
        assert.equal(out.code, 1);
        assert.match(oneLine(out.stderr), /^easybackend: Cannot /);
      } finally {
        await Deno.chmod(data, 0o700);
      }
    });
  },
});
