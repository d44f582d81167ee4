/**
 * Small validators shared by the OpenAI-compatible routes: each either
 * returns the typed value or throws a {@link ParamError} naming the field.
 * @module
 */

import type { Role } from "../providers/provider.ts";
import { ParamError } from "./openai_errors.ts";

/** A JSON object, as parsed from a request body. */
export type JsonObject = Record<string, unknown>;

/**
 * Refuses every field of `body` that is in neither `supported` nor `ignored`,
 * so an option the backend cannot honour fails loudly instead of silently.
 */
export function refuseUnknownFields(
  body: JsonObject,
  supported: ReadonlySet<string>,
  ignored: ReadonlySet<string>,
): void {
  for (const key of Object.keys(body)) {
    if (supported.has(key) || ignored.has(key)) continue;
    throw new ParamError(key, `Cannot use '${key}': this backend does not support it`);
  }
}

/** An optional string field (null and absent are both undefined). */
export function optionalString(body: JsonObject, key: string): string | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") {
    throw new ParamError(key, `Cannot read '${key}': it is not a string`);
  }
  return value;
}

/** An optional boolean field with a default. */
export function optionalBoolean(body: JsonObject, key: string, fallback: boolean): boolean {
  const value = body[key];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== "boolean") {
    throw new ParamError(key, `Cannot read '${key}': it is not a boolean`);
  }
  return value;
}

/** OpenAI's message roles as ours: `developer` is the newer name of `system`. */
const ROLES: Record<string, Role> = {
  system: "system",
  developer: "system",
  user: "user",
  assistant: "assistant",
};

/**
 * The role of a message; tool and function roles are refused, naming the field.
 * @param value the message's `role`
 * @param at where the message is, e.g. `messages[2]`
 */
export function messageRole(value: unknown, at: string): Role {
  const role = typeof value === "string" ? ROLES[value] : undefined;
  if (!role) {
    throw new ParamError(
      `${at}.role`,
      `Cannot use role '${
        String(value)
      }': this backend accepts system, developer, user and assistant`,
    );
  }
  return role;
}

/** Whether a value is a plain JSON object. */
export function isObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/**
 * The text of a message `content`: a string, or a list of text parts whose
 * type is one of `textTypes` (joined with no separator, as OpenAI does).
 * Any other part (an image, a file, audio) is refused, naming the part.
 */
export function contentText(
  content: unknown,
  param: string,
  textTypes: readonly string[],
): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) {
    throw new ParamError(param, `Cannot read '${param}': it is neither a string nor a list`);
  }
  let text = "";
  content.forEach((part, i) => {
    const at = `${param}[${i}]`;
    if (!isObject(part) || typeof part.type !== "string") {
      throw new ParamError(at, `Cannot read '${at}': it is not a content part`);
    }
    if (!textTypes.includes(part.type)) {
      throw new ParamError(
        `${at}.type`,
        `Cannot use content of type '${part.type}': this backend accepts text only`,
      );
    }
    if (typeof part.text !== "string") {
      throw new ParamError(`${at}.text`, `Cannot read '${at}.text': it is not a string`);
    }
    text += part.text;
  });
  return text;
}
