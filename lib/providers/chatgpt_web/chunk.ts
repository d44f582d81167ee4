/**
 * Turns the web backend's events into text deltas and one final summary. It
 * reads both formats: cumulative snapshots (each event carries the whole
 * message so far) and the v1 delta encoding (ops on one document per channel).
 * Either way the current message is compared with what was already emitted
 * for its id, so only new text comes out. The stream of a `continue` may start
 * the resumed message from empty or repeat the whole text so far; the decoder
 * of a continuation is told that text and leaves it out.
 * @module
 */

import type { SSEEvent } from "../../sse/parse.ts";
import { DeltaDocuments, isDeltaOp } from "./delta.ts";
import { truncatedStream, webErrorFromStream } from "./errors.ts";

/** The end of an answer, as the decoder saw it. */
export interface WebAnswerEnd {
  /** The upstream conversation id, when the stream named it. */
  conversationId: string | null;
  /** The upstream id of the last assistant message with text. */
  messageId: string | null;
  /** The model slug the upstream reported, if any. */
  model: string | null;
  /** `stop`, `length` (from `max_tokens`), or the upstream's finish type. */
  finishReason: string;
  /** The upstream cut the answer off at `max_tokens`: a `continue` can resume it. */
  cutOff: boolean;
}

/** Options of {@link WebStreamDecoder}. */
export interface WebStreamDecoderOptions {
  /**
   * The answer's text already streamed, when this stream continues it: a
   * message whose first text starts with it repeats it, and only what follows
   * is new. @default ""
   */
  continuing?: string;
}

type Obj = Record<string, unknown>;

function obj(value: unknown): Obj | null {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? value as Obj : null;
}

function isPresent(value: unknown): boolean {
  return value !== null && value !== undefined && value !== "" && value !== false;
}

/** Maps the web backend's `finish_details.type` to a finish reason. */
function finishReasonOf(type: string): string {
  return type === "max_tokens" ? "length" : type;
}

/** Decodes one answer's events; create one per upstream attempt. */
export class WebStreamDecoder {
  #continuing: string;
  #docs = new DeltaDocuments();
  #emitted = new Map<string, number>();
  #conversationId: string | null = null;
  #messageId: string | null = null;
  #model: string | null = null;
  #finishType: string | null = null;
  #finished = false;
  #done = false;

  /** @param options the text already streamed, for a continuation */
  constructor(options: WebStreamDecoderOptions = {}) {
    this.#continuing = options.continuing ?? "";
  }

  /** Whether `[DONE]` arrived: nothing after it counts. */
  get done(): boolean {
    return this.#done;
  }

  /**
   * Takes one event and returns the new text it carries ("" when none).
   * @param event one SSE event of the upstream
   * @throws {AppError} when the event reports an error
   */
  push(event: SSEEvent): string {
    if (this.#done) return "";
    const data = event.data.trim(); // captures pad the JSON with trailing spaces
    if (data === "[DONE]") {
      this.#done = true;
      return "";
    }
    let value: unknown;
    try {
      value = JSON.parse(data);
    } catch {
      if (/internal server error/i.test(data)) throw webErrorFromStream("internal_server_error");
      return ""; // an unknown non-JSON line carries nothing we read
    }
    if (event.event === "delta_encoding" || typeof value === "string") return "";
    if (isDeltaOp(value) && (event.event === "delta" || event.event === "message")) {
      this.#docs.apply(value);
      return this.#read(this.#docs.current);
    }
    const record = obj(value);
    if (record === null) return "";
    if (typeof record.type === "string") return this.#envelope(record);
    return this.#read(record);
  }

  /**
   * The summary at the end of the stream.
   * @param fallbackConversationId the conversation id the request continued, if any
   * @throws {AppError} when the answer never completed
   */
  finish(fallbackConversationId: string | null): WebAnswerEnd {
    if (!this.#done && !this.#finished) {
      throw truncatedStream("the stream ended before the answer was complete");
    }
    if (this.#messageId === null) {
      throw truncatedStream("the stream carried no answer");
    }
    return {
      conversationId: this.#conversationId ?? fallbackConversationId,
      messageId: this.#messageId,
      model: this.#model,
      finishReason: this.#finishType === null ? "stop" : finishReasonOf(this.#finishType),
      cutOff: this.#finishType === "max_tokens",
    };
  }

  /** A control envelope (`type` set): only ids, errors and completion matter. */
  #envelope(record: Obj): string {
    if (isPresent(record.error) || isPresent(record.error_code)) {
      throw webErrorFromStream(record.error_code ?? record.error);
    }
    if (typeof record.conversation_id === "string" && this.#conversationId === null) {
      this.#conversationId = record.conversation_id;
    }
    if (record.type === "message_stream_complete") this.#finished = true;
    return "";
  }

  /** A root document: `{message, conversation_id, error}`. */
  #read(root: unknown): string {
    const record = obj(root);
    if (record === null) return "";
    if (isPresent(record.error) || isPresent(record.error_code)) {
      throw webErrorFromStream(record.error_code ?? record.error);
    }
    if (typeof record.conversation_id === "string") this.#conversationId = record.conversation_id;
    const message = obj(record.message);
    if (message === null) return "";
    return this.#readMessage(message);
  }

  #readMessage(message: Obj): string {
    const author = obj(message.author);
    const content = obj(message.content);
    const recipient = message.recipient ?? "all";
    const channel = message.channel;
    if (author?.role !== "assistant" || recipient !== "all") return "";
    if (content?.content_type !== "text") return "";
    if (typeof channel === "string" && channel !== "final") return "";
    const metadata = obj(message.metadata);
    if (typeof metadata?.model_slug === "string") this.#model = metadata.model_slug;
    const details = obj(metadata?.finish_details);
    if (typeof details?.type === "string") this.#finishType = details.type;
    const id = typeof message.id === "string" ? message.id : `channel:${this.#docs.channel}`;
    if (typeof message.id === "string") this.#messageId = message.id;
    if (message.status === "finished_successfully" && message.end_turn !== false) {
      this.#finished = true;
    }
    const parts = Array.isArray(content.parts) ? content.parts : [];
    const text = parts.filter((p): p is string => typeof p === "string").join("");
    const seen = this.#emitted.get(id) ?? this.#repeated(text);
    if (text.length <= seen) return "";
    this.#emitted.set(id, text.length);
    return text.slice(seen);
  }

  /**
   * How much of a message's first text was already streamed before this
   * continuation: all of the earlier text when the message repeats it, else
   * nothing (the message restarts from empty).
   */
  #repeated(text: string): number {
    const before = this.#continuing;
    return before !== "" && text.startsWith(before) ? before.length : 0;
  }
}
