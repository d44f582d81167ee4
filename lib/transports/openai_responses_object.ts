/**
 * Builds OpenAI's Response object (UPSTREAMS.md §4) from what EasyBackend
 * knows of one answer: the response id is the id of the assistant message in
 * the conversation tree, and `conversation.id` names the tree.
 * @module
 */

import type { Usage } from "../providers/provider.ts";

/** The lifecycle states of a response. */
export type ResponseStatus = "in_progress" | "completed" | "incomplete" | "failed";

/** What a Response object is built from. */
export interface ResponseState {
  /** The assistant message id (or, for `store: false`, a `resp_` id). */
  id: string;
  /** Unix seconds. */
  createdAt: number;
  model: string;
  status: ResponseStatus;
  text: string;
  usage: Usage | null;
  previousResponseId: string | null;
  instructions: string | null;
  store: boolean;
  /** Null for `store: false` answers, which belong to no stored conversation. */
  conversationId: string | null;
  error: { code: string; message: string } | null;
  /** Why an `incomplete` answer stopped. */
  incompleteReason: string | null;
}

/** The id of the one output message item of a response. */
export function outputItemId(responseId: string): string {
  return `msg_${responseId}`;
}

/** The output message item; `text` null gives the empty in-progress item. */
export function outputItem(state: ResponseState, done: boolean): Record<string, unknown> {
  return {
    id: outputItemId(state.id),
    type: "message",
    status: done ? (state.status === "completed" ? "completed" : "incomplete") : "in_progress",
    role: "assistant",
    content: done ? [outputTextPart(state.text)] : [],
  };
}

/** One `output_text` content part. */
export function outputTextPart(text: string): Record<string, unknown> {
  return { type: "output_text", text, annotations: [], logprobs: [] };
}

/** OpenAI's Responses `usage`. */
export function responseUsage(usage: Usage) {
  return {
    input_tokens: usage.promptTokens,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: usage.completionTokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: usage.totalTokens,
  };
}

/**
 * The whole Response object. Output holds the message item once the answer
 * ended (or whatever text there is when it failed part-way).
 */
export function responseObject(state: ResponseState): Record<string, unknown> {
  const ended = state.status !== "in_progress";
  const output = ended && (state.status !== "failed" || state.text !== "")
    ? [outputItem(state, true)]
    : [];
  return {
    id: state.id,
    object: "response",
    created_at: state.createdAt,
    status: state.status,
    background: false,
    error: state.error,
    incomplete_details: state.incompleteReason ? { reason: state.incompleteReason } : null,
    instructions: state.instructions,
    max_output_tokens: null,
    model: state.model,
    output,
    parallel_tool_calls: false,
    previous_response_id: state.previousResponseId,
    store: state.store,
    temperature: null,
    text: { format: { type: "text" } },
    tool_choice: "none",
    tools: [],
    top_p: null,
    truncation: "disabled",
    usage: state.usage ? responseUsage(state.usage) : null,
    metadata: {},
    conversation: state.conversationId ? { id: state.conversationId } : null,
  };
}

/** The terminal status of an answer that ended with this finish reason. */
export function statusOfFinish(finishReason: string): {
  status: ResponseStatus;
  incompleteReason: string | null;
} {
  if (finishReason === "length") {
    return { status: "incomplete", incompleteReason: "max_output_tokens" };
  }
  if (finishReason === "content_filter") {
    return { status: "incomplete", incompleteReason: "content_filter" };
  }
  return { status: "completed", incompleteReason: null };
}
