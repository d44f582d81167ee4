/**
 * MAX_PROMPT_CHARS for stateless chat requests (`/v1/chat/completions`): the
 * characters of all the messages' text together, counted the same way for a
 * raw pass-through body as for parsed messages, and checked before anything
 * goes upstream. An ask checks its one new prompt instead (engine.ts).
 * @module
 */

import { AppError, Code } from "../errors.ts";
import type { CallContext, PassThrough } from "../providers/provider.ts";

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Characters of one message's content: a string, or the `text` of its content parts. */
function contentChars(content: unknown): number {
  if (typeof content === "string") return content.length;
  if (!Array.isArray(content)) return 0;
  let n = 0;
  for (const part of content) {
    if (isRecord(part) && typeof part.text === "string") n += part.text.length;
  }
  return n;
}

/**
 * Characters of text in OpenAI-format messages (string contents and text
 * parts); anything that is not a list of messages counts 0 and is left for
 * the upstream or the parser to refuse.
 * @param messages the `messages` of a Chat Completions body, or parsed ChatMessages
 */
export function messagesChars(messages: unknown): number {
  if (!Array.isArray(messages)) return 0;
  let n = 0;
  for (const m of messages) if (isRecord(m)) n += contentChars(m.content);
  return n;
}

/**
 * Refuses messages whose text is longer than `maxChars` in total.
 * @param messages the messages, raw or parsed
 * @param maxChars the limit (MAX_PROMPT_CHARS)
 * @throws {AppError} ResourceExhausted with reason `payload_too_large`
 */
export function checkMessagesChars(messages: unknown, maxChars: number): void {
  const chars = messagesChars(messages);
  if (chars > maxChars) {
    throw new AppError(
      Code.ResourceExhausted,
      `Cannot answer: the messages have ${chars} characters, more than ${maxChars}`,
      { reason: "payload_too_large" },
    );
  }
}

/**
 * A pass-through that checks the body's messages against `maxChars` first.
 * @param pass the provider's raw pass-through
 * @param maxChars the limit (MAX_PROMPT_CHARS)
 */
export function limitPassThrough(pass: PassThrough, maxChars: number): PassThrough {
  return {
    chatCompletions(body: Record<string, unknown>, ctx: CallContext): Promise<Response> {
      try {
        checkMessagesChars(body.messages, maxChars);
      } catch (err) {
        return Promise.reject(err);
      }
      return pass.chatCompletions(body, ctx);
    },
  };
}
