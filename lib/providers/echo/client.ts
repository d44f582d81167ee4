/**
 * The offline echo provider: the default when no API_KEY is set. It streams,
 * word by word, a deterministic reply that tells what context it received, so
 * a newcomer can watch the conversation tree work: the message count grows
 * turn by turn, and a branch shows fewer.
 * @module
 */

import { abortReason, AppError, Code } from "../../errors.ts";
import { tokenCounterFor } from "../../tokens.ts";
import type {
  CallContext,
  ChatEvent,
  ChatMessage,
  ChatRequest,
  ModelInfo,
  Provider,
} from "../provider.ts";

/** Options of {@link EchoProvider}. */
export interface EchoProviderOptions {
  /** The model it answers as. @default "echo" */
  model?: string;
  /** Milliseconds between two words. @default 0 */
  delayMs?: number;
}

/** Longest quoted prompt; longer ones are cut with an ellipsis. */
const QUOTE_CHARS = 200;

/**
 * The reply the echo provider gives to a context, e.g.
 * `Echo from the offline echo provider (no API_KEY set). I received 3 messages
 * (system, user, assistant, user): you said "hello".`
 */
export function echoReply(messages: readonly ChatMessage[]): string {
  const roles = messages.map((m) => m.role).join(", ");
  const last = [...messages].reverse().find((m) => m.role === "user")?.content ?? "";
  const flat = last.replace(/\s+/g, " ").trim();
  const quote = flat.length > QUOTE_CHARS ? `${flat.slice(0, QUOTE_CHARS)}…` : flat;
  const count = `${messages.length} message${messages.length === 1 ? "" : "s"}`;
  return `Echo from the offline echo provider (no API_KEY set). I received ${count} (${roles}): you said "${quote}".`;
}

/** Splits a text into words that keep their trailing spaces; joined, they give the text back. */
export function splitWords(text: string): string[] {
  return text.match(/\s*\S+\s*/g) ?? (text === "" ? [] : [text]);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortReason(signal));
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortReason(signal));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** The offline provider that echoes its context; see the module doc. */
export class EchoProvider implements Provider {
  /** Always "echo". */
  readonly name = "echo";
  /** It keeps no upstream state. */
  readonly stateful = false;
  /** The model it answers as. */
  readonly defaultModel: string;
  #delayMs: number;

  /** @param options model name and delay between words */
  constructor(options: EchoProviderOptions = {}) {
    this.defaultModel = options.model ?? "echo";
    this.#delayMs = options.delayMs ?? 0;
  }

  /** Streams the echo reply word by word, then `done` with counted usage. */
  async *stream(req: ChatRequest, ctx: CallContext): AsyncGenerator<ChatEvent> {
    if (req.messages.length === 0) {
      throw new AppError(Code.InvalidArgument, "Cannot answer: the request has no messages");
    }
    const model = req.model || this.defaultModel;
    const reply = echoReply(req.messages);
    const counter = await tokenCounterFor(model);
    for (const [i, word] of splitWords(reply).entries()) {
      if (ctx.signal.aborted) throw abortReason(ctx.signal);
      if (i > 0 && this.#delayMs > 0) await sleep(this.#delayMs, ctx.signal);
      yield { type: "delta", text: word };
    }
    if (ctx.signal.aborted) throw abortReason(ctx.signal);
    const promptTokens = counter.countMessages(req.messages);
    const completionTokens = counter.count(reply);
    yield {
      type: "done",
      model,
      finishReason: "stop",
      usage: { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens },
    };
  }

  /** Lists the one model, "echo" (or the configured name). */
  listModels(_ctx: CallContext): Promise<ModelInfo[]> {
    return Promise.resolve([{ id: this.defaultModel, ownedBy: "easybackend", created: 0 }]);
  }
}
