/**
 * Reads a Responses API request (`POST /v1/responses`). Only what the backend
 * can honour is accepted; tools, files, images, background runs, server-side
 * `conversation` objects and other options are refused naming the field.
 * @module
 */

import type { Role } from "../providers/provider.ts";
import { ParamError } from "./openai_errors.ts";
import {
  contentText,
  isObject,
  type JsonObject,
  messageRole,
  optionalBoolean,
  optionalString,
  refuseUnknownFields,
} from "./openai_fields.ts";

/** One message of `input`. */
export interface InputMessage {
  role: Role;
  text: string;
}

/** A Responses request this backend can answer. */
export interface ResponsesRequest {
  model?: string;
  /** `input`, as messages; a string input is one user message. */
  input: InputMessage[];
  instructions?: string;
  previousResponseId?: string;
  /** @default true */
  store: boolean;
  stream: boolean;
}

const SUPPORTED = new Set([
  "model",
  "input",
  "instructions",
  "previous_response_id",
  "store",
  "stream",
]);

/**
 * Sampling and bookkeeping hints that cannot change the shape of an answer;
 * the engine takes none of them, so they are accepted and have no effect.
 */
const IGNORED = new Set([
  "temperature",
  "top_p",
  "max_output_tokens",
  "metadata",
  "user",
  "safety_identifier",
  "prompt_cache_key",
  "service_tier",
  "truncation",
  "parallel_tool_calls",
  "reasoning",
  "stream_options",
]);

/**
 * Fields accepted only with a value that asks for nothing (what the SDKs send
 * when a caller spreads defaults); any other value is refused.
 */
const NEUTRAL: Record<string, (value: unknown) => boolean> = {
  tools: (v) => Array.isArray(v) && v.length === 0,
  "tool_choice": (v) => v === "none" || v === "auto",
  include: (v) => Array.isArray(v) && v.length === 0,
  background: (v) => v === false,
  text: (v) =>
    isObject(v) && (v.format === undefined || (isObject(v.format) && v.format.type === "text")),
};

/** Validates a Responses body. @throws {ParamError} naming the bad field */
export function parseResponsesRequest(body: JsonObject): ResponsesRequest {
  const rest: JsonObject = {};
  for (const [key, value] of Object.entries(body)) {
    const neutral = NEUTRAL[key];
    if (!neutral) rest[key] = value;
    else if (value !== null && value !== undefined && !neutral(value)) {
      throw new ParamError(key, `Cannot use '${key}': this backend does not support it`);
    }
  }
  refuseUnknownFields(rest, SUPPORTED, IGNORED);
  const previousResponseId = optionalString(body, "previous_response_id");
  if (previousResponseId === "") {
    throw new ParamError("previous_response_id", "Cannot read 'previous_response_id': it is empty");
  }
  return {
    model: optionalString(body, "model"),
    input: parseInput(body.input),
    instructions: optionalString(body, "instructions"),
    previousResponseId,
    store: optionalBoolean(body, "store", true),
    stream: optionalBoolean(body, "stream", false),
  };
}

function parseInput(value: unknown): InputMessage[] {
  if (typeof value === "string") {
    if (value === "") throw new ParamError("input", "Cannot answer 'input': it is empty");
    return [{ role: "user", text: value }];
  }
  if (!Array.isArray(value) || value.length === 0) {
    throw new ParamError(
      "input",
      "Cannot read 'input': it is neither a string nor a non-empty list",
    );
  }
  return value.map((item, i) => parseInputItem(item, `input[${i}]`));
}

function parseInputItem(item: unknown, at: string): InputMessage {
  if (!isObject(item)) throw new ParamError(at, `Cannot read '${at}': it is not an object`);
  if (item.type !== undefined && item.type !== "message") {
    throw new ParamError(
      `${at}.type`,
      `Cannot use input items of type '${String(item.type)}': this backend accepts messages only`,
    );
  }
  const role = messageRole(item.role, at);
  const types = role === "assistant" ? ["output_text", "input_text"] : ["input_text"];
  return { role, text: contentText(item.content, `${at}.content`, types) };
}
