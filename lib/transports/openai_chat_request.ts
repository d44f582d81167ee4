/**
 * Reads a Chat Completions request for upstreams without a raw pass-through
 * (echo, chatgpt-web), where EasyBackend itself speaks the format. Only what
 * it can honour is accepted; anything else is refused naming the field.
 * @module
 */

import type { ChatMessage } from "../providers/provider.ts";
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

/** A Chat Completions request this backend can answer itself. */
export interface ChatCompletionsRequest {
  model?: string;
  messages: ChatMessage[];
  stream: boolean;
  /** `stream_options.include_usage`: a last chunk with the usage. */
  includeUsage: boolean;
}

const SUPPORTED = new Set(["model", "messages", "stream", "stream_options", "n"]);

/**
 * Sampling and bookkeeping hints that cannot change the shape of an answer;
 * the upstreams behind this path take none of them, so they are accepted and
 * have no effect (as a model is free to ignore them).
 */
const IGNORED = new Set([
  "temperature",
  "top_p",
  "max_tokens",
  "max_completion_tokens",
  "presence_penalty",
  "frequency_penalty",
  "seed",
  "stop",
  "user",
  "metadata",
  "store",
  "service_tier",
  "parallel_tool_calls",
  "safety_identifier",
  "prompt_cache_key",
  "reasoning_effort",
  "verbosity",
]);

/** Validates a Chat Completions body. @throws {ParamError} naming the bad field */
export function parseChatCompletionsRequest(body: JsonObject): ChatCompletionsRequest {
  refuseUnknownFields(body, SUPPORTED, IGNORED);
  if (body.n !== undefined && body.n !== null && body.n !== 1) {
    throw new ParamError("n", "Cannot use 'n' other than 1: this backend gives one choice");
  }
  const stream = optionalBoolean(body, "stream", false);
  const options = body.stream_options;
  if (options !== undefined && options !== null && !isObject(options)) {
    throw new ParamError("stream_options", "Cannot read 'stream_options': it is not an object");
  }
  return {
    model: optionalString(body, "model"),
    messages: parseMessages(body.messages),
    stream,
    includeUsage: stream && isObject(options) && options.include_usage === true,
  };
}

function parseMessages(value: unknown): ChatMessage[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new ParamError("messages", "Cannot read 'messages': it is not a non-empty list");
  }
  return value.map((item, i) => {
    const at = `messages[${i}]`;
    if (!isObject(item)) throw new ParamError(at, `Cannot read '${at}': it is not an object`);
    const role = messageRole(item.role, at);
    for (const key of ["tool_calls", "function_call", "audio"]) {
      if (item[key] !== undefined && item[key] !== null) {
        throw new ParamError(
          `${at}.${key}`,
          `Cannot use '${key}': this backend does not support it`,
        );
      }
    }
    return { role, content: contentText(item.content ?? "", `${at}.content`, ["text"]) };
  });
}
