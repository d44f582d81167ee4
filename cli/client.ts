/**
 * The seam between the terminal client's user interface (one-shot and REPL)
 * and the four wire protocols: every protocol file exports a {@link ChatClient}.
 * Failures are thrown as `AppError` with a one-line, user-facing message.
 * @module
 */

import type { ClientProtocol } from "./args.ts";

/** One question. */
export interface AskRequest {
  prompt: string;
  /** Null starts a new conversation. */
  conversationId: string | null;
  /** Null continues from the conversation's latest message. */
  parentId: string | null;
  /** Null asks the server's default model. */
  model: string | null;
}

/** What an answer streams: text pieces, then exactly one `done`. */
export type AnswerEvent =
  | { type: "delta"; text: string }
  | {
    type: "done";
    conversationId: string;
    /** The new assistant message: the parent of the next question. */
    parentId: string;
    model: string | null;
    usage: unknown;
  };

/** One message of a conversation's path. */
export interface HistoryMessage {
  id: string;
  role: string;
  content: string;
}

/** One conversation of `/list`. */
export interface ConversationSummary {
  id: string;
  title: string;
  /** ISO time of the last change, when the server says it. */
  updatedAt: string | null;
}

/** A connection to the server over one protocol. */
export interface ChatClient {
  readonly protocol: ClientProtocol;
  /**
   * Asks one question. Aborting `signal` cancels the answer on the server
   * (the upstream call stops) and makes the iteration throw Canceled.
   */
  ask(req: AskRequest, signal: AbortSignal): AsyncIterable<AnswerEvent>;
  /** The path root → `parentId` (or → the latest message) of a conversation. */
  history(conversationId: string, parentId: string | null): Promise<HistoryMessage[]>;
  /** The caller's conversations, newest first. */
  list(): Promise<ConversationSummary[]>;
  /** Closes connections; idempotent. */
  close(): Promise<void>;
}
