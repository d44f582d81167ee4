/**
 * The ChatGPT web backend's failures as AppErrors. Its error bodies carry
 * `detail` (a string or an object with `code`), a bot check answers with an
 * HTML page, and a stream may end in an `error` field or a plain
 * "Internal Server Error" line. Client-visible messages name the status and
 * the upstream's error code only, never the upstream's text or HTML.
 * @module
 */

import { AppError, Code } from "../../errors.ts";
import {
  isTransientStatus,
  reportedInStream,
  responseErrorBase,
  statusLabel,
  upstreamFailed,
  upstreamRateLimited,
  upstreamRejected,
} from "../http_errors.ts";

export { errorFromConnection, truncatedStream } from "../http_errors.ts";

/** What matters of an error body: the `detail.code`, and whether it is an HTML page. */
export interface WebErrorInfo {
  /** `detail.code` (or `error.code`), or a known code recognised in a string detail. */
  code: string | null;
  /** The body is an HTML page (a Cloudflare or bot check). */
  html: boolean;
}

/**
 * Reads an error body of the web backend.
 * @param text the raw body
 * @param contentType the response's content type
 */
export function parseWebErrorBody(text: string, contentType: string): WebErrorInfo {
  const html = contentType.includes("text/html") || /^\s*</.test(text);
  if (html) return { code: null, html };
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { code: null, html };
  }
  if (typeof body !== "object" || body === null) return { code: null, html };
  const record = body as Record<string, unknown>;
  const detail = record.detail ?? record.error;
  if (typeof detail === "string") {
    // Older deployments send only a sentence; recognise the one that matters.
    return { code: /conversation not found/i.test(detail) ? "conversation_not_found" : null, html };
  }
  if (typeof detail === "object" && detail !== null) {
    const code = (detail as Record<string, unknown>).code;
    return { code: typeof code === "string" ? code : null, html };
  }
  return { code: null, html };
}

/**
 * The upstream forgot its conversation: the client's ids are fine, but this
 * branch cannot go on upstream.
 */
function conversationGone(status: number): AppError {
  return new AppError(
    Code.FailedPrecondition,
    "Cannot continue the conversation: the upstream conversation is gone (start a new one)",
    { upstreamStatus: status },
  );
}

/**
 * Maps an error response of the web backend (before any stream) to an AppError.
 * @param status the HTTP status
 * @param headers the response headers (`retry-after*`, content type)
 * @param bodyText the response body
 */
export function webErrorFromResponse(status: number, headers: Headers, bodyText: string): AppError {
  const info = parseWebErrorBody(bodyText, headers.get("content-type") ?? "");
  const what = statusLabel(status, info.code);
  const base = responseErrorBase(status, headers);
  if (info.code === "conversation_not_found") return conversationGone(status);
  if (info.html) {
    return new AppError(
      Code.Unavailable,
      `Cannot ask the upstream: it blocked the request with a bot check (status ${status})`,
      { ...base, reason: "upstream_error" },
    );
  }
  if (status === 401 || status === 403) {
    return new AppError(
      Code.Unavailable,
      `Cannot ask the upstream: it refused the server's access token (${what})`,
      { ...base, reason: "upstream_auth" },
    );
  }
  if (status === 429) return upstreamRateLimited(what, base, true);
  if (status === 400 || status === 413 || status === 422) return upstreamRejected(what, base);
  return upstreamFailed(what, base, isTransientStatus(status));
}

/**
 * The error of a 200 answer that is not an event stream (a JSON error body).
 * @param contentType the content type received
 * @param bodyText the body, for its error code only
 */
export function webErrorFromNonStream(contentType: string, bodyText: string): AppError {
  const info = parseWebErrorBody(bodyText, contentType);
  if (info.code === "conversation_not_found") return conversationGone(200);
  const label = info.code ? ` (${info.code})` : info.html ? " (an HTML page)" : "";
  return new AppError(
    Code.Unavailable,
    `Cannot read the upstream answer: it sent no event stream${label}`,
    { reason: "upstream_error", upstreamStatus: 200 },
  );
}

/**
 * The error an upstream reported inside the stream (`error` or `error_code`).
 * @param error the reported value; only a code is kept from it
 */
export function webErrorFromStream(error: unknown): AppError {
  let label: string | null = null;
  if (typeof error === "object" && error !== null) {
    const code = (error as Record<string, unknown>).code;
    if (typeof code === "string") label = code;
  } else if (typeof error === "string" && /^[\w.-]{1,64}$/.test(error)) {
    label = error;
  }
  return reportedInStream(label);
}
