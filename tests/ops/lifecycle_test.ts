/**
 * SIGTERM and SIGINT on `main.ts` as a child process: running answers on all
 * three protocols finish within the grace period and are stored complete, new
 * connections are refused meanwhile, and the process exits 0; with a short
 * grace a stalled answer ends with a clean error and is stored incomplete.
 */

import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { openSqliteStore } from "../../lib/store/sqlite.ts";
import { ANONYMOUS } from "../../lib/store/store.ts";
import { startOpenAIFake } from "../_fakes/openai_upstream.ts";
import { startServer } from "../_helpers/server_process.ts";
import { clientConstructors } from "../transports/grpc_client.ts";
import {
  askGrpcLegacy,
  askHttpSse,
  askWsJson,
  type Seen,
  slowAnswer,
  stallingAnswer,
  waitUntil,
} from "./_clients.ts";

const KEY = "sk-ops-lifecycle-0123456789";
const PIECES = ["One ", "two ", "three ", "four ", "five ", "six."];

/** The stored assistant replies of every conversation, by conversation id. */
async function storedReplies(dataDir: string): Promise<Map<string, [string, string]>> {
  const store = await openSqliteStore(dataDir);
  try {
    const out = new Map<string, [string, string]>();
    for (const c of await store.list(ANONYMOUS)) {
      const reply = (await store.messages(c.id)).find((m) => m.role === "assistant");
      if (reply) out.set(c.id, [reply.status, reply.content]);
    }
    return out;
  } finally {
    await store.close();
  }
}

/** A gRPC health check on a new channel: the status name, or the error's. */
function grpcHealth(port: number): Promise<string> {
  const { health } = clientConstructors();
  const client = new health(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  return new Promise((resolve) => {
    client.Check(
      { service: "" },
      { deadline: Date.now() + 2000 },
      (err: grpc.ServiceError | null, res: { status: string }) => {
        client.close();
        resolve(err ? grpc.status[err.code] : res.status);
      },
    );
  });
}

async function fakeUpstream() {
  const fake = await startOpenAIFake();
  return Object.assign(fake, { [Symbol.asyncDispose]: () => fake.close() });
}

async function withDataDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "eb-ops-life-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("SIGTERM mid-stream lets every protocol's answer finish, refuses new connections, stores them complete and exits 0", async () => {
  await using fake = await fakeUpstream();
  await withDataDir(async (dataDir) => {
    for (let i = 0; i < 3; i++) fake.next(slowAnswer(PIECES, 150));
    const server = await startServer({
      dataDir,
      env: { API_KEY: KEY, API_BASE_URL: fake.url, SHUTDOWN_GRACE: "20" },
    });
    let exit: Promise<number> | null = null;
    try {
      let started = 0;
      const hooks = { onFirstText: () => void started++ };
      const answers = Promise.all([
        askHttpSse(server.httpUrl, "first question", hooks),
        askGrpcLegacy(server.grpcPort, "second question", hooks),
        askWsJson(server.wsPort, "third question", hooks),
      ]);
      await waitUntil(() => started === 3, 10_000, "the first piece on every protocol");
      exit = server.stop("SIGTERM");
      await waitUntil(
        () => server.logs().some((l) => l.includes('"shutting down"')),
        5000,
        "the shutdown log line",
      );

      // New connections are refused while the running answers finish.
      const http = await fetch(`${server.httpUrl}/healthz`).then(
        (r) => `status ${r.status}`,
        () => "refused",
      );
      assert.equal(http, "refused");
      assert.equal(await grpcHealth(server.grpcPort), "NOT_SERVING");
      assert.equal((await askGrpcLegacy(server.grpcPort, "too late")).end, "UNAVAILABLE");
      const ws = await askWsJson(server.wsPort, "too late");
      assert.ok(ws.end === "refused", `a new WebSocket got ${ws.end}`);

      const seen: Seen[] = await answers;
      for (const s of seen) {
        assert.equal(s.end, "done");
        assert.equal(s.text, PIECES.join(""));
      }
      assert.equal(await exit, 0);
      const stored = await storedReplies(dataDir);
      for (const s of seen) assert.deepEqual(stored.get(s.conversationId!), ["complete", s.text]);
      assert.ok(server.logs().some((l) => l.includes('"stopped"')));
    } finally {
      if (exit === null) await server.kill();
      else await exit;
    }
  });
});

Deno.test("SIGINT with a short grace ends a stalled answer with a clean error on every protocol and stores it incomplete", async () => {
  await using fake = await fakeUpstream();
  await withDataDir(async (dataDir) => {
    for (let i = 0; i < 3; i++) fake.next(stallingAnswer(["Partial ", "reply"]));
    const server = await startServer({
      dataDir,
      env: { API_KEY: KEY, API_BASE_URL: fake.url, SHUTDOWN_GRACE: "0.3" },
    });
    let exit: Promise<number> | null = null;
    try {
      let started = 0;
      const hooks = { onFirstText: () => void started++ };
      const answers = Promise.all([
        askHttpSse(server.httpUrl, "first question", hooks),
        askGrpcLegacy(server.grpcPort, "second question", hooks),
        askWsJson(server.wsPort, "third question", hooks),
      ]);
      await waitUntil(() => started === 3, 10_000, "the first piece on every protocol");
      // Let the second piece reach the server's store buffer too.
      await new Promise((r) => setTimeout(r, 100));
      exit = server.stop("SIGINT");
      const [http, grpcSeen, ws] = await answers;
      assert.equal(http.end, "shutting_down");
      assert.equal(grpcSeen.end, "<|err|>$Cannot finish the call: the server is shutting down");
      assert.equal(ws.end, "shutting_down");
      for (const s of [http, grpcSeen, ws]) assert.equal(s.text, "Partial reply");
      assert.equal(await exit, 0);
      const stored = await storedReplies(dataDir);
      assert.equal(stored.size, 3);
      for (const [status, content] of stored.values()) {
        assert.equal(status, "incomplete");
        assert.equal(content, "Partial reply");
      }
      assert.ok(server.logs().some((l) => l.includes("grace period over")));
    } finally {
      if (exit === null) await server.kill();
      else await exit;
    }
  });
});

/** The assistant replies of the newest conversation over HTTP, as [status, text]. */
async function repliesOverHttp(url: string): Promise<[string, string][]> {
  const list = await (await fetch(`${url}/conversations?limit=1`)).json();
  const id = list.items?.[0]?.id;
  if (typeof id !== "string") return [];
  const tree = await (await fetch(`${url}/conversations/${id}`)).json();
  type WireMessage = { author: { role: string }; status: string; content: { parts: string[] } };
  return Object.values(tree.mapping as Record<string, { message: WireMessage }>)
    .map((n) => n.message)
    .filter((m) => m.author.role === "assistant")
    .map((m) => [m.status, m.content.parts[0]]);
}

Deno.test("kill -9 mid-stream keeps the reply's text saved so far: in_progress while it streams, incomplete after", async () => {
  await using fake = await fakeUpstream();
  await withDataDir(async (dataDir) => {
    fake.next(stallingAnswer(["Partial ", "reply"]));
    const server = await startServer({
      dataDir,
      env: { API_KEY: KEY, API_BASE_URL: fake.url, DRAFT_INTERVAL: "0.2" },
    });
    let killed = false;
    try {
      let started = false;
      const answer = askHttpSse(server.httpUrl, "a question", {
        onFirstText: () => void (started = true),
      }).catch((err) => err);
      await waitUntil(() => started, 10_000, "the first piece");
      // While the upstream stalls, the stored reply shows the text so far.
      let seen: [string, string][] = [];
      const until = Date.now() + 5000;
      while (Date.now() < until) {
        seen = await repliesOverHttp(server.httpUrl);
        if (seen[0]?.[1] === "Partial reply") break;
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.deepEqual(seen, [["in_progress", "Partial reply"]]);
      await server.kill();
      killed = true;
      await answer;
    } finally {
      if (!killed) await server.kill();
    }
    // The next start marks it incomplete and keeps its text.
    const stored = await storedReplies(dataDir);
    assert.deepEqual([...stored.values()], [["incomplete", "Partial reply"]]);
  });
});
