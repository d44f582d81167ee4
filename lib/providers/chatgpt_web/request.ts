/**
 * The request of the ChatGPT web backend: `POST {base}/conversation` with the
 * new user message, the upstream conversation id and the upstream id of the
 * parent message (both, or neither for a new conversation); or, to resume an
 * answer cut off at `max_tokens`, `action: "continue"` with no message and the
 * cut-off assistant message as parent.
 * @module
 */

import type { ChatMessage, ChatRequest, UpstreamIds } from "../provider.ts";

/** One message as the web backend takes it. */
export interface WebMessage {
  id: string;
  author: { role: string };
  content: { "content_type": "text"; parts: string[] };
  metadata: Record<string, unknown>;
}

/** The JSON body of `POST /conversation`. */
export interface ConversationBody {
  action: "next";
  messages: WebMessage[];
  "conversation_id"?: string;
  "parent_message_id": string;
  model: string;
  "timezone_offset_min": number;
  "history_and_training_disabled": boolean;
  "conversation_mode": { kind: "primary_assistant" };
  "supported_encodings": ["v1"];
}

/**
 * The JSON body of `POST /conversation` that resumes a cut-off answer, as
 * revChatGPT's `continue_write` sends it: no message, both upstream ids.
 */
export interface ContinueBody {
  action: "continue";
  "conversation_id": string;
  "parent_message_id": string;
  model: string;
  "timezone_offset_min": number;
  "history_and_training_disabled": boolean;
  "conversation_mode": { kind: "primary_assistant" };
  "supported_encodings": ["v1"];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function webMessage(message: ChatMessage, id: string): WebMessage {
  return {
    id,
    author: { role: message.role },
    content: { "content_type": "text", parts: [message.content] },
    metadata: {},
  };
}

/**
 * Builds the body for one request.
 *
 * Continuing an upstream conversation sends only the new prompt with both
 * upstream ids (a conversation id without its parent makes the backend fail).
 * Otherwise a new upstream conversation starts with a fresh UUID as parent and
 * the whole path (system message and earlier turns included), so a branch the
 * upstream has never seen still gets its context.
 *
 * @param req the call; its last message is the new prompt
 * @param now the clock, for the time zone offset
 * @throws {RangeError} when `req.messages` is empty
 */
export function buildConversationBody(req: ChatRequest, now: Date = new Date()): ConversationBody {
  if (req.messages.length === 0) {
    throw new RangeError("Cannot build the upstream request: there is no message");
  }
  const last = req.messages[req.messages.length - 1];
  const userId = UUID.test(req.userMessageId) ? req.userMessageId : crypto.randomUUID();
  const path = req.upstreamParent ? [last] : req.messages;
  const messages = path.map((m, i) =>
    webMessage(m, i === path.length - 1 ? userId : crypto.randomUUID())
  );
  const body: ConversationBody = {
    action: "next",
    messages,
    "parent_message_id": req.upstreamParent?.messageId ?? crypto.randomUUID(),
    model: req.model,
    "timezone_offset_min": now.getTimezoneOffset(),
    "history_and_training_disabled": false,
    "conversation_mode": { kind: "primary_assistant" },
    "supported_encodings": ["v1"],
  };
  if (req.upstreamParent) body["conversation_id"] = req.upstreamParent.conversationId;
  return body;
}

/**
 * Builds the body that asks the backend to go on with an answer it cut off at
 * `max_tokens`.
 *
 * @param model the model of the call
 * @param cutOff the upstream conversation and the id of the cut-off assistant message
 * @param now the clock, for the time zone offset
 */
export function buildContinueBody(
  model: string,
  cutOff: UpstreamIds,
  now: Date = new Date(),
): ContinueBody {
  return {
    action: "continue",
    "conversation_id": cutOff.conversationId,
    "parent_message_id": cutOff.messageId,
    model,
    "timezone_offset_min": now.getTimezoneOffset(),
    "history_and_training_disabled": false,
    "conversation_mode": { kind: "primary_assistant" },
    "supported_encodings": ["v1"],
  };
}

/**
 * The headers of a request: the access token, JSON in, an event stream out,
 * and the device and language headers the web client sends.
 * @param token the access token (never logged)
 * @param deviceId a stable id of this server, sent as `Oai-Device-Id`
 */
export function buildHeaders(token: string, deviceId: string): Headers {
  return new Headers({
    "authorization": `Bearer ${token}`,
    "content-type": "application/json",
    "accept": "text/event-stream",
    "oai-device-id": deviceId,
    "oai-language": "en-US",
  });
}
