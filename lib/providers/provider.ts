/**
 * The provider seam: one narrow interface every upstream implements. Every
 * quirk of an upstream (paths, headers, framing) stays inside its folder.
 * @module
 */

import type { Logger } from "../log.ts";

/** A role in a conversation. */
export type Role = "system" | "user" | "assistant";

/** One message of the context sent upstream. */
export interface ChatMessage {
  role: Role;
  content: string;
}

/** Token usage of one call. */
export interface Usage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
}

/** Ids a stateful upstream (the ChatGPT web backend) keeps for a message. */
export interface UpstreamIds {
  /** The upstream's conversation id. */
  conversationId: string;
  /** The upstream's id of the message. */
  messageId: string;
}

/** One call to an upstream. */
export interface ChatRequest {
  /** The model to ask. */
  model: string;
  /**
   * The path root → parent → new prompt, cut to the token budget, for
   * stateless upstreams. The last message is the new user prompt.
   */
  messages: ChatMessage[];
  /**
   * For stateful upstreams: the upstream ids of the parent message, when the
   * parent was answered by the same upstream. Absent for a new conversation.
   */
  upstreamParent?: UpstreamIds;
  /** Our id of the new user message; a stateful upstream may reuse it as its own. */
  userMessageId: string;
}

/** Why an answer ended. */
export type FinishReason = "stop" | "length" | "content_filter" | "tool_calls" | string;

/** What a provider streams: text pieces, then exactly one `done`. */
export type ChatEvent =
  | { type: "delta"; text: string }
  | {
    type: "done";
    /** The model that answered (the upstream's resolved name when it says one). */
    model: string;
    finishReason: FinishReason;
    usage?: Usage;
    /** For stateful upstreams: the upstream ids of the new assistant message. */
    upstreamIds?: UpstreamIds;
  };

/** Context of one call, carried through every layer. */
export interface CallContext {
  /** Fires when the client left, the deadline passed or the server shuts down. */
  signal: AbortSignal;
  /** The request id, for logs. */
  requestId: string;
  /** Who asks: the owner scope of conversations (a token hash, or "anonymous"). */
  principal: string;
  /** A logger carrying the request's fields. */
  logger: Logger;
  /** Absolute deadline in epoch milliseconds, if any. */
  deadline?: number;
  /** The wire protocol of the call (`http`, `grpc`, `ws`), for logs and metrics. */
  protocol?: string;
  /**
   * Counters of this call that lower layers add to (the key pool counts its
   * upstream attempts here), read by the log line at the end of the call.
   * Shared by every copy of the context made with spread.
   */
  stats?: CallStats;
}

/** What lower layers report about one call, for its log line. */
export interface CallStats {
  /** Upstream attempts made (1 without retries). */
  upstreamAttempts: number;
}

/** A model an upstream offers. */
export interface ModelInfo {
  id: string;
  ownedBy: string;
  created: number;
}

/**
 * An upstream. `stream` yields deltas then one `done`; every failure, also one
 * that arrives mid-stream or a stream that stops without its end marker, is
 * thrown as an `AppError`, never yielded as text. Breaking out of the iteration
 * aborts the upstream request.
 */
export interface Provider {
  /** The provider's name: `openai`, `chatgpt-web`, `echo`. */
  readonly name: string;
  /** The model used when a request names none. */
  readonly defaultModel: string;
  /** Whether the upstream keeps conversation state itself (uses `upstreamParent`). */
  readonly stateful: boolean;
  /** Streams one answer. */
  stream(req: ChatRequest, ctx: CallContext): AsyncIterable<ChatEvent>;
  /** The models the upstream offers. */
  listModels(ctx: CallContext): Promise<ModelInfo[]>;
  /** The raw pass-through, when the upstream speaks OpenAI's format. */
  readonly passThrough?: PassThrough;
}

/**
 * A raw OpenAI-format pass-through, for `/v1/chat/completions`: the body is
 * sent as is (with our key, through the key pool), and the upstream's response
 * is returned as is. Only providers whose upstream speaks that format have it.
 */
export interface PassThrough {
  /** Sends an OpenAI Chat Completions body upstream and returns the raw response. */
  chatCompletions(body: Record<string, unknown>, ctx: CallContext): Promise<Response>;
}
