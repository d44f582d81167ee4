import * as grpc from "@grpc/grpc-js";
import assert from "node:assert/strict";
import { EchoProvider } from "../../lib/providers/echo/client.ts";
import type {
  CallContext,
  ChatEvent,
  ChatRequest,
  ModelInfo,
  Provider,
} from "../../lib/providers/provider.ts";
import { silentLogger } from "../../lib/log.ts";
import { OpenAIProvider } from "../../lib/providers/openai/client.ts";
import { KeyPool } from "../../lib/providers/pool.ts";
import { chunk, sse, startOpenAIFake } from "../_fakes/openai_upstream.ts";
import { eventually, type GrpcFixture, startGrpc } from "./grpc_client.ts";

interface TypedEvent {
  event: "start" | "delta" | "done";
  start: { conversationId: string; messageId: string };
  delta: { text: string };
}

/** Starts a typed Ask and resolves with the call once its first delta arrived. */
function askUntilFirstDelta(
  srv: GrpcFixture,
  options: grpc.CallOptions = {},
): Promise<
  { call: grpc.ClientReadableStream<TypedEvent>; client: grpc.Client; messageId: string }
> {
  const client = srv.typed();
  const call: grpc.ClientReadableStream<TypedEvent> = client.Ask(
    { prompt: "tell me a long story" },
    new grpc.Metadata(),
    options,
  );
  return new Promise((resolve, reject) => {
    let messageId = "";
    const onData = (ev: TypedEvent) => {
      if (ev.event === "start") messageId = ev.start.messageId;
      if (ev.event === "delta") {
        call.off("data", onData);
        call.off("error", reject);
        resolve({ call, client, messageId });
      }
    };
    call.on("data", onData);
    call.on("error", reject);
  });
}

/** Resolves with the status code the call ends with. */
function finalCode(call: grpc.ClientReadableStream<unknown>): Promise<number> {
  return new Promise((resolve) => {
    call.on("data", () => {});
    call.on("error", (err: grpc.ServiceError) => resolve(err.code));
    call.on("end", () => resolve(grpc.status.OK));
  });
}

/**
 * The status code a call ends with, closing its client as soon as it has it.
 * The server's GOAWAY follows a call's end by 100 ms when it closes; a Deno
 * process that is the client of that GOAWAY can abort inside nghttp2
 * (denoland/deno#36788: exit 134 on `find_stream_on_goaway_func`, or 139).
 * The server side is not affected, so the tests' in-process clients leave
 * before it arrives.
 */
async function finalCodeThenLeave(
  call: grpc.ClientReadableStream<unknown>,
  client: grpc.Client,
): Promise<number> {
  const code = await finalCode(call);
  client.close();
  return code;
}

async function statusOf(srv: GrpcFixture, messageId: string): Promise<string | undefined> {
  return (await srv.store.getMessage(messageId))?.status;
}

Deno.test("a client cancel mid-stream stops the answer and stores it incomplete", async () => {
  await using srv = await startGrpc({ provider: new EchoProvider({ delayMs: 40 }) });
  const { call, messageId } = await askUntilFirstDelta(srv);
  const code = finalCode(call);
  call.cancel();
  assert.equal(await code, grpc.status.CANCELLED);
  assert.ok(await eventually(async () => (await statusOf(srv, messageId)) === "incomplete"));
  const stored = await srv.store.getMessage(messageId);
  assert.ok(stored!.content.length > 0, "the partial reply is kept");
  assert.ok(!stored!.content.includes('story".'), "the reply was cut short");
});

Deno.test("a client deadline ends the call DEADLINE_EXCEEDED and stores the reply incomplete", async () => {
  await using srv = await startGrpc({ provider: new EchoProvider({ delayMs: 40 }) });
  const { call, messageId } = await askUntilFirstDelta(srv, { deadline: Date.now() + 300 });
  assert.equal(await finalCode(call), grpc.status.DEADLINE_EXCEEDED);
  assert.ok(await eventually(async () => (await statusOf(srv, messageId)) === "incomplete"));
});

Deno.test("close lets a running answer finish when no force signal fires", async () => {
  await using srv = await startGrpc({ provider: new EchoProvider({ delayMs: 10 }) });
  const { call, client, messageId } = await askUntilFirstDelta(srv);
  const code = finalCodeThenLeave(call, client);
  const closed = srv.handle.close();
  assert.equal(await code, grpc.status.OK);
  await closed;
  assert.equal(await statusOf(srv, messageId), "complete");
});

Deno.test("close aborts running answers with UNAVAILABLE when its signal fires", async () => {
  await using srv = await startGrpc({ provider: new EchoProvider({ delayMs: 50 }) });
  const { call, client, messageId } = await askUntilFirstDelta(srv);
  const code = finalCodeThenLeave(call, client);
  const started = Date.now();
  await srv.handle.close(AbortSignal.timeout(100));
  assert.ok(Date.now() - started < 900, "close does not wait for the whole answer");
  assert.equal(await code, grpc.status.UNAVAILABLE);
  assert.ok(await eventually(async () => (await statusOf(srv, messageId)) === "incomplete"));
});

/** An upstream that could stream without end; it counts how far it was pulled. */
class EndlessProvider implements Provider {
  readonly name = "endless";
  readonly defaultModel = "endless";
  readonly stateful = false;
  pulled = 0;
  // Words, not one long run of letters: the engine counts the tokens of the
  // stored partial reply, and BPE over one 200 kB "word" takes many seconds.
  #piece = "word ".repeat(800);

  async *stream(_req: ChatRequest, ctx: CallContext): AsyncGenerator<ChatEvent> {
    for (let i = 0; i < 100_000 && !ctx.signal.aborted; i++) {
      this.pulled++;
      yield { type: "delta", text: this.#piece };
      if (i % 64 === 0) await new Promise((r) => setTimeout(r, 0));
    }
    yield { type: "done", model: this.defaultModel, finishReason: "stop" };
  }

  listModels(): Promise<ModelInfo[]> {
    return Promise.resolve([]);
  }
}

Deno.test("a client that stops reading holds the server back instead of filling memory", async () => {
  const provider = new EndlessProvider();
  await using srv = await startGrpc({ provider });
  const { call } = await askUntilFirstDelta(srv);
  call.pause();
  await new Promise((r) => setTimeout(r, 400));
  const whilePaused = provider.pulled;
  await new Promise((r) => setTimeout(r, 200));
  assert.ok(whilePaused < 2_000, `the upstream was pulled ${whilePaused} times`);
  assert.equal(provider.pulled, whilePaused, "nothing is pulled while the client does not read");
  const code = finalCode(call);
  call.cancel();
  call.resume();
  assert.equal(await code, grpc.status.CANCELLED);
});

Deno.test("a client cancel closes the upstream connection within a second", async () => {
  await using fake = await startOpenAIFakeDisposable();
  const pool = new KeyPool({
    keys: ["sk-test"],
    attempts: 1,
    firstTokenTimeoutMs: 5000,
    idleTimeoutMs: 5000,
    logger: silentLogger,
  });
  const provider = new OpenAIProvider({
    baseUrl: fake.url,
    model: "gpt-4o-mini",
    pool,
    logger: silentLogger,
  });
  fake.next({
    steps: [
      sse(chunk({ role: "assistant", content: "" })),
      sse(chunk({ content: "Partial " })),
      sse(chunk({ content: "answer" })),
    ],
    stall: true,
  });
  await using srv = await startGrpc({ provider });
  const { call, messageId } = await askUntilFirstDelta(srv);
  const code = finalCode(call);
  const canceledAt = Date.now();
  call.cancel();
  assert.equal(await code, grpc.status.CANCELLED);
  assert.ok(await eventually(() => Promise.resolve(fake.lastAbortedAt() !== null), 1000));
  assert.ok(fake.lastAbortedAt()! - canceledAt < 1000, "the upstream saw the client leave");
  assert.ok(await eventually(async () => (await statusOf(srv, messageId)) === "incomplete"));
  assert.match((await srv.store.getMessage(messageId))!.content, /^Partial/);
});

async function startOpenAIFakeDisposable() {
  const fake = await startOpenAIFake();
  return Object.assign(fake, { [Symbol.asyncDispose]: () => fake.close() });
}
