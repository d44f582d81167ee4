/**
 * The stream and error answers of the fake ChatGPT web backend (UPSTREAMS.md
 * §5, §7): scripts for `ChatGPTWebFake.next` (chatgpt_web_upstream.ts), in the v1 delta format, the
 * cumulative format, and the backend's error bodies.
 * @module
 */

import type { FakeScript } from "./fake_server.ts";

export type { FakeScript, FakeStep } from "./fake_server.ts";

/** One SSE event as text (`event:` only when given). */
export function sseEvent(data: string, event?: string): string {
  return (event ? `event: ${event}\n` : "") + `data: ${data}\n\n`;
}

/** JSON with every non-ASCII character as `\uXXXX`, as captures of the backend show. */
export function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => {
    return "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0");
  });
}

/** What a scripted answer says. */
export interface AnswerOptions {
  conversationId: string;
  messageId: string;
  /** The text pieces, in order. */
  pieces: string[];
  /**
   * `finish_details.type`; `max_tokens` also ends the turn with `end_turn:
   * false`, as an answer a `continue` can resume. @default "stop"
   */
  finish?: string;
  /**
   * Text the message already holds before the pieces: a `continue` answer
   * that repeats the whole text so far sets it, one that restarts from empty
   * leaves it out. @default ""
   */
  before?: string;
  modelSlug?: string;
  /** The user message echoed first (cumulative) or as `input_message` (v1). */
  userText?: string;
  /** Stop before the answer completes (no finish, no `[DONE]`). @default false */
  cut?: boolean;
}

function assistantMessage(o: AnswerOptions, text: string, final: boolean) {
  const metadata: Record<string, unknown> = {
    "message_type": "next",
    "model_slug": o.modelSlug ?? "gpt-4o-mini",
    "parent_id": "u-" + o.messageId,
  };
  if (final) metadata["finish_details"] = { type: o.finish ?? "stop", "stop_tokens": [200002] };
  return {
    id: o.messageId,
    author: { role: "assistant", name: null, metadata: {} },
    content: { "content_type": "text", parts: [text] },
    status: final ? "finished_successfully" : "in_progress",
    "end_turn": final ? o.finish !== "max_tokens" : null,
    weight: 1.0,
    metadata,
    recipient: "all",
    channel: null,
  };
}

/**
 * The cumulative format (§5.1): echoed system and user snapshots, a growing
 * `parts[0]`, trailing-space padding, `\uXXXX` escapes, envelopes, `[DONE]`.
 */
export function cumulativeSteps(o: AnswerOptions): string[] {
  const cid = o.conversationId;
  const out: string[] = [];
  const echo = (role: string, text: string) => ({
    message: {
      id: `${role}-${o.messageId}`,
      author: { role },
      content: { "content_type": "text", parts: [text] },
      status: "finished_successfully",
      recipient: "all",
    },
    "conversation_id": cid,
    error: null,
  });
  out.push(sseEvent(asciiJson(echo("system", ""))));
  if (o.userText !== undefined) out.push(sseEvent(asciiJson(echo("user", o.userText))));
  let text = o.before ?? "";
  o.pieces.forEach((piece, i) => {
    text += piece;
    const final = !o.cut && i === o.pieces.length - 1;
    const env = { message: assistantMessage(o, text, final), "conversation_id": cid, error: null };
    out.push(`data: ${asciiJson(env)}   \n\n`);
    if (i === 0) {
      out.push(sseEvent(JSON.stringify({ type: "moderation", "conversation_id": cid })));
    }
  });
  if (o.cut) return out;
  out.push(
    sseEvent(JSON.stringify({ type: "title_generation", title: "Hi", "conversation_id": cid })),
  );
  out.push(sseEvent("[DONE]"));
  return out;
}

/** Options of the v1 format beyond the answer. */
export interface V1Options {
  /** Send the `delta_encoding` header. @default true */
  header?: boolean;
  /** Send ops as bare `data:` lines, no `event: delta`. @default false */
  bareOps?: boolean;
  /** A tool message in channel 0 first; the answer then comes in channel 1. @default false */
  toolMessage?: boolean;
}

/**
 * The v1 delta format (§5.2): the header, control envelopes, a root per
 * channel, sticky `{"v": …}` continuations, a final `patch` that appends the
 * last piece and merges `finish_details` into the metadata, `[DONE]`.
 */
export function v1Steps(o: AnswerOptions & V1Options): string[] {
  const cid = o.conversationId;
  const op = (value: unknown) => sseEvent(JSON.stringify(value), o.bareOps ? undefined : "delta");
  const out: string[] = [];
  if (o.header ?? true) out.push(sseEvent('"v1"', "delta_encoding"));
  out.push(sseEvent(JSON.stringify({ type: "resume_conversation_token", "conversation_id": cid })));
  if (o.userText !== undefined) {
    const input = { type: "input_message", "input_message": { content: { parts: [o.userText] } } };
    out.push(sseEvent(JSON.stringify(input)));
  }
  let channel = 0;
  if (o.toolMessage) {
    const tool = {
      id: "tool-" + o.messageId,
      author: { role: "tool", name: "web" },
      content: { "content_type": "text", parts: [""] },
      status: "in_progress",
      recipient: "all",
      metadata: {},
    };
    out.push(
      op({ p: "", o: "add", v: { message: tool, "conversation_id": cid, error: null }, c: 0 }),
    );
    out.push(op({ p: "/message/content/parts/0", o: "append", v: "tool output, not the answer" }));
    channel = 1;
  }
  const root = {
    message: assistantMessage(o, o.before ?? "", false),
    "conversation_id": cid,
    error: null,
  };
  out.push(op({ p: "", o: "add", v: root, c: channel }));
  const last = o.cut ? o.pieces.length : o.pieces.length - 1;
  o.pieces.slice(0, last).forEach((piece, i) => {
    out.push(op(i === 0 ? { p: "/message/content/parts/0", o: "append", v: piece } : { v: piece }));
  });
  if (o.cut) return out;
  const patch = [
    { p: "/message/content/parts/0", o: "append", v: o.pieces[o.pieces.length - 1] ?? "" },
    { p: "/message/status", o: "replace", v: "finished_successfully" },
    { p: "/message/end_turn", o: "replace", v: o.finish !== "max_tokens" },
    {
      p: "/message/metadata",
      o: "append",
      v: { "is_complete": true, "finish_details": { type: o.finish ?? "stop" } },
    },
  ];
  out.push(op({ p: "", o: "patch", v: patch }));
  out.push(sseEvent(JSON.stringify({ type: "message_stream_complete", "conversation_id": cid })));
  out.push(sseEvent("[DONE]"));
  return out;
}

/** The backend's error answers (§5.3). */
export type WebErrorKind =
  | "token_expired"
  | "rate_limited"
  | "conversation_not_found"
  | "conversation_not_found_string"
  | "cloudflare"
  | "invalid_body"
  | "server_error"
  | "json_200";

/**
 * A scripted error answer of the backend.
 * @param kind which one
 * @param headers extra headers such as `retry-after`
 */
export function webErrorScript(kind: WebErrorKind, headers?: Record<string, string>): FakeScript {
  switch (kind) {
    case "token_expired":
      return {
        status: 401,
        headers,
        json: {
          detail: {
            message: "Your authentication token has expired. Please try signing in again.",
            type: "invalid_request_error",
            param: null,
            code: "token_expired",
          },
        },
      };
    case "rate_limited":
      return {
        status: 429,
        headers,
        json: { detail: "Too many requests in 1 hour. Try again later." },
      };
    case "conversation_not_found":
      return {
        status: 404,
        headers,
        json: { detail: { message: "Conversation not found", code: "conversation_not_found" } },
      };
    case "conversation_not_found_string":
      return { status: 404, headers, json: { detail: "Conversation not found" } };
    case "cloudflare":
      return {
        status: 403,
        headers,
        text: '<!DOCTYPE html><html><body><div class="cf-please-wait">Just a moment...' +
          "<script>secret-challenge-token</script></div></body></html>",
      };
    case "invalid_body":
      return { status: 422, headers, json: { detail: [{ loc: ["body", "action"], msg: "bad" }] } };
    case "server_error":
      return { status: 500, headers, json: { detail: "Internal server error" } };
    case "json_200":
      return { status: 200, headers, json: { detail: { code: "some_failure", message: "no" } } };
  }
}
