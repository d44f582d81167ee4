import assert from "node:assert/strict";
import { createEngine, type EngineOptions } from "../../lib/engine/engine.ts";
import type { AskEvent, AskInput, Engine } from "../../lib/engine/types.ts";
import { tokenCounterFor } from "../../lib/tokens.ts";
import { AppError, Code } from "../../lib/errors.ts";
import { createLogger, type Logger, silentLogger } from "../../lib/log.ts";
import { EchoProvider, echoReply } from "../../lib/providers/echo/client.ts";
import type {
  CallContext,
  ChatEvent,
  ChatMessage,
  ChatRequest,
  ModelInfo,
  Provider,
} from "../../lib/providers/provider.ts";
import { ChatGPTWebProvider } from "../../lib/providers/chatgpt_web/client.ts";
import { KeyPool } from "../../lib/providers/pool.ts";
import { DATABASE_FILE, openSqliteStore } from "../../lib/store/sqlite.ts";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { ANONYMOUS, type ConversationStore } from "../../lib/store/store.ts";
import { startChatGPTWebFake, webErrorScript } from "../_fakes/chatgpt_web_upstream.ts";

/** A fake upstream for these tests: records each request, streams scripted words, may fail. */
class ScriptedProvider implements Provider {
  readonly name = "scripted";
  readonly defaultModel = "gpt-4o";
  readonly stateful: boolean;
  readonly requests: ChatRequest[] = [];
  #words: string[];
  #failAfter: number | null;

  constructor(options: { words?: string[]; failAfter?: number; stateful?: boolean } = {}) {
    this.#words = options.words ?? ["Hello ", "there."];
    this.#failAfter = options.failAfter ?? null;
    this.stateful = options.stateful ?? false;
  }

  async *stream(req: ChatRequest, _ctx: CallContext): AsyncGenerator<ChatEvent> {
    this.requests.push(structuredClone(req));
    for (const [i, word] of this.#words.entries()) {
      if (i === this.#failAfter) {
        throw new AppError(Code.Unavailable, "Cannot read the answer: the upstream broke", {
          reason: "upstream_error",
        });
      }
      await Promise.resolve();
      yield { type: "delta", text: word };
    }
    yield {
      type: "done",
      model: "gpt-4o-2024-08-06",
      finishReason: "stop",
      upstreamIds: this.stateful
        ? { conversationId: "up-conv", messageId: `up-${this.requests.length}` }
        : undefined,
    };
  }

  listModels(): Promise<ModelInfo[]> {
    return Promise.resolve([{ id: "gpt-4o", ownedBy: "test", created: 0 }]);
  }
}

interface Setup {
  engine: Engine;
  store: ConversationStore;
  dir: string;
  logs: string[];
}

async function withEngine(
  options: Partial<EngineOptions>,
  fn: (s: Setup) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "eb-engine-" });
  const store = await openSqliteStore(dir);
  const logs: string[] = [];
  const logger = createLogger({ level: "debug", write: (line) => logs.push(line) });
  const engine = createEngine({ store, provider: new EchoProvider(), logger, ...options });
  try {
    await fn({ engine, store, dir, logs });
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

function ctxOf(
  principal = ANONYMOUS,
  signal = new AbortController().signal,
  logger: Logger = silentLogger,
): CallContext {
  return { signal, requestId: "test", principal, logger };
}

interface Answer {
  events: AskEvent[];
  text: string;
  conversationId: string;
  messageId: string;
}

async function ask(engine: Engine, input: AskInput, ctx = ctxOf()): Promise<Answer> {
  const events: AskEvent[] = [];
  for await (const e of engine.ask(input, ctx)) events.push(e);
  const done = events.at(-1);
  assert.equal(done?.type, "done");
  if (done?.type !== "done") throw new Error("unreachable");
  const text = events.map((e) => e.type === "delta" ? e.text : "").join("");
  return { events, text, conversationId: done.conversationId, messageId: done.messageId };
}

function isCode(code: Code) {
  return (e: unknown) => e instanceof AppError && e.code === code;
}

Deno.test("ask starts a new conversation with the system prompt at its root when the id is new", async () => {
  await withEngine({ systemPrompt: "Be brief." }, async ({ engine, store }) => {
    const a = await ask(engine, { conversationId: "new", prompt: "  hello\n world  " });
    assert.equal(
      a.text,
      echoReply([
        { role: "system", content: "Be brief." },
        { role: "user", content: "  hello\n world  " },
      ]),
    );
    const start = a.events[0];
    assert.equal(start.type, "start");
    if (start.type !== "start") return;
    assert.equal(start.conversationId, a.conversationId);
    assert.equal(start.messageId, a.messageId);
    const tree = await engine.getConversation(a.conversationId, ctxOf());
    assert.equal(tree.conversation.title, "hello world");
    assert.equal(tree.conversation.owner, ANONYMOUS);
    assert.equal(tree.conversation.currentNode, a.messageId);
    assert.deepEqual(tree.messages.map((m) => [m.role, m.status]), [
      ["system", "complete"],
      ["user", "complete"],
      ["assistant", "complete"],
    ]);
    const reply = await store.getMessage(a.messageId);
    assert.equal(reply?.content, a.text);
    assert.equal(reply?.parentId, start.userMessageId);
    assert.equal(reply?.model, "echo");
    assert.equal(reply?.finishReason, "stop");
    assert.ok((reply?.usage?.completionTokens ?? 0) > 10);
  });
});

Deno.test("ask continues from the latest message when no parent is given", async () => {
  await withEngine({}, async ({ engine }) => {
    const first = await ask(engine, { conversationId: null, prompt: "one" });
    const second = await ask(engine, { conversationId: first.conversationId, prompt: "two" });
    assert.equal(second.conversationId, first.conversationId);
    assert.match(second.text, /I received 3 messages \(user, assistant, user\): you said "two"/);
    const path = await engine.getMessages(first.conversationId, null, ctxOf());
    assert.deepEqual(path.map((m) => m.content.slice(0, 3)), ["one", "Ech", "two", "Ech"]);
    assert.equal(path[2].parentId, first.messageId);
  });
});

Deno.test("ask branches from an older parent and the upstream sees only that path", async () => {
  await withEngine({}, async ({ engine }) => {
    const first = await ask(engine, { prompt: "one" });
    const c = first.conversationId;
    await ask(engine, { conversationId: c, prompt: "two" });
    const branch = await ask(engine, {
      conversationId: c,
      parentId: first.messageId,
      prompt: "2b",
    });
    assert.match(branch.text, /I received 3 messages \(user, assistant, user\): you said "2b"/);
    const tree = await engine.getConversation(c, ctxOf());
    const children = tree.messages.filter((m) => m.parentId === first.messageId);
    assert.deepEqual(children.map((m) => m.content), ["two", "2b"]);
    assert.equal(tree.conversation.currentNode, branch.messageId);
  });
});

Deno.test("ask continues in the parent's conversation when only a parent id is given", async () => {
  await withEngine({}, async ({ engine }) => {
    const first = await ask(engine, { prompt: "one" });
    const next = await ask(engine, {
      conversationId: "new",
      parentId: first.messageId,
      prompt: "2",
    });
    assert.equal(next.conversationId, first.conversationId);
    await assert.rejects(
      ask(engine, { conversationId: "new", parentId: "nope", prompt: "x" }),
      isCode(Code.NotFound),
    );
  });
});

Deno.test("ask throws NotFound when the conversation or parent is unknown, foreign or not the caller's", async () => {
  await withEngine({}, async ({ engine, store }) => {
    const mine = await ask(engine, { prompt: "mine" }, ctxOf("alice"));
    const other = await ask(engine, { prompt: "other" }, ctxOf("alice"));
    const count = async () => (await store.messages(mine.conversationId)).length;
    await assert.rejects(
      ask(engine, { conversationId: "no-such-id", prompt: "x" }, ctxOf("alice")),
      (e) =>
        isCode(Code.NotFound)(e) && (e as Error).message === "Cannot find conversation no-such-id",
    );
    await assert.rejects(
      ask(engine, {
        conversationId: mine.conversationId,
        parentId: other.messageId,
        prompt: "x",
      }, ctxOf("alice")),
      (e) =>
        isCode(Code.NotFound)(e) &&
        (e as Error).message ===
          `Cannot find message ${other.messageId} in conversation ${mine.conversationId}`,
    );
    await assert.rejects(
      ask(engine, { conversationId: mine.conversationId, prompt: "x" }, ctxOf("bob")),
      isCode(Code.NotFound),
    );
    await assert.rejects(
      ask(engine, { parentId: mine.messageId, prompt: "x" }, ctxOf("bob")),
      isCode(Code.NotFound),
    );
    assert.equal(await count(), 2);
  });
});

Deno.test("conversation calls are scoped to the caller and throw NotFound for other owners", async () => {
  await withEngine({}, async ({ engine }) => {
    const a = await ask(engine, { prompt: "alice's" }, ctxOf("alice"));
    const bob = ctxOf("bob");
    assert.deepEqual(await engine.listConversations(bob), []);
    assert.equal((await engine.listConversations(ctxOf("alice"))).length, 1);
    await assert.rejects(engine.getConversation(a.conversationId, bob), isCode(Code.NotFound));
    await assert.rejects(engine.getMessages(a.conversationId, null, bob), isCode(Code.NotFound));
    await assert.rejects(engine.getMessage(a.messageId, bob), isCode(Code.NotFound));
    await assert.rejects(
      engine.renameConversation(a.conversationId, "x", bob),
      isCode(Code.NotFound),
    );
    await assert.rejects(engine.deleteConversation(a.conversationId, bob), isCode(Code.NotFound));
    const alice = ctxOf("alice");
    const { conversation, message } = await engine.getMessage(a.messageId, alice);
    assert.equal(conversation.id, a.conversationId);
    assert.equal(message.content, a.text);
    const renamed = await engine.renameConversation(a.conversationId, "  New\ttitle ", alice);
    assert.equal(renamed.title, "New title");
    await assert.rejects(
      engine.renameConversation(a.conversationId, " ", alice),
      isCode(Code.InvalidArgument),
    );
    await assert.rejects(
      engine.renameConversation(a.conversationId, "t".repeat(301), alice),
      isCode(Code.InvalidArgument),
    );
    assert.equal(
      (await engine.renameConversation(a.conversationId, "t".repeat(300), alice)).title.length,
      300,
    );
    await assert.rejects(
      engine.getMessages(a.conversationId, "nope", alice),
      isCode(Code.NotFound),
    );
    await engine.deleteConversation(a.conversationId, alice);
    await assert.rejects(engine.getConversation(a.conversationId, alice), isCode(Code.NotFound));
  });
});

Deno.test("ask rejects an empty prompt and a prompt over the limit without storing anything", async () => {
  await withEngine({ maxPromptChars: 10 }, async ({ engine }) => {
    await assert.rejects(ask(engine, { prompt: " \n " }), isCode(Code.InvalidArgument));
    await assert.rejects(
      ask(engine, { prompt: "x".repeat(11) }),
      (e) => isCode(Code.ResourceExhausted)(e) && (e as AppError).reason === "payload_too_large",
    );
    assert.deepEqual(await engine.listConversations(ctxOf()), []);
  });
});

Deno.test("ask drops the oldest turns but keeps the system message when over the budget", async () => {
  const provider = new ScriptedProvider({ words: ["r"] });
  const counter = await tokenCounterFor("gpt-4o");
  const system: ChatMessage = { role: "system", content: "You are terse." };
  const turn = (i: number): ChatMessage[] => [
    { role: "user", content: `question number ${i}` },
    { role: "assistant", content: "r" },
  ];
  const prompt: ChatMessage = { role: "user", content: "question number 4" };
  // Room for the system message, the prompt and exactly two earlier turns.
  const budget = counter.countMessages([system, ...turn(2), ...turn(3), prompt]);
  await withEngine(
    { provider, systemPrompt: system.content, contextTokens: budget },
    async ({ engine }) => {
      let c = "new";
      for (let i = 0; i < 5; i++) {
        c = (await ask(engine, { conversationId: c, prompt: `question number ${i}` }))
          .conversationId;
      }
      assert.deepEqual(provider.requests[4].messages, [system, ...turn(2), ...turn(3), prompt]);
      assert.deepEqual(provider.requests[2].messages, [system, ...turn(0), ...turn(1), {
        role: "user",
        content: "question number 2",
      }]);
      const stored = await engine.getMessages(c, null, ctxOf());
      assert.equal(stored.length, 11, "truncation never touches the stored tree");
    },
  );
});

Deno.test("ask throws context_length_exceeded when system message and prompt exceed the budget", async () => {
  await withEngine(
    { systemPrompt: "a long system message here", contextTokens: 10 },
    async ({ engine }) => {
      await assert.rejects(
        ask(engine, { prompt: "hello" }),
        (e) =>
          isCode(Code.InvalidArgument)(e) && (e as AppError).reason === "context_length_exceeded",
      );
      assert.deepEqual(await engine.listConversations(ctxOf()), []);
    },
  );
});

Deno.test("two concurrent asks on the same parent give two complete siblings", async () => {
  await withEngine({ provider: new EchoProvider({ delayMs: 1 }) }, async ({ engine }) => {
    const first = await ask(engine, { prompt: "root" });
    const input = (p: string) => ({
      conversationId: first.conversationId,
      parentId: first.messageId,
      prompt: p,
    });
    const [x, y] = await Promise.all([ask(engine, input("x")), ask(engine, input("y"))]);
    assert.notEqual(x.messageId, y.messageId);
    const tree = await engine.getConversation(first.conversationId, ctxOf());
    const users = tree.messages.filter((m) => m.parentId === first.messageId);
    assert.deepEqual(users.map((m) => m.content).sort(), ["x", "y"]);
    for (const a of [x, y]) {
      const m = tree.messages.find((m) => m.id === a.messageId);
      assert.equal(m?.status, "complete");
      assert.equal(m?.content, a.text);
    }
    assert.equal(tree.messages.length, 6);
  });
});

Deno.test("ask stores the partial reply incomplete and throws Canceled when the signal aborts mid-stream", async () => {
  await withEngine({ provider: new EchoProvider({ delayMs: 20 }) }, async ({ engine, store }) => {
    const controller = new AbortController();
    let received = "";
    let messageId = "";
    await assert.rejects(
      (async () => {
        for await (const e of engine.ask({ prompt: "hi" }, ctxOf(ANONYMOUS, controller.signal))) {
          if (e.type === "start") messageId = e.messageId;
          if (e.type === "delta") {
            received += e.text;
            if (received.split(" ").length > 3) controller.abort();
          }
        }
      })(),
      isCode(Code.Canceled),
    );
    const m = await store.getMessage(messageId);
    assert.equal(m?.status, "incomplete");
    assert.equal(m?.content, received);
    assert.ok(received.length > 0);
  });
});

Deno.test("ask stores the partial reply incomplete when the consumer stops early", async () => {
  await withEngine({}, async ({ engine, store }) => {
    let messageId = "";
    for await (const e of engine.ask({ prompt: "hi" }, ctxOf())) {
      if (e.type === "start") messageId = e.messageId;
      if (e.type === "delta") break;
    }
    const m = await store.getMessage(messageId);
    assert.equal(m?.status, "incomplete");
    assert.equal(m?.content, "Echo ");
    // An empty reply is stored incomplete too.
    for await (const e of engine.ask({ prompt: "again" }, ctxOf())) {
      if (e.type === "start") {
        messageId = e.messageId;
        break;
      }
    }
    assert.deepEqual(
      [(await store.getMessage(messageId))?.status, (await store.getMessage(messageId))?.content],
      ["incomplete", ""],
    );
  });
});

Deno.test("ask stores the partial reply incomplete and rethrows when the provider fails mid-stream", async () => {
  const provider = new ScriptedProvider({ words: ["one ", "two ", "three"], failAfter: 2 });
  await withEngine({ provider }, async ({ engine, store, logs }) => {
    const events: AskEvent[] = [];
    await assert.rejects(
      (async () => {
        for await (const e of engine.ask({ prompt: "secret prompt text" }, ctxOf())) events.push(e);
      })(),
      (e) => isCode(Code.Unavailable)(e) && (e as AppError).reason === "upstream_error",
    );
    assert.deepEqual(events.map((e) => e.type), ["start", "delta", "delta"]);
    const start = events[0];
    if (start.type !== "start") return;
    const m = await store.getMessage(start.messageId);
    assert.equal(m?.status, "incomplete");
    assert.equal(m?.content, "one two ");
    assert.ok(logs.every((l) => !l.includes("secret prompt") && !l.includes("one two")));
  });
});

Deno.test("ask passes the parent's upstream ids when the provider is stateful", async () => {
  const provider = new ScriptedProvider({ stateful: true });
  await withEngine({ provider }, async ({ engine, store }) => {
    const first = await ask(engine, { prompt: "one" });
    assert.equal(provider.requests[0].upstreamParent, undefined);
    assert.deepEqual((await store.getMessage(first.messageId))?.upstream, {
      conversationId: "up-conv",
      messageId: "up-1",
    });
    const second = await ask(engine, { conversationId: first.conversationId, prompt: "two" });
    assert.deepEqual(provider.requests[1].upstreamParent, {
      conversationId: "up-conv",
      messageId: "up-1",
    });
    assert.equal(provider.requests[1].messages.length, 3);
    const user = (await store.getMessage(second.messageId))?.parentId;
    assert.equal(provider.requests[1].userMessageId, user);
  });
});

Deno.test("instructions become the root of a new conversation and replace it for one continuation", async () => {
  const provider = new ScriptedProvider();
  await withEngine({ provider, systemPrompt: "default" }, async ({ engine }) => {
    const first = await ask(engine, { prompt: "one", instructions: "Speak French." });
    assert.deepEqual(provider.requests[0].messages[0], {
      role: "system",
      content: "Speak French.",
    });
    await ask(engine, {
      conversationId: first.conversationId,
      prompt: "two",
      instructions: "Speak German.",
    });
    assert.deepEqual(provider.requests[1].messages[0], {
      role: "system",
      content: "Speak German.",
    });
    assert.equal(provider.requests[1].messages.length, 4);
    await ask(engine, { conversationId: first.conversationId, prompt: "three" });
    assert.deepEqual(provider.requests[2].messages[0], {
      role: "system",
      content: "Speak French.",
    });
    const path = await engine.getMessages(first.conversationId, null, ctxOf());
    assert.equal(path[0].content, "Speak French.");
  });
});

Deno.test("blank instructions count as none for new conversations and continuations", async () => {
  const provider = new ScriptedProvider();
  await withEngine({ provider, systemPrompt: "default" }, async ({ engine }) => {
    const first = await ask(engine, { prompt: "one", instructions: "  " });
    assert.deepEqual(provider.requests[0].messages[0], { role: "system", content: "default" });
    await ask(engine, { conversationId: first.conversationId, prompt: "two", instructions: "" });
    assert.deepEqual(provider.requests[1].messages[0], { role: "system", content: "default" });
  });
});

Deno.test("the engine continues a conversation when the database is closed and reopened", async () => {
  const dir = await Deno.makeTempDir({ prefix: "eb-engine-" });
  try {
    let store = await openSqliteStore(dir);
    let engine = createEngine({ store, provider: new EchoProvider(), logger: silentLogger });
    const first = await ask(engine, { prompt: "before restart" });
    await store.close();
    store = await openSqliteStore(dir);
    engine = createEngine({ store, provider: new EchoProvider(), logger: silentLogger });
    const next = await ask(engine, { conversationId: first.conversationId, prompt: "after" });
    assert.match(next.text, /I received 3 messages/);
    await store.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("chat streams a stateless answer and listModels asks the provider", async () => {
  await withEngine({}, async ({ engine }) => {
    assert.equal(engine.defaultModel, "echo");
    assert.equal(engine.passThrough, null);
    assert.deepEqual((await engine.listModels(ctxOf())).map((m) => m.id), ["echo"]);
    const events: ChatEvent[] = [];
    for await (const e of engine.chat({ messages: [{ role: "user", content: "hi" }] }, ctxOf())) {
      events.push(e);
    }
    assert.equal(events.at(-1)?.type, "done");
    assert.deepEqual(await engine.listConversations(ctxOf()), []);
    await assert.rejects(
      (async () => {
        for await (const _ of engine.chat({ messages: [] }, ctxOf())) { /* nothing */ }
      })(),
      isCode(Code.InvalidArgument),
    );
  });
});

/** The real ChatGPT web provider against a fake upstream, with one key and no retries. */
function chatGPTWebProvider(baseUrl: string): ChatGPTWebProvider {
  const pool = new KeyPool({
    keys: ["token-1"],
    attempts: 1,
    firstTokenTimeoutMs: 5000,
    idleTimeoutMs: 5000,
    logger: silentLogger,
  });
  return new ChatGPTWebProvider({ baseUrl, model: "auto", pool, logger: silentLogger });
}

Deno.test("ask starts a new upstream conversation with the whole path when the ChatGPT web upstream forgot it", async () => {
  const fake = await startChatGPTWebFake();
  const provider = chatGPTWebProvider(fake.url);
  try {
    await withEngine({ provider }, async ({ engine, store }) => {
      const first = await ask(engine, { prompt: "one" });
      const cid = first.conversationId;
      await ask(engine, { conversationId: cid, prompt: "two" });
      const upstreamBefore = fake.requests.at(-1)!.body!.conversation_id;
      assert.equal(typeof upstreamBefore, "string");

      fake.next(webErrorScript("conversation_not_found"));
      const third = await ask(engine, { conversationId: cid, prompt: "three" });
      const [refused, fresh] = fake.requests.slice(-2).map((r) => r.body!);
      assert.equal(refused.conversation_id, upstreamBefore);
      assert.equal(fresh.conversation_id, undefined, "a new upstream conversation");
      const sent = (fresh.messages as { author: { role: string }; content: { parts: string[] } }[])
        .map((m) => `${m.author.role}: ${m.content.parts[0]}`);
      assert.deepEqual(sent.filter((m) => m.startsWith("user")), [
        "user: one",
        "user: two",
        "user: three",
      ]);
      assert.equal(sent.length, 5, "the whole path: three prompts and two answers");
      assert.match(third.text, /^Heard 5 messages/);
      const stored = await store.getMessage(third.messageId);
      assert.equal(stored?.status, "complete");
      assert.notEqual(stored?.upstream?.conversationId, upstreamBefore);

      // The next turn continues in the new upstream conversation.
      await ask(engine, { conversationId: cid, prompt: "four" });
      const next = fake.requests.at(-1)!.body!;
      assert.equal(next.conversation_id, stored?.upstream?.conversationId);
      assert.equal(next.parent_message_id, stored?.upstream?.messageId);
      assert.equal((next.messages as unknown[]).length, 1);
    });
  } finally {
    await fake.close();
  }
});

Deno.test("ask does not start over when a stateful upstream refuses the call another way", async () => {
  const fake = await startChatGPTWebFake();
  const provider = chatGPTWebProvider(fake.url);
  try {
    await withEngine({ provider }, async ({ engine }) => {
      const first = await ask(engine, { prompt: "one" });
      fake.next(webErrorScript("invalid_body"));
      const before = fake.requests.length;
      await assert.rejects(
        ask(engine, { conversationId: first.conversationId, prompt: "two" }),
        isCode(Code.InvalidArgument),
      );
      assert.equal(fake.requests.length, before + 1, "one request, no second try");
    });
  } finally {
    await fake.close();
  }
});

Deno.test("settled resolves once an answer whose caller left has stored its partial reply, so the store can close after it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "eb-engine-" });
  try {
    const store = await openSqliteStore(dir);
    const engine = createEngine({
      store,
      provider: new EchoProvider({ delayMs: 50 }),
      logger: silentLogger,
    });
    await engine.settled(); // Nothing runs: at once.
    const controller = new AbortController();
    const it = engine.ask({ prompt: "one two three four" }, ctxOf(ANONYMOUS, controller.signal))
      [Symbol.asyncIterator]();
    let messageId = "";
    let received = "";
    while (received === "") {
      const r = await it.next();
      if (r.done) throw new Error("the answer ended early");
      if (r.value.type === "start") messageId = r.value.messageId;
      if (r.value.type === "delta") received += r.value.text;
    }
    // The caller is gone: it aborts and does not wait for the answer's end,
    // as a transport whose client left; the shutdown then closes the store.
    const pending = it.next().catch(() => {});
    controller.abort();
    await engine.settled();
    await store.close();
    await pending;
    const reopened = await openSqliteStore(dir);
    try {
      const m = await reopened.getMessage(messageId);
      assert.deepEqual([m?.status, m?.content], ["incomplete", received]);
    } finally {
      await reopened.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** A provider that records whether it was called. */
class RecordingProvider implements Provider {
  readonly name = "recording";
  readonly defaultModel = "gpt-4o";
  readonly stateful = false;
  calls = 0;

  async *stream(): AsyncGenerator<ChatEvent> {
    this.calls++;
    await Promise.resolve();
    yield { type: "done", model: "gpt-4o", finishReason: "stop" };
  }

  listModels(): Promise<ModelInfo[]> {
    return Promise.resolve([]);
  }
}

Deno.test("ask stores the user's message before the upstream call, and makes no call when the store refuses it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "eb-engine-" });
  const store = await openSqliteStore(dir, { busyTimeoutMs: 50 });
  // Another connection holds the write lock: the turn's transaction cannot start.
  const other = new DatabaseSync(join(dir, DATABASE_FILE));
  try {
    const provider = new RecordingProvider();
    const engine = createEngine({ store, provider, logger: silentLogger });
    other.exec("BEGIN IMMEDIATE");
    const events: AskEvent[] = [];
    await assert.rejects(
      (async () => {
        for await (const e of engine.ask({ prompt: "hello" }, ctxOf())) events.push(e);
      })(),
      (err: unknown) => err instanceof AppError && err.code === Code.Unavailable,
    );
    assert.equal(provider.calls, 0, "the upstream was called for a question not stored");
    assert.deepEqual(events, [], "nothing reached the client");
    other.exec("ROLLBACK");
    assert.deepEqual(await store.list(ANONYMOUS), []);
    // Once the lock is gone, the same ask is stored and answered.
    const answer = await ask(engine, { prompt: "hello" });
    assert.equal(provider.calls, 1);
    assert.equal((await store.getMessage(answer.messageId))?.status, "complete");
  } finally {
    other.close();
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});
