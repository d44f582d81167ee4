/**
 * The interactive client in a real terminal (tmux) against `main.ts` with the
 * fake OpenAI upstream: two turns, `/branch`, Ctrl-C mid-answer (the upstream
 * call stops, the client stays), `/history`, `/quit`; an answer that fails
 * midway and the next question after its partial reply; Ctrl-C at the prompt exits.
 */

import assert from "node:assert/strict";
import { startServer } from "../_helpers/server_process.ts";
import { chunk, sse, startOpenAIFake } from "../_fakes/openai_upstream.ts";
import { chatCommand, ROOT } from "./_chat.ts";
import { startTmux } from "./_tmux.ts";

const PROMPT = /you> $/m;

/** A slow answer: one piece, then silence until the client leaves. */
const STALLED_ANSWER = {
  steps: [
    sse(chunk({ role: "assistant", content: "" })),
    sse(chunk({ content: "partial-piece " })),
  ],
  stall: true,
};

function lastIds(screen: string): { conversationId: string; parentId: string } {
  const all = [...screen.matchAll(/\[conversation_id=(\S+) parent_id=(\S+)\]/g)];
  assert.ok(all.length > 0, `no ids on screen:\n${screen}`);
  const m = all[all.length - 1];
  return { conversationId: m[1], parentId: m[2] };
}

async function waitUntil(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

Deno.test("chat interactive holds a branching conversation and cancels an answer with Ctrl-C", async (t) => {
  const fake = await startOpenAIFake();
  const server = await startServer({ env: { API_KEY: "sk-test-key", API_BASE_URL: fake.url } });
  try {
    await t.step("over gRPC: two turns, /branch, Ctrl-C, /history, /quit", async () => {
      const pane = await startTmux(chatCommand(["--url", `127.0.0.1:${server.grpcPort}`]), {
        cwd: ROOT,
        env: { NO_COLOR: "1" },
      });
      try {
        await pane.waitFor(PROMPT);
        await pane.send("-l", "first question");
        await pane.send("Enter", "Enter");
        let screen = await pane.waitFor(/Heard 1 messages: user: first question[\s\S]*you> $/m);
        const first = lastIds(screen);

        await pane.send("-l", "second question");
        await pane.send("Enter", "Enter");
        screen = await pane.waitFor(/Heard 3 messages: [^\n]*user: second question/);
        const second = lastIds(await pane.waitFor(/parent_id=\S+\]\s*\n\s*you> $/m));
        assert.equal(second.conversationId, first.conversationId);
        assert.notEqual(second.parentId, first.parentId);

        await pane.send("-l", `/branch ${first.parentId}`);
        await pane.send("Enter");
        await pane.waitFor(/branching from/);
        await pane.send("-l", "third question");
        await pane.send("Enter", "Enter");
        await pane.waitFor(
          /Heard 3 messages: user: first question \| assistant: [^\n]* \| user: third question/,
        );

        fake.next(STALLED_ANSWER);
        const before = fake.lastAbortedAt();
        await pane.send("-l", "fourth question");
        await pane.send("Enter", "Enter");
        await pane.waitFor(/partial-piece/);
        await pane.send("C-c");
        await pane.waitFor(/\[canceled\]\s*\n\s*you> $/m);
        assert.ok(
          await waitUntil(() => (fake.lastAbortedAt() ?? 0) > (before ?? 0), 5000),
          "the upstream call did not stop",
        );
        assert.equal(await pane.exitStatus(), null, "the client left on Ctrl-C mid-answer");

        await pane.send("-l", "/history");
        await pane.send("Enter");
        await pane.waitFor(/\] user: third question/);

        await pane.send("-l", "/quit");
        await pane.send("Enter");
        await pane.waitFor(/bye/);
        assert.equal(await pane.waitForExit(), 0);
      } finally {
        await pane.close();
      }
    });

    await t.step(
      "over WebSocket: /list, Ctrl-C mid-answer, Ctrl-C at the prompt exits",
      async () => {
        const pane = await startTmux(
          chatCommand([
            "--protocol",
            "ws",
            "--url",
            `ws://127.0.0.1:${server.wsPort}`,
            "--api-url",
            server.httpUrl,
          ]),
          { cwd: ROOT, env: { NO_COLOR: "1" } },
        );
        try {
          await pane.waitFor(PROMPT);
          await pane.send("-l", "hello over ws");
          await pane.send("Enter", "Enter");
          await pane.waitFor(/Heard 1 messages: user: hello over ws[\s\S]*you> $/m);
          await pane.send("-l", "/list");
          await pane.send("Enter");
          await pane.waitFor(/you> \/list\n[^\n]*hello over ws[\s\S]*you> $/m);

          // An answer that fails midway (no end marker): the server keeps the
          // partial reply, and the next question follows it.
          fake.next({
            steps: [
              sse(chunk({ role: "assistant", content: "" })),
              sse(chunk({ content: "broken-piece" })),
            ],
          });
          await pane.send("-l", "failing one");
          await pane.send("Enter", "Enter");
          await pane.waitFor(
            /broken-piece\nerror: [^\n]+\n\[conversation_id=\S+ parent_id=\S+\]\s*\n\s*you> $/m,
          );
          await pane.send("-l", "after the failure");
          await pane.send("Enter", "Enter");
          await pane.waitFor(/Heard 5 messages: [^\n]*broken-piece \| user: after the failure/);

          // Ctrl-C mid-answer sends the JSON cancel frame: the upstream call stops.
          fake.next(STALLED_ANSWER);
          const before = fake.lastAbortedAt() ?? 0;
          await pane.send("-l", "slow one");
          await pane.send("Enter", "Enter");
          await pane.waitFor(/partial-piece/);
          await pane.send("C-c");
          await pane.waitFor(/\[canceled\]\s*\n\s*you> $/m);
          assert.ok(
            await waitUntil(() => (fake.lastAbortedAt() ?? 0) > before, 5000),
            "the upstream call did not stop",
          );

          await pane.send("C-c");
          assert.equal(await pane.waitForExit(), 130);
        } finally {
          await pane.close();
        }
      },
    );
  } finally {
    await server.stop();
    await fake.close();
  }
});
