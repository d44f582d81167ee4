/**
 * Builders of OpenAI's Chat Completions objects (UPSTREAMS.md §2–§3) for the
 * answers EasyBackend synthesizes: `chat.completion` and
 * `chat.completion.chunk`, with one choice at index 0.
 * @module
 */

import type { Usage } from "../providers/provider.ts";

/** What every chunk of one completion shares. */
export interface CompletionHeader {
  /** `chatcmpl-…` */
  id: string;
  /** Unix seconds. */
  created: number;
  model: string;
}

/** A new header: a fresh `chatcmpl-` id and the current time. */
export function newCompletionHeader(model: string): CompletionHeader {
  return {
    id: `chatcmpl-${crypto.randomUUID().replaceAll("-", "")}`,
    created: Math.floor(Date.now() / 1000),
    model,
  };
}

/** OpenAI's `usage` object of Chat Completions. */
export function completionUsage(usage: Usage) {
  return {
    prompt_tokens: usage.promptTokens,
    completion_tokens: usage.completionTokens,
    total_tokens: usage.totalTokens,
    prompt_tokens_details: { cached_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0 },
  };
}

/**
 * One `chat.completion.chunk`. `usage` is written only when the client asked
 * for it (`null` on ordinary chunks, an object on the last one).
 */
export function completionChunk(
  head: CompletionHeader,
  delta: Record<string, unknown> | null,
  finishReason: string | null,
  usage?: Usage | null,
): Record<string, unknown> {
  const chunk: Record<string, unknown> = {
    id: head.id,
    object: "chat.completion.chunk",
    created: head.created,
    model: head.model,
    choices: delta === null
      ? []
      : [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
  };
  if (usage !== undefined) chunk.usage = usage === null ? null : completionUsage(usage);
  return chunk;
}

/** A whole `chat.completion`. */
export function completion(
  head: CompletionHeader,
  text: string,
  finishReason: string,
  usage: Usage | undefined,
): Record<string, unknown> {
  const body: Record<string, unknown> = {
    id: head.id,
    object: "chat.completion",
    created: head.created,
    model: head.model,
    choices: [{
      index: 0,
      message: { role: "assistant", content: text, refusal: null, annotations: [] },
      logprobs: null,
      finish_reason: finishReason,
    }],
  };
  if (usage) body.usage = completionUsage(usage);
  return body;
}
