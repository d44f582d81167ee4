/**
 * Chat Completions stream chunks (`chat.completion.chunk`) to ChatEvents:
 * text of choice 0 (content, or a refusal), its finish reason, the resolved
 * model and the usage chunk. `[DONE]` ends the stream; an `error` event, a
 * chunk that is not JSON, or an end without `[DONE]` or finish reason throws.
 * @module
 */

import type { AppError } from "../../errors.ts";
import { SSEDecoder, type SSEEvent } from "../../sse/parse.ts";
import type { ChatEvent, Usage } from "../provider.ts";
import { errorFromStreamEvent, truncatedStream } from "./errors.ts";

interface ChunkChoice {
  index?: number;
  delta?: { content?: string | null; refusal?: string | null } | null;
  "finish_reason"?: string | null;
}

interface Chunk {
  model?: string;
  choices?: ChunkChoice[];
  usage?: {
    "prompt_tokens"?: number;
    "completion_tokens"?: number;
    "total_tokens"?: number;
  } | null;
  error?: unknown;
}

/**
 * The token usage of an OpenAI `usage` object, or undefined.
 * @param usage the upstream's usage object
 */
export function toUsage(usage: Chunk["usage"]): Usage | undefined {
  if (typeof usage !== "object" || usage === null) return undefined;
  const promptTokens = Number(usage.prompt_tokens ?? 0);
  const completionTokens = Number(usage.completion_tokens ?? 0);
  return {
    promptTokens,
    completionTokens,
    totalTokens: Number(usage.total_tokens ?? promptTokens + completionTokens),
  };
}

/** The `done` event. */
type Done = Extract<ChatEvent, { type: "done" }>;

/**
 * Folds the SSE events of a Chat Completions stream, one batch (the events
 * one read of the body completed) at a time, synchronously: the batch's text
 * as one delta, the `done` at `[DONE]`, or the failure, after the text read
 * before it. Only choice 0 is read when the request asked for several.
 */
export class ChunkFolder {
  /** The text of the last batch ("" when none). */
  text = "";
  /** The answer's end, once `[DONE]` arrived. */
  done: Done | null = null;
  /** Why the stream failed in the last batch, if it did. */
  failure: unknown = null;
  #model: string;
  #finishReason: string | null = null;
  #usage: Usage | undefined;

  /** @param requestedModel the model reported when no chunk names one */
  constructor(requestedModel: string) {
    this.#model = requestedModel;
  }

  /** Folds one batch into {@link text}, {@link done} and {@link failure}. */
  fold(batch: SSEEvent[]): void {
    let text = "";
    this.failure = null;
    for (const event of batch) {
      if (event.data === "[DONE]") {
        if (this.#finishReason === null) {
          this.failure = truncatedStream("the stream ended without a finish reason");
        } else {
          this.done = {
            type: "done",
            model: this.#model,
            finishReason: this.#finishReason,
            usage: this.#usage,
          };
        }
        break;
      }
      let chunk: Chunk;
      try {
        chunk = parseChunk(event.data);
        if (event.event === "error" || chunk.error) throw errorFromStreamEvent(chunk.error);
      } catch (err) {
        this.failure = err;
        break;
      }
      if (typeof chunk.model === "string" && chunk.model !== "") this.#model = chunk.model;
      this.#usage = toUsage(chunk.usage) ?? this.#usage;
      const choice = chunk.choices?.find((c) => (c.index ?? 0) === 0);
      if (!choice) continue;
      text += textOf(choice);
      if (choice.finish_reason) this.#finishReason = choice.finish_reason;
    }
    this.text = text;
  }

  /** The failure of a body that ended before `[DONE]`. */
  endedEarly(): AppError {
    return truncatedStream("the stream ended before its end marker");
  }
}

/**
 * The ChatEvents of a Chat Completions stream whose bytes `next` reads, in
 * one loop: bytes → SSE events → chunks, with no async layer between them
 * (the per-chunk cost of every streamed answer; BENCHMARKS.md). The text of
 * the chunks one read completed is yielded as one delta: nothing waits for
 * it, and every layer above handles one event instead of many. Afterwards
 * `folder.done` tells whether the stream reached `[DONE]`.
 * @param next the next bytes (they may be reused after the call), or null at the end
 * @param folder the stream's state
 */
export async function* streamChunks(
  next: () => Promise<Uint8Array | null>,
  folder: ChunkFolder,
): AsyncGenerator<ChatEvent> {
  const decoder = new SSEDecoder();
  for (;;) {
    const bytes = await next();
    if (bytes === null) throw folder.endedEarly();
    const batch = decoder.push(bytes);
    if (batch === null) continue;
    folder.fold(batch);
    // What arrived before a failure still reaches the client.
    if (folder.text !== "") yield { type: "delta", text: folder.text };
    if (folder.failure !== null) throw folder.failure;
    if (folder.done !== null) {
      yield folder.done;
      return;
    }
  }
}

function textOf(choice: ChunkChoice): string {
  const delta = choice.delta;
  if (!delta) return "";
  // A refusal streams in `refusal` instead of `content`; the user sees it as the reply.
  return (typeof delta.content === "string" ? delta.content : "") +
    (typeof delta.refusal === "string" ? delta.refusal : "");
}

function parseChunk(data: string): Chunk {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch (err) {
    throw truncatedStream("a chunk is not JSON", err);
  }
  if (typeof value !== "object" || value === null) {
    throw truncatedStream("a chunk is not a JSON object");
  }
  return value as Chunk;
}

/**
 * Reads a non-streaming `chat.completion` (some compatible servers answer so
 * even when asked to stream) as the same events.
 * @param body the parsed JSON body
 * @param requestedModel the model reported when the body names none
 */
export function completionEvents(body: unknown, requestedModel: string): ChatEvent[] {
  const b = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
  if (b.error) throw errorFromStreamEvent(b.error);
  const choices = Array.isArray(b.choices) ? b.choices as Record<string, unknown>[] : [];
  const choice = choices.find((c) => ((c.index as number | undefined) ?? 0) === 0);
  if (!choice) throw truncatedStream("the answer has no choice");
  const message = (choice.message ?? {}) as Record<string, unknown>;
  const text = (typeof message.content === "string" ? message.content : "") +
    (typeof message.refusal === "string" ? message.refusal : "");
  const events: ChatEvent[] = text === "" ? [] : [{ type: "delta", text }];
  events.push({
    type: "done",
    model: typeof b.model === "string" && b.model !== "" ? b.model : requestedModel,
    finishReason: typeof choice.finish_reason === "string" ? choice.finish_reason : "stop",
    usage: toUsage(b.usage as Chunk["usage"]),
  });
  return events;
}
