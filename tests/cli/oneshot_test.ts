/**
 * One-shot mode of the terminal client, run as a process against `main.ts`
 * (the offline echo provider) over each protocol, and each failure it must
 * report in one line: unreachable server, wrong token, unknown conversation.
 */

import assert from "node:assert/strict";
import { startServer } from "../_helpers/server_process.ts";
import { makeTestCertificate } from "../_helpers/tls.ts";
import { idsOf, runChat } from "./_chat.ts";
import { startOpenAIFake, streamScript } from "../_fakes/openai_upstream.ts";

type Server = Awaited<ReturnType<typeof startServer>>;

function urlArgs(server: Server, protocol: string): string[] {
  switch (protocol) {
    case "grpc":
      return ["--protocol", "grpc", "--url", `127.0.0.1:${server.grpcPort}`];
    case "ws":
      return [
        "--protocol",
        "ws",
        "--url",
        `ws://127.0.0.1:${server.wsPort}`,
        "--api-url",
        server.httpUrl,
      ];
    default:
      return ["--protocol", protocol, "--url", server.httpUrl];
  }
}

const PROTOCOLS = ["http", "sse", "grpc", "ws"];

Deno.test("chat one-shot answers and continues a conversation over every protocol", async (t) => {
  const server = await startServer({});
  try {
    for (const protocol of PROTOCOLS) {
      await t.step(`over ${protocol}`, async () => {
        const first = await runChat([...urlArgs(server, protocol), "first question"]);
        assert.equal(first.code, 0, first.stderr);
        assert.match(first.stdout, /you said "first question"/);
        assert.doesNotMatch(first.stdout, /conversation_id/);
        const ids = idsOf(first.stderr);

        const second = await runChat([
          ...urlArgs(server, protocol),
          "--conversation",
          ids.conversationId,
          "--parent",
          ids.parentId,
          "second question",
        ]);
        assert.equal(second.code, 0, second.stderr);
        assert.match(second.stdout, /I received 3 messages/);
        assert.equal(idsOf(second.stderr).conversationId, ids.conversationId);
      });
    }

    await t.step("with --json and the original's flags, prompt piped on stdin", async () => {
      const first = await runChat([...urlArgs(server, "grpc"), "--json"], "piped question\n");
      assert.equal(first.code, 0, first.stderr);
      const answer = JSON.parse(first.stdout);
      assert.match(answer.message, /you said "piped question"/);
      assert.equal(typeof answer.conversation_id, "string");
      const branch = await runChat([
        ...urlArgs(server, "http"),
        "--json",
        "--conversation_id",
        answer.conversation_id,
        "--parent_id",
        answer.parent_id,
        "follow-up",
      ]);
      assert.equal(branch.code, 0, branch.stderr);
      const next = JSON.parse(branch.stdout);
      assert.equal(next.conversation_id, answer.conversation_id);
      assert.match(next.message, /I received 3 messages/);
    });

    await t.step("over legacy gRPC chat.Chat/Ask", async () => {
      const run = await runChat([...urlArgs(server, "grpc"), "--legacy", "old client"]);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /you said "old client"/);
      idsOf(run.stderr);
    });

    for (const protocol of PROTOCOLS) {
      await t.step(
        `fails in one line when the conversation is unknown over ${protocol}`,
        async () => {
          const run = await runChat([...urlArgs(server, protocol), "--conversation", "nope", "hi"]);
          assert.equal(run.code, 1);
          assert.equal(run.stdout, "");
          assert.match(run.stderr, /^error: .*(404|NOT_FOUND|not_found)\)\n$/);
          assert.doesNotMatch(run.stderr, /\n.+\n/);
        },
      );
    }
  } finally {
    await server.stop();
  }
});

Deno.test("chat one-shot fails in one line when the token is wrong or the server is gone", async (t) => {
  const server = await startServer({ env: { AUTH_TOKENS: "right-token" } });
  try {
    for (const protocol of PROTOCOLS) {
      await t.step(`wrong token over ${protocol}`, async () => {
        const bad = await runChat([...urlArgs(server, protocol), "--token", "wrong", "hi"]);
        assert.equal(bad.code, 1);
        assert.match(bad.stderr, /^error: Cannot authenticate with the server: .*--token\n$/);
        const good = await runChat([...urlArgs(server, protocol), "--token", "right-token", "hi"]);
        assert.equal(good.code, 0, good.stderr);
      });
    }
  } finally {
    await server.stop();
  }
  // The server is stopped: its ports now refuse connections.
  for (const protocol of PROTOCOLS) {
    await t.step(`server not reachable over ${protocol}`, async () => {
      const run = await runChat([...urlArgs(server, protocol), "hi"]);
      assert.equal(run.code, 1);
      assert.match(run.stderr, /^error: Cannot reach the server at \S+: connection refused\n$/);
    });
  }
});

Deno.test("chat fails with usage status 2 when a flag is wrong or the prompt is empty", async () => {
  const bad = await runChat(["--protocol", "smtp", "hi"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /Cannot use protocol "smtp"/);
  const empty = await runChat(["--protocol", "http", "--url", "http://127.0.0.1:9"], "\n");
  assert.equal(empty.code, 2);
  assert.match(empty.stderr, /prompt is empty/);
});

Deno.test("chat one-shot trusts the --ca certificate over TLS on every protocol", async (t) => {
  await using tls = await makeTestCertificate();
  const server = await startServer({
    env: { TLS_CERT: tls.certFile, TLS_KEY: tls.keyFile, AUTH_TOKENS: "tls-token" },
  });
  try {
    const port = new URL(server.httpUrl).port;
    const urls: Record<string, string[]> = {
      http: ["--url", `https://127.0.0.1:${port}`],
      sse: ["--url", `https://127.0.0.1:${port}`],
      // gRPC over TLS under Deno verifies a host name, not an IP address.
      grpc: ["--url", `grpcs://localhost:${server.grpcPort}`],
      ws: ["--url", `wss://127.0.0.1:${server.wsPort}`],
    };
    for (const protocol of PROTOCOLS) {
      await t.step(`over ${protocol}`, async () => {
        const args = [
          ...["--protocol", protocol, ...urls[protocol], "--ca", tls.certFile],
          ...["--token", "tls-token"],
        ];
        const run = await runChat([...args, "secure question"]);
        assert.equal(run.code, 0, run.stderr);
        assert.match(run.stdout, /you said "secure question"/);
      });
    }
    await t.step("gRPC over TLS says to use a host name when given an IP address", async () => {
      const args = ["--url", `grpcs://127.0.0.1:${server.grpcPort}`, "--ca", tls.certFile];
      const run = await runChat([...args, "--token", "tls-token", "hi"]);
      assert.equal(run.code, 1);
      assert.match(
        run.stderr,
        /^error: Cannot reach the server at \S+: TLS needs a host name here/,
      );
    });
    await t.step("wss names the token when the upgrade is refused", async () => {
      const args = ["--protocol", "ws", ...urls.ws, "--ca", tls.certFile, "--token", "wrong"];
      const run = await runChat([...args, "hi"]);
      assert.equal(run.code, 1);
      assert.match(
        run.stderr,
        /^error: Cannot open the socket at wss:\S+: the server refused the upgrade \(check --token\)\n$/,
      );
    });
    await t.step("fails in one line without --ca", async () => {
      const run = await runChat(["--protocol", "sse", ...urls.sse, "hi"]);
      assert.equal(run.code, 1);
      assert.match(
        run.stderr,
        /^error: Cannot reach the server at \S+: TLS failed \(see --ca\)\n$/,
      );
    });
  } finally {
    await server.stop();
  }
});

Deno.test("chat one-shot prints where to continue after an answer that failed midway, and continuing keeps the partial reply", async (t) => {
  const fake = await startOpenAIFake();
  const server = await startServer({
    env: { API_KEY: "sk-cli-partial-0123456789", API_BASE_URL: fake.url },
  });
  try {
    for (const protocol of ["sse", "ws"]) {
      await t.step(`over ${protocol}`, async () => {
        // The upstream stops without its end marker: the reply is kept incomplete.
        fake.next(streamScript(["Partial ", "reply"], { noDone: true }));
        const failed = await runChat([...urlArgs(server, protocol), "a question"]);
        assert.equal(failed.code, 1, failed.stderr);
        assert.equal(failed.stdout, "Partial reply");
        assert.match(failed.stderr, /^error: .+\nconversation_id=\S+ parent_id=\S+\n$/);
        const ids = idsOf(failed.stderr);

        fake.next(streamScript(["Next."]));
        const next = await runChat([
          ...urlArgs(server, protocol),
          "--conversation",
          ids.conversationId,
          "--parent",
          ids.parentId,
          "go on",
        ]);
        assert.equal(next.code, 0, next.stderr);
        const sent = fake.requests.at(-1)!.body as {
          messages: { role: string; content: string }[];
        };
        assert.deepEqual(sent.messages.slice(-3), [
          { role: "user", content: "a question" },
          { role: "assistant", content: "Partial reply" },
          { role: "user", content: "go on" },
        ]);
      });
    }
  } finally {
    await server.stop();
    await fake.close();
  }
});
