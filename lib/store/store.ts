/**
 * The store seam: conversations as trees of messages. Async even though
 * `node:sqlite` is synchronous, so a networked store fits the same seam later.
 * Every method that takes an `owner` only sees that owner's conversations.
 * @module
 */

import type { Role, UpstreamIds, Usage } from "../providers/provider.ts";

/** The owner of conversations made without a client token. */
export const ANONYMOUS = "anonymous";

/** The state of a message. */
export type MessageStatus = "complete" | "incomplete" | "in_progress";

/** One conversation's header. */
export interface Conversation {
  id: string;
  /** The owner principal (a token hash, or {@link ANONYMOUS}). */
  owner: string;
  title: string;
  /** The newest message (the one "continue" answers), or null when empty. */
  currentNode: string | null;
  /** Epoch milliseconds. */
  createdAt: number;
  /** Epoch milliseconds. */
  updatedAt: number;
}

/** A text's token count and the encoding it was counted with. */
export interface TokenCount {
  encoding: string;
  count: number;
}

/** One message of the tree. */
export interface Message {
  id: string;
  conversationId: string;
  /** Null for the root. */
  parentId: string | null;
  role: Role;
  content: string;
  /** The model that answered (assistant messages). */
  model: string | null;
  status: MessageStatus;
  /** Why the answer ended (assistant messages). */
  finishReason: string | null;
  usage: Usage | null;
  /** For stateful upstreams: the upstream's ids of this message. */
  upstream: UpstreamIds | null;
  /** Depth in the tree: the root is 0. */
  depth: number;
  /** The content's tokens, counted when written; null for rows older than the count. */
  tokens?: TokenCount | null;
  /** Epoch milliseconds. */
  createdAt: number;
}

/** Input of {@link ConversationStore.appendMessage}. */
export interface NewMessage {
  /** Our id; generated when absent. */
  id?: string;
  conversationId: string;
  parentId: string | null;
  role: Role;
  content: string;
  model?: string | null;
  /** @default "complete" */
  status?: MessageStatus;
  /** The content's tokens, stored so that context building need not recount them. */
  tokens?: TokenCount | null;
}

/** Input of {@link ConversationStore.finishMessage}. */
export interface FinishedMessage {
  content: string;
  status: "complete" | "incomplete";
  model?: string | null;
  finishReason?: string | null;
  usage?: Usage | null;
  upstream?: UpstreamIds | null;
  /** The content's tokens. */
  tokens?: TokenCount | null;
}

/** Input of {@link ConversationStore.startTurn}: the prompt and the reply placeholder. */
export interface NewTurn {
  /** The conversation to continue; ignored when `newConversation` is set. */
  conversationId?: string;
  /** Creates a conversation first, with an optional root system message. */
  newConversation?: { owner: string; title: string; system?: string };
  /** The message the prompt answers; null: the root (or the new system message). */
  parentId: string | null;
  /** The user's prompt. */
  prompt: string;
  /** The prompt's tokens. */
  promptTokens?: TokenCount | null;
  /** The new system message's tokens. */
  systemTokens?: TokenCount | null;
  /** The model of the reply placeholder. */
  model: string;
  /**
   * The new rows' ids, when the caller chose them (the engine does, so it
   * needs nothing else of the stored rows). @default new UUIDv7 ids
   */
  ids?: TurnIds;
}

/** The ids of a turn's new rows. */
export interface TurnIds {
  /** The new conversation's id (with `newConversation` only). */
  conversationId?: string;
  userMessageId: string;
  assistantMessageId: string;
}

/** What {@link ConversationStore.startTurn} stored. */
export interface StartedTurn {
  user: Message;
  /** The reply placeholder, `in_progress`. */
  assistant: Message;
  /** Resolves once the turn is on disk; it was committed (visible) already. */
  durable: Promise<void>;
}

/** Options of {@link ConversationStore.list}. */
export interface ListOptions {
  /** At most this many, newest first. @default 50 */
  limit?: number;
  /** Only conversations updated before this epoch ms (paging). */
  before?: number;
}

/** The async conversation store. */
export interface ConversationStore {
  /** Creates an empty conversation. */
  createConversation(input: { id?: string; owner: string; title?: string }): Promise<Conversation>;
  /** One conversation of this owner, or null. */
  getConversation(id: string, owner: string): Promise<Conversation | null>;
  /** Appends a message and makes it the conversation's current node. */
  appendMessage(input: NewMessage): Promise<Message>;
  /**
   * Stores a turn's start in one transaction: the new conversation (if asked),
   * its system message, the user message and the reply placeholder. Resolves
   * once committed; `durable` resolves once on disk, so a caller can start
   * other work during the fsync and await it before acknowledging anything.
   */
  startTurn(turn: NewTurn): Promise<StartedTurn>;
  /**
   * Sets the final text and status of a message (written in place while
   * streaming); resolves once durable. It does not read the row back: the
   * caller has what it wrote (read it with {@link getMessage} if needed).
   * @throws {AppError} NotFound when there is no such message
   */
  finishMessage(id: string, done: FinishedMessage): Promise<void>;
  /**
   * Keeps the text streamed so far of a reply still `in_progress`, so that a
   * crash mid-answer leaves it (marked `incomplete` at the next start). It
   * resolves once committed, without waiting for the disk: the next durable
   * write's fsync covers it. A message no longer in progress is left as is.
   */
  saveDraft(id: string, content: string): Promise<void>;
  /** One message, or null. */
  getMessage(id: string): Promise<Message | null>;
  /** The path root → … → this message, in time proportional to its depth. */
  path(messageId: string): Promise<Message[]>;
  /** Every message of a conversation, oldest first. */
  messages(conversationId: string): Promise<Message[]>;
  /** This owner's conversations, most recently updated first. */
  list(owner: string, options?: ListOptions): Promise<Conversation[]>;
  /** Renames a conversation; false when it is not this owner's. */
  rename(id: string, owner: string, title: string): Promise<boolean>;
  /** Deletes a conversation and its messages; false when it is not this owner's. */
  delete(id: string, owner: string): Promise<boolean>;
  /** Closes the database. */
  close(): Promise<void>;
}
