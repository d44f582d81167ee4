import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { startGrpc } from "../transports/grpc_client.ts";

/** Debian's interpreter: the one apt's python3-grpcio installs into. */
const PYTHON = "/usr/bin/python3";
const CLIENT = fileURLToPath(new URL("./grpc_legacy_client.py", import.meta.url));

interface Turn {
  turn: string;
  pieces: number | string[];
  text?: string;
  conversationId?: string;
  parentId?: string;
}

Deno.test("python grpcio drives a multi-turn legacy conversation over chat.Chat/Ask", async () => {
  await using srv = await startGrpc();
  const out = await new Deno.Command(PYTHON, {
    args: [CLIENT, srv.address],
    stdout: "piped",
    stderr: "piped",
  }).output().catch((err) => {
    throw new Error(`Cannot run ${PYTHON}: ${err} (apt-get install -y python3-grpcio)`);
  });
  const stderr = new TextDecoder().decode(out.stderr);
  assert.ok(
    out.success,
    `the python client failed (needs Debian's python3-grpcio):\n${stderr.slice(-2000)}`,
  );
  const turns: Record<string, Turn> = {};
  for (const line of new TextDecoder().decode(out.stdout).trim().split("\n")) {
    const t = JSON.parse(line) as Turn;
    turns[t.turn] = t;
  }
  const { first, second, third, branch, unknown } = turns;
  assert.ok((first.pieces as number) > 3, "the reply came in pieces");
  assert.match(first.text!, /I received 1 message \(user\): you said "hello from python"/);
  assert.equal(second.conversationId, first.conversationId);
  assert.match(second.text!, /I received 3 messages .*"and again"/);
  assert.match(third.text!, /I received 5 messages .*"continue"/);
  assert.match(branch.text!, /I received 3 messages .*"a branch"/);
  assert.equal(branch.conversationId, first.conversationId);
  const path = await srv.store.path(branch.parentId!);
  assert.equal(path[1].id, first.parentId, "the branch grows from the first answer");
  assert.equal((unknown.pieces as string[]).length, 1);
  assert.match((unknown.pieces as string[])[0], /^<\|err\|>\$Cannot /);
});
