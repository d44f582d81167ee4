/**
 * The engine's contract with the transports: every transport is a thin adapter
 * from its wire format to these calls and back.
 * @module
 */

import type {
  CallContext,
  ChatEvent,
  ChatMessage,
  ModelInfo,
  PassThrough,
  Usage,
} from "../providers/provider.ts";
import type { Conversation, ListOptions, Message } from "../store/store.ts";

/** One question. */
export interface AskInput {
  /** A conversation id; empty, null or "new" starts a new conversation. */
  conversationId?: string | null;
  /** The message to answer from; empty or null continues from the latest message. */
  parentId?: string | null;
  /** The user's prompt; must not be empty. */
  prompt: string;
  /** A model other than the default. */
  model?: string | null;
  /**
   * A system message for a new conversation, or (Responses `instructions`)
   * one that replaces the stored one for this call only.
   */
  instructions?: string | null;
}

/** What `ask` streams. */
export type AskEvent =
  | {
    /** First: the ids are known and the user's message is stored. */
    type: "start";
    conversationId: string;
    /** The stored user message. */
    userMessageId: string;
    /** The assistant message that is being written. */
    messageId: string;
    model: string;
  }
  | { type: "delta"; text: string }
  | {
    /** Last, on success: the reply is stored complete. */
    type: "done";
    conversationId: string;
    /** The new assistant message: the `parent_id` for the next question. */
    messageId: string;
    model: string;
    finishReason: string;
    usage: Usage | null;
  };

/** A conversation with all its messages. */
export interface ConversationTree {
  conversation: Conversation;
  messages: Message[];
}

/** The conversation engine. Failures are thrown as `AppError`. */
export interface Engine {
  /**
   * Asks one question. Yields `start`, deltas, then `done`; throws an AppError
   * on failure (the partial reply is then stored `incomplete`). Stopping the
   * iteration early or aborting `ctx.signal` stops the upstream call.
   */
  ask(input: AskInput, ctx: CallContext): AsyncIterable<AskEvent>;
  /** The caller's conversations. */
  listConversations(ctx: CallContext, options?: ListOptions): Promise<Conversation[]>;
  /** One conversation with its whole tree; NotFound when it is not the caller's. */
  getConversation(id: string, ctx: CallContext): Promise<ConversationTree>;
  /**
   * The path root → message. With no message id, the path to the conversation's
   * current node. NotFound when either is unknown or not the caller's.
   */
  getMessages(
    conversationId: string,
    messageId: string | null,
    ctx: CallContext,
  ): Promise<Message[]>;
  /** One message with its conversation, by message id alone (the Responses API). */
  getMessage(
    messageId: string,
    ctx: CallContext,
  ): Promise<{ conversation: Conversation; message: Message }>;
  /** Renames a conversation; NotFound when it is not the caller's. */
  renameConversation(id: string, title: string, ctx: CallContext): Promise<Conversation>;
  /** Deletes a conversation; NotFound when it is not the caller's. */
  deleteConversation(id: string, ctx: CallContext): Promise<void>;
  /** The models the upstream offers. */
  listModels(ctx: CallContext): Promise<ModelInfo[]>;
  /**
   * One stateless answer (nothing stored), for `/v1/chat/completions` on
   * upstreams that have no raw pass-through. Retries and timeouts as for `ask`.
   */
  chat(
    req: { model?: string | null; messages: ChatMessage[] },
    ctx: CallContext,
  ): AsyncIterable<ChatEvent>;
  /**
   * The raw OpenAI Chat Completions pass-through, when the upstream speaks that
   * format (the `openai` provider); null otherwise (use {@link Engine.chat}).
   */
  readonly passThrough: PassThrough | null;
  /** The default model. */
  readonly defaultModel: string;
}
