/**
 * OpenAI's upstream failures as AppErrors: a pure table from status, error
 * code and headers to {@link Code}, plus connection failures and mid-stream
 * error events. Messages name the status and OpenAI's error code only; the
 * upstream's own message may quote the key, so it is never passed on.
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

/** What matters of an upstream error body. */
export interface UpstreamErrorInfo {
  /** OpenAI's `error.code` (or a ChatGPT-style `detail.code`), if any. */
  code: string | null;
  /** OpenAI's `error.type`, if any. */
  type: string | null;
}

/**
 * Reads `{"error": {code, type}}` (or `{"detail": …}`) from a body; a body
 * that is not JSON (an HTML page) gives nulls instead of throwing.
 * @param text the raw response body
 */
export function parseErrorBody(text: string): UpstreamErrorInfo {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { code: null, type: null };
  }
  if (typeof body !== "object" || body === null) return { code: null, type: null };
  const record = body as Record<string, unknown>;
  const err = record.error ?? record.detail;
  if (typeof err !== "object" || err === null) return { code: null, type: null };
  const e = err as Record<string, unknown>;
  return {
    code: typeof e.code === "string" ? e.code : null,
    type: typeof e.type === "string" ? e.type : null,
  };
}

/**
 * Maps an upstream error response (before any stream) to an AppError.
 * @param status the HTTP status
 * @param headers the response headers (`retry-after*`, `x-should-retry`)
 * @param bodyText the response body, JSON or not
 */
export function errorFromResponse(status: number, headers: Headers, bodyText: string): AppError {
  const info = parseErrorBody(bodyText);
  const what = statusLabel(status, info.code ?? info.type);
  const base = responseErrorBase(status, headers);
  const shouldRetry = headers.get("x-should-retry");
  const retryable = (fallback: boolean) =>
    shouldRetry === "true" ? true : shouldRetry === "false" ? false : fallback;

  if (status === 400 && info.code === "context_length_exceeded") {
    return new AppError(
      Code.InvalidArgument,
      "Cannot send the conversation: the context budget is too large for the model " +
        "(set CONTEXT_TOKENS lower)",
      { ...base, reason: "context_length_exceeded" },
    );
  }
  if (status === 400 || status === 404 || status === 422) return upstreamRejected(what, base);
  if (status === 401 || status === 403) {
    return new AppError(
      Code.Unavailable,
      `Cannot ask the upstream: it refused the server's credential (${what})`,
      { ...base, reason: "upstream_auth", retryable: retryable(false) },
    );
  }
  if (status === 429) {
    const quota = info.code === "insufficient_quota" || info.type === "insufficient_quota";
    if (!quota) return upstreamRateLimited(what, base, retryable(true));
    return new AppError(
      Code.ResourceExhausted,
      `Cannot ask the upstream: the server's quota is used up (${what})`,
      { ...base, reason: "rate_limited", retryable: retryable(false) },
    );
  }
  return upstreamFailed(what, base, retryable(isTransientStatus(status)));
}

/**
 * Maps an error object that arrived inside a stream (`data: {"error": …}`):
 * only its code or type is kept.
 * @param error the `error` value of the event
 */
export function errorFromStreamEvent(error: unknown): AppError {
  const e = typeof error === "object" && error !== null ? error as Record<string, unknown> : {};
  const label = typeof e.code === "string" ? e.code : typeof e.type === "string" ? e.type : null;
  return reportedInStream(label);
}
