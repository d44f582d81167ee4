/**
 * The conversation engine: resolves the conversation and parent, stores the
 * prompt, builds the context within the token budget, streams the provider and
 * stores the reply (complete, or incomplete when cut short). Every transport
 * calls it; it reads the store and provider only through their interfaces.
 * @module
 */

import { abortReason, AppError, Code } from "../errors.ts";
import type { Logger } from "../log.ts";
import type {
  CallContext,
  ChatEvent,
  ChatMessage,
  ChatRequest,
  Provider,
  UpstreamIds,
  Usage,
} from "../providers/provider.ts";
import type {
  Conversation,
  ConversationStore,
  ListOptions,
  Message,
  TokenCount,
  TurnIds,
} from "../store/store.ts";
import { buildContext, type BuiltContext, type HistoryMessage } from "./context.ts";
import { encodingForModel, tokenCounterFor } from "../tokens.ts";
import { checkMessagesChars, limitPassThrough } from "./prompt_size.ts";
import { newRowId } from "../store/row_id.ts";
import { streamOrStartOver } from "./start_over.ts";
import type { AskEvent, AskInput, ConversationTree, Engine } from "./types.ts";

/** Options of {@link createEngine}. */
export interface EngineOptions {
  store: ConversationStore;
  provider: Provider;
  logger: Logger;
  /** The default model. @default the provider's default model */
  model?: string;
  /** The root system message of every new conversation. @default "" (none) */
  systemPrompt?: string;
  /** Prompt budget in tokens; 0: from the model. @default 0 */
  contextTokens?: number;
  /** Largest prompt in characters. @default 100000 */
  maxPromptChars?: number;
  /**
   * While a reply streams, its text so far is saved every this many ms (one
   * timer for all answers), so that a crash loses at most about this much of
   * it; 0: only at the end.
   * @default 0
   */
  draftIntervalMs?: number;
}

/** Longest conversation title made from a prompt, in characters. */
const TITLE_CHARS = 60;
/** Longest title a client may set, in characters. */
const MAX_TITLE_CHARS = 300;

/** A conversation title made from the first prompt. */
export function titleFromPrompt(prompt: string): string {
  const flat = prompt.replace(/\s+/g, " ").trim();
  return flat.length > TITLE_CHARS ? `${flat.slice(0, TITLE_CHARS - 1).trimEnd()}…` : flat;
}

function isNew(conversationId: string | null | undefined): boolean {
  return !conversationId || conversationId === "new";
}

function notFoundConversation(id: string): AppError {
  return new AppError(Code.NotFound, `Cannot find conversation ${id}`);
}

function notFoundMessage(id: string, conversationId: string): AppError {
  return new AppError(Code.NotFound, `Cannot find message ${id} in conversation ${conversationId}`);
}

/** The `instructions` of an ask; blank ones count as none. */
function instructionsOf(input: AskInput): string | null {
  return input.instructions && input.instructions.trim() !== "" ? input.instructions : null;
}

function toHistory(m: Message): HistoryMessage {
  return { role: m.role, content: m.content, tokens: m.tokens ?? null };
}

/** Where an ask starts: the conversation (null: new) and the path to the parent. */
interface Resolved {
  conversation: Conversation | null;
  path: Message[];
  /** The system message of a new conversation, stored at its root. */
  newSystem: string;
}

/** The engine, and what only the composition root uses. */
export interface CoreEngine extends Engine {
  /**
   * Resolves once no ask is running: every answer started so far has stored
   * its end (complete or incomplete). The shutdown waits for it before the
   * store closes, because a transport's call may end (the client left) while
   * its answer still writes the partial reply.
   */
  settled(): Promise<void>;
}

/** Creates the engine. */
export function createEngine(options: EngineOptions): CoreEngine {
  const { store, provider } = options;
  const running = new RunningCount();
  const defaultModel = options.model || provider.defaultModel;
  const maxPromptChars = options.maxPromptChars ?? 100_000;
  const drafts = (options.draftIntervalMs ?? 0) > 0 ? new Ticker(options.draftIntervalMs!) : null;

  async function ownConversation(id: string, ctx: CallContext): Promise<Conversation> {
    const conversation = await store.getConversation(id, ctx.principal);
    if (conversation === null) throw notFoundConversation(id);
    return conversation;
  }

  async function findMessage(
    messageId: string,
    ctx: CallContext,
  ): Promise<{ conversation: Conversation; message: Message }> {
    const message = await store.getMessage(messageId);
    const conversation = message &&
      await store.getConversation(message.conversationId, ctx.principal);
    if (!message || !conversation) {
      throw new AppError(Code.NotFound, `Cannot find message ${messageId}`);
    }
    return { conversation, message };
  }

  async function resolve(input: AskInput, ctx: CallContext): Promise<Resolved> {
    if (isNew(input.conversationId)) {
      if (!input.parentId || input.parentId === "new") {
        const newSystem = instructionsOf(input) ?? options.systemPrompt ?? "";
        return { conversation: null, path: [], newSystem };
      }
      // A parent id alone (a Responses `previous_response_id`) names its conversation.
      const { conversation, message } = await findMessage(input.parentId, ctx);
      return { conversation, path: await store.path(message.id), newSystem: "" };
    }
    const conversation = await ownConversation(input.conversationId!, ctx);
    const parentId = input.parentId || conversation.currentNode;
    if (parentId === null) return { conversation, path: [], newSystem: "" };
    const parent = await store.getMessage(parentId);
    if (parent === null || parent.conversationId !== conversation.id) {
      throw notFoundMessage(parentId, conversation.id);
    }
    return { conversation, path: await store.path(parent.id), newSystem: "" };
  }

  /** The history sent upstream, with `instructions` replacing the system message. */
  function history(resolved: Resolved, instructions: string | null): HistoryMessage[] {
    if (resolved.conversation === null) {
      return resolved.newSystem ? [{ role: "system", content: resolved.newSystem }] : [];
    }
    const chat = resolved.path.map(toHistory);
    if (instructions === null) return chat;
    const rest = chat.length > 0 && chat[0].role === "system" ? chat.slice(1) : chat;
    return [{ role: "system", content: instructions }, ...rest];
  }

  function validate(input: AskInput): void {
    if (typeof input.prompt !== "string" || input.prompt.trim() === "") {
      throw new AppError(Code.InvalidArgument, "Cannot ask: the prompt is empty");
    }
    if (input.prompt.length > maxPromptChars) {
      throw new AppError(
        Code.ResourceExhausted,
        `Cannot ask: the prompt has ${input.prompt.length} characters, more than ${maxPromptChars}`,
        { reason: "payload_too_large" },
      );
    }
  }

  /**
   * Stores the new conversation (if any), its system message, the user message
   * and the reply placeholder in one transaction, with the token counts that
   * context building made (nothing is counted twice).
   */
  function storeTurn(
    input: AskInput,
    resolved: Resolved,
    context: BuiltContext,
    ctx: CallContext,
    ids: TurnIds,
  ) {
    const parentId = resolved.path.at(-1)?.id ?? null;
    const model = input.model || defaultModel;
    const { encoding } = context;
    const promptTokens = { encoding, count: context.promptTokens };
    if (resolved.conversation !== null) {
      return store.startTurn({
        conversationId: resolved.conversation.id,
        parentId,
        prompt: input.prompt,
        promptTokens,
        model,
        ids,
      });
    }
    return store.startTurn({
      ids,
      newConversation: {
        owner: ctx.principal,
        title: titleFromPrompt(input.prompt),
        system: resolved.newSystem,
      },
      systemTokens: resolved.newSystem && context.systemTokens !== null
        ? { encoding, count: context.systemTokens }
        : null,
      parentId: null,
      prompt: input.prompt,
      promptTokens,
      model,
    });
  }

  /** The upstream ids to continue from, for stateful providers. */
  function upstreamParent(resolved: Resolved): UpstreamIds | undefined {
    if (!provider.stateful) return undefined;
    const parent = resolved.path.at(-1);
    return parent?.role === "assistant" && parent.upstream ? parent.upstream : undefined;
  }

  async function* ask(input: AskInput, ctx: CallContext): AsyncGenerator<AskEvent> {
    running.enter();
    try {
      validate(input);
      if (ctx.signal.aborted) throw abortReason(ctx.signal);
      const model = input.model || defaultModel;
      // The path, its context and the request go once the upstream call has
      // them (below): a long conversation's rows are not kept per stream.
      let resolved: Resolved | null = await resolve(input, ctx);
      const prompt: ChatMessage = { role: "user", content: input.prompt };
      let context: BuiltContext | null = await buildContext(
        history(resolved, instructionsOf(input)),
        prompt,
        {
          model,
          contextTokens: options.contextTokens ?? 0,
        },
      );
      // The ids are chosen here: the engine needs nothing else of the rows.
      const ids: TurnIds = {
        conversationId: resolved.conversation?.id ?? newRowId(),
        userMessageId: newRowId(),
        assistantMessageId: newRowId(),
      };
      // The user's message is stored (committed) before the upstream call; the
      // call then runs while the store syncs it to disk.
      const { durable } = await storeTurn(input, resolved, context, ctx, ids);
      const conversationId = ids.conversationId!;
      const messageId = ids.assistantMessageId;
      const log = ctx.logger.child({ conversationId, messageId });
      const promptTokens = context.tokens;
      log.debug("ask started", { promptTokens, dropped: context.dropped });
      let req: ChatRequest | null = {
        model,
        messages: context.messages,
        upstreamParent: upstreamParent(resolved),
        userMessageId: ids.userMessageId,
      };
      let text = "";
      let finished = false;
      // The text so far goes to the store every draftIntervalMs while it
      // streams (one timer shared by every answer, joined at the first text),
      // so that a crash keeps it; the end (complete or incomplete) is written
      // as always. An answer shorter than the interval costs no timer of its own.
      let savedLength = 0;
      let drafting = false;
      const saveDraft = () => {
        if (text.length === savedLength) return;
        savedLength = text.length;
        store.saveDraft(messageId, text).catch((err) =>
          log.warn("cannot save the reply's text so far", { err })
        );
      };
      const stopDrafts = () => {
        if (drafting) drafts?.delete(saveDraft);
        drafting = false;
      };
      // Nothing reaches the client (not even `start`) before the user's
      // message is on disk. One controller follows the call's signal through a listener (removed at
      // the end) rather than an `AbortSignal.any` chain per ask.
      const upstream = new AbortController();
      const follow = () => upstream.abort(ctx.signal.reason);
      if (ctx.signal.aborted) follow();
      else ctx.signal.addEventListener("abort", follow, { once: true });
      const callCtx = { ...ctx, signal: upstream.signal };
      const events = (req.upstreamParent
        ? streamOrStartOver(provider, req, callCtx)
        : provider.stream(req, callCtx))[Symbol.asyncIterator]();
      resolved = null;
      context = null;
      req = null;
      let next: Promise<IteratorResult<ChatEvent>> | null = events.next();
      let closed = false;
      next.catch(() => {});
      try {
        await durable;
        yield {
          type: "start",
          conversationId,
          userMessageId: ids.userMessageId,
          messageId,
          model,
        };
        let done: Extract<ChatEvent, { type: "done" }> | null = null;
        while (next !== null) {
          const r: IteratorResult<ChatEvent> = await next;
          next = null;
          if (r.done) {
            break;
          }
          const event = r.value;
          if (event.type === "done") {
            done = event;
            stopDrafts();
            // Release the upstream connection before the reply's fsync.
            closed = true;
            await events.return?.().catch(() => {});
            break;
          }
          if (event.text !== "") {
            text += event.text;
            if (!drafting && drafts !== null) {
              drafting = true;
              drafts.add(saveDraft);
            }
            yield { type: "delta", text: event.text };
          }
          next = events.next();
        }
        if (done === null) {
          if (ctx.signal.aborted) {
            throw abortReason(ctx.signal);
          }
          throw new AppError(
            Code.Unavailable,
            "Cannot finish the answer: the upstream stopped early",
            {
              reason: "upstream_error",
            },
          );
        }
        const { usage, tokens } = await replyTokens(done, model, promptTokens, text);
        await store.finishMessage(messageId, {
          content: text,
          status: "complete",
          model: done.model || model,
          finishReason: done.finishReason,
          usage,
          upstream: done.upstreamIds ?? null,
          tokens,
        });
        finished = true;
        // The observed decorator writes the one info line per answer; this is detail.
        log.debug("ask done", { model: done.model || model, tokens: usage.totalTokens });
        yield {
          type: "done",
          conversationId,
          messageId,
          model: done.model || model,
          finishReason: done.finishReason,
          usage,
        };
      } catch (err) {
        const error = ctx.signal.aborted && !(err instanceof AppError)
          ? abortReason(ctx.signal)
          : AppError.from(err);
        log.warn("ask failed", { code: Code[error.code], reason: error.reason, err: error.cause });
        throw error;
      } finally {
        stopDrafts();
        // Still waiting for the upstream (the fsync failed): stop it, do not wait.
        if (!closed) {
          if (next !== null) {
            upstream.abort();
          }
          await events.return?.().catch(() => {});
        }
        ctx.signal.removeEventListener("abort", follow);
        if (!finished) {
          await storeIncomplete(messageId, text, log);
        }
      }
    } finally {
      running.leave();
    }
  }

  async function storeIncomplete(id: string, text: string, log: Logger): Promise<void> {
    try {
      await store.finishMessage(id, { content: text, status: "incomplete" });
    } catch (err) {
      log.error("cannot store the incomplete reply", { err });
    }
  }

  /**
   * The reply's usage and its stored token count. When the upstream reports
   * usage, its `completionTokens` is stored as the reply's count (the
   * upstream's figure, filed under the asked model's encoding so that the next
   * context build reuses it; reasoning tokens make it an over- rather than an
   * undercount) and nothing is counted here; otherwise the reply is counted
   * once, for both.
   */
  async function replyTokens(
    done: Extract<ChatEvent, { type: "done" }>,
    model: string,
    promptTokens: number,
    text: string,
  ): Promise<{ usage: Usage; tokens: TokenCount }> {
    if (done.usage) {
      const encoding = encodingForModel(model);
      return { usage: done.usage, tokens: { encoding, count: done.usage.completionTokens } };
    }
    const counter = await tokenCounterFor(model);
    const completionTokens = counter.count(text);
    return {
      usage: { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens },
      tokens: { encoding: counter.encoding, count: completionTokens },
    };
  }

  return {
    ask,
    settled: () => running.settled(),
    defaultModel,
    passThrough: provider.passThrough
      ? limitPassThrough(provider.passThrough, maxPromptChars)
      : null,
    listConversations(ctx: CallContext, listOptions?: ListOptions) {
      return store.list(ctx.principal, listOptions);
    },
    async getConversation(id: string, ctx: CallContext): Promise<ConversationTree> {
      const conversation = await ownConversation(id, ctx);
      return { conversation, messages: await store.messages(id) };
    },
    async getMessages(conversationId: string, messageId: string | null, ctx: CallContext) {
      const conversation = await ownConversation(conversationId, ctx);
      const id = messageId || conversation.currentNode;
      if (id === null) return [];
      const message = await store.getMessage(id);
      if (message === null || message.conversationId !== conversation.id) {
        throw notFoundMessage(id, conversation.id);
      }
      return await store.path(id);
    },
    getMessage: findMessage,
    async renameConversation(id: string, title: string, ctx: CallContext) {
      const clean = title.replace(/\s+/g, " ").trim();
      if (clean === "") {
        throw new AppError(
          Code.InvalidArgument,
          "Cannot rename the conversation: the title is empty",
        );
      }
      if (clean.length > MAX_TITLE_CHARS) {
        throw new AppError(
          Code.InvalidArgument,
          `Cannot rename the conversation: the title has ${clean.length} characters, more than ${MAX_TITLE_CHARS}`,
        );
      }
      if (!await store.rename(id, ctx.principal, clean)) throw notFoundConversation(id);
      return await ownConversation(id, ctx);
    },
    async deleteConversation(id: string, ctx: CallContext) {
      if (!await store.delete(id, ctx.principal)) throw notFoundConversation(id);
    },
    listModels(ctx: CallContext) {
      return provider.listModels(ctx);
    },
    async *chat(req: { model?: string | null; messages: ChatMessage[] }, ctx: CallContext) {
      if (req.messages.length === 0) {
        throw new AppError(Code.InvalidArgument, "Cannot answer: the request has no messages");
      }
      checkMessagesChars(req.messages, maxPromptChars);
      yield* provider.stream({
        model: req.model || defaultModel,
        messages: req.messages,
        userMessageId: crypto.randomUUID(),
      }, ctx);
    },
  };
}

/**
 * Calls every added function every `intervalMs`, on one timer that runs only
 * while something is added (so thousands of streaming answers share it).
 */
class Ticker {
  readonly #intervalMs: number;
  readonly #calls = new Set<() => void>();
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(intervalMs: number) {
    this.#intervalMs = intervalMs;
  }

  add(fn: () => void): void {
    this.#calls.add(fn);
    this.#timer ??= setInterval(() => {
      for (const call of this.#calls) call();
    }, this.#intervalMs);
  }

  delete(fn: () => void): void {
    this.#calls.delete(fn);
    if (this.#calls.size === 0 && this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }
}

/** How many calls run, and a promise for the moment none does. */
class RunningCount {
  #count = 0;
  #idle: PromiseWithResolvers<void> | null = null;

  enter(): void {
    this.#count++;
  }

  leave(): void {
    if (--this.#count > 0 || this.#idle === null) return;
    this.#idle.resolve();
    this.#idle = null;
  }

  settled(): Promise<void> {
    if (this.#count === 0) return Promise.resolve();
    this.#idle ??= Promise.withResolvers<void>();
    return this.#idle.promise;
  }
}
