import assert from "node:assert/strict";
import { AppError, Code } from "../../lib/errors.ts";
import { silentLogger } from "../../lib/log.ts";
import { EchoProvider, echoReply, splitWords } from "../../lib/providers/echo/client.ts";
import type { CallContext, ChatEvent, ChatMessage } from "../../lib/providers/provider.ts";
import { tokenCounterFor } from "../../lib/tokens.ts";

function ctxOf(signal = new AbortController().signal): CallContext {
  return { signal, requestId: "t", principal: "anonymous", logger: silentLogger };
}

const messages: ChatMessage[] = [
  { role: "system", content: "Be brief." },
  { role: "user", content: "hello" },
];

Deno.test("EchoProvider streams its reply word by word and then done with counted usage", async () => {
  const provider = new EchoProvider();
  const events: ChatEvent[] = [];
  for await (const e of provider.stream({ model: "", messages, userMessageId: "u" }, ctxOf())) {
    events.push(e);
  }
  const deltas = events.filter((e) => e.type === "delta").map((e) =>
    e.type === "delta" ? e.text : ""
  );
  const text = deltas.join("");
  assert.equal(
    text,
    'Echo from the offline echo provider (no API_KEY set). I received 2 messages (system, user): you said "hello".',
  );
  assert.ok(deltas.length > 10);
  assert.ok(deltas.every((d) => d.trim().split(" ").length === 1));
  const done = events.at(-1);
  assert.equal(done?.type, "done");
  if (done?.type !== "done") return;
  assert.equal(done.model, "echo");
  assert.equal(done.finishReason, "stop");
  const counter = await tokenCounterFor("echo");
  assert.deepEqual(done.usage, {
    promptTokens: counter.countMessages(messages),
    completionTokens: counter.count(text),
    totalTokens: counter.countMessages(messages) + counter.count(text),
  });
});

Deno.test("EchoProvider stops with Canceled promptly when the signal aborts during a delay", async () => {
  const provider = new EchoProvider({ delayMs: 10_000 });
  const controller = new AbortController();
  const started = performance.now();
  const seen: string[] = [];
  await assert.rejects(
    (async () => {
      for await (
        const e of provider.stream(
          { model: "echo", messages, userMessageId: "u" },
          ctxOf(controller.signal),
        )
      ) {
        if (e.type === "delta") {
          seen.push(e.text);
          setTimeout(() => controller.abort(), 5);
        }
      }
    })(),
    (e) => e instanceof AppError && e.code === Code.Canceled,
  );
  assert.deepEqual(seen, ["Echo "]);
  assert.ok(performance.now() - started < 2000);
});

Deno.test("echoReply counts the messages so a branch shows fewer", () => {
  const long = [
    { role: "user" as const, content: "a" },
    { role: "assistant" as const, content: "b" },
    { role: "user" as const, content: "  c\n d " },
  ];
  assert.match(
    echoReply(long),
    /I received 3 messages \(user, assistant, user\): you said "c d"\.$/,
  );
  assert.match(echoReply([{ role: "user", content: "x" }]), /I received 1 message \(user\)/);
  assert.match(echoReply([{ role: "user", content: "y".repeat(300) }]), /"y{200}…"\.$/);
});

Deno.test("splitWords keeps every space so the words join back into the text", () => {
  for (const text of ["a b  c ", "  lead", "one", "", "x\ny"]) {
    assert.equal(splitWords(text).join(""), text);
  }
  assert.deepEqual(splitWords("a b  c"), ["a ", "b  ", "c"]);
});

Deno.test("EchoProvider lists its one model", async () => {
  const models = await new EchoProvider({ model: "echo-2" }).listModels(ctxOf());
  assert.deepEqual(models.map((m) => m.id), ["echo-2"]);
});
