/**
 * The WebSocket wire formats, as pure functions: the original text protocol
 * (`<|ask|>$<conversation_id>$<parent_id>$<prompt>`) and the JSON frames beside
 * it. Parsing never throws; a bad frame becomes a value the session answers.
 * @module
 */

import { AppError, Code } from "../errors.ts";
import type { Usage } from "../providers/provider.ts";
import { wireId } from "./legacy_wire.ts";
import { codeName } from "./wire_errors.ts";

/** The prefix of a legacy ask. */
export const LEGACY_ASK_PREFIX = "<|ask|>$";

/** A parsed legacy ask; ids are null when the client sent empty or `new`. */
export interface LegacyAsk {
  conversationId: string | null;
  parentId: string | null;
  prompt: string;
}

/** The result of a parse: the value, or the client-safe reason it failed. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; error: AppError };

const LEGACY_SHAPE = "expected <|ask|>$<conversation_id>$<parent_id>$<prompt>";

function invalid(message: string): { ok: false; error: AppError } {
  return { ok: false, error: new AppError(Code.InvalidArgument, message) };
}

/**
 * Parses `<|ask|>$<conversation_id>$<parent_id>$<prompt>`. Everything after the
 * third `$` is the prompt, `$` and newlines included.
 * @param frame the text of one frame
 */
export function parseLegacyAsk(frame: string): Parsed<LegacyAsk> {
  if (!frame.startsWith(LEGACY_ASK_PREFIX)) {
    return invalid(`Cannot parse the message: ${LEGACY_SHAPE}`);
  }
  const rest = frame.slice(LEGACY_ASK_PREFIX.length);
  const first = rest.indexOf("$");
  const second = first < 0 ? -1 : rest.indexOf("$", first + 1);
  if (second < 0) return invalid(`Cannot parse the message: ${LEGACY_SHAPE}`);
  const prompt = rest.slice(second + 1);
  if (prompt.trim() === "") return invalid("Cannot parse the message: the prompt is empty");
  return {
    ok: true,
    value: {
      conversationId: wireId(rest.slice(0, first)),
      parentId: wireId(rest.slice(first + 1, second)),
      prompt,
    },
  };
}

/** A JSON ask frame. */
export interface JsonAsk {
  type: "ask";
  id: string;
  conversationId: string | null;
  parentId: string | null;
  prompt: string;
  model: string | null;
}

/** A JSON cancel frame. */
export interface JsonCancel {
  type: "cancel";
  id: string;
}

/** A failed JSON frame: the error, and the frame's id when it had a usable one. */
export interface JsonFrameError {
  type: "invalid";
  id: string | null;
  error: AppError;
}

/** What {@link parseJsonFrame} returns. */
export type JsonFrame = JsonAsk | JsonCancel | JsonFrameError;

const ID_PATTERN = /^[\w.:-]{1,128}$/;

function bad(id: string | null, message: string): JsonFrameError {
  return { type: "invalid", id, error: new AppError(Code.InvalidArgument, message) };
}

function optionalString(v: unknown): string | null | undefined {
  if (v === undefined || v === null) return null;
  return typeof v === "string" ? v : undefined;
}

/**
 * Parses one JSON frame (`ask` or `cancel`).
 * @param frame the text of one frame, starting with `{`
 */
export function parseJsonFrame(frame: string): JsonFrame {
  let data: unknown;
  try {
    data = JSON.parse(frame);
  } catch {
    return bad(null, "Cannot parse the frame: it is not valid JSON");
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    return bad(null, "Cannot parse the frame: it is not a JSON object");
  }
  const obj = data as Record<string, unknown>;
  const id = typeof obj.id === "string" && ID_PATTERN.test(obj.id) ? obj.id : null;
  if (id === null) {
    return bad(null, "Cannot parse the frame: id must be a string of 1 to 128 [A-Za-z0-9_.:-]");
  }
  if (obj.type === "cancel") return { type: "cancel", id };
  if (obj.type !== "ask") {
    return bad(id, 'Cannot parse the frame: type must be "ask" or "cancel"');
  }
  if (typeof obj.prompt !== "string" || obj.prompt.trim() === "") {
    return bad(id, "Cannot parse the frame: prompt must be a non-empty string");
  }
  const conversationId = optionalString(obj.conversation_id);
  const parentId = optionalString(obj.parent_id);
  const model = optionalString(obj.model);
  if (conversationId === undefined) {
    return bad(id, "Cannot parse the frame: conversation_id must be a string or null");
  }
  if (parentId === undefined) {
    return bad(id, "Cannot parse the frame: parent_id must be a string or null");
  }
  if (model === undefined) return bad(id, "Cannot parse the frame: model must be a string or null");
  return {
    type: "ask",
    id,
    conversationId: wireId(conversationId),
    parentId: wireId(parentId),
    prompt: obj.prompt,
    model: model === null || model.trim() === "" ? null : model,
  };
}

/** The JSON `delta` frame. */
export function deltaFrame(id: string, text: string): string {
  return JSON.stringify({ type: "delta", id, text });
}

/** The JSON `done` frame. */
export function doneFrame(
  id: string,
  done: {
    conversationId: string;
    messageId: string;
    model: string;
    finishReason: string;
    usage: Usage | null;
  },
  requestId?: string,
): string {
  return JSON.stringify({
    type: "done",
    id,
    ...(requestId === undefined ? {} : { request_id: requestId }),
    conversation_id: done.conversationId,
    parent_id: done.messageId,
    model: done.model,
    finish_reason: done.finishReason,
    usage: done.usage === null ? null : {
      prompt_tokens: done.usage.promptTokens,
      completion_tokens: done.usage.completionTokens,
      total_tokens: done.usage.totalTokens,
    },
  });
}

/** The ids of an answer that began: its conversation and its (now partial) reply. */
export interface StartedIds {
  conversationId: string;
  messageId: string;
}

/**
 * The JSON `error` frame: `code` is the snake_case code name, `reason` the finer
 * one if any. When the answer had begun, the frame also carries its
 * `conversation_id` and `parent_id` (the partial reply, stored `incomplete`), so
 * a client can continue after a cancel or a failure, even in a new conversation.
 */
export function errorFrame(
  id: string | null,
  err: AppError,
  requestId?: string,
  started?: StartedIds,
): string {
  const frame: Record<string, unknown> = {
    type: "error",
    id,
    code: codeName(err.code),
    message: err.message,
  };
  if (requestId !== undefined) frame.request_id = requestId;
  if (started !== undefined) {
    frame.conversation_id = started.conversationId;
    frame.parent_id = started.messageId;
  }
  if (err.reason !== undefined) frame.reason = err.reason;
  if (err.retryAfterMs !== undefined) frame.retry_after_ms = err.retryAfterMs;
  return JSON.stringify(frame);
}
