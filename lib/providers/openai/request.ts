/**
 * How OpenAI Chat Completions requests are built: the URL, the headers with
 * our key, and the streaming body.
 * @module
 */

import type { ChatRequest } from "../provider.ts";

/**
 * The endpoint URL under the configured base (which already ends in `/v1`).
 * @param baseUrl e.g. `https://api.openai.com/v1`
 * @param path e.g. `/chat/completions`
 */
export function endpoint(baseUrl: string, path: string): string {
  return baseUrl.replace(/\/+$/, "") + path;
}

/**
 * The headers of an upstream call.
 * @param key the upstream key
 * @param stream whether the answer is an event stream
 */
export function upstreamHeaders(key: string, stream: boolean): Record<string, string> {
  return {
    authorization: `Bearer ${key}`,
    "content-type": "application/json",
    accept: stream ? "text/event-stream" : "application/json",
  };
}

/** The streaming Chat Completions body of one request. */
export function chatBody(req: ChatRequest): Record<string, unknown> {
  return {
    model: req.model,
    messages: req.messages.map((m) => ({ role: m.role, content: m.content })),
    stream: true,
    stream_options: { include_usage: true },
  };
}
