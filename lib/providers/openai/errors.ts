/**
 * OpenAI's upstream failures as AppErrors: a pure table from status, error
 * code and headers to {@link Code}, plus connection failures and mid-stream
 * error events. Messages name the status and OpenAI's error code only; the
 * upstream's own message may quote the key, so it is never passed on.
 * @module
 */

import { abortReason, AppError, Code } from "../../errors.ts";
import { retryAfterMs } from "../pool.ts";

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
  const label = info.code ?? info.type;
  const what = label ? `status ${status}, ${label}` : `status ${status}`;
  const retryAfter = retryAfterMs(headers);
  const base = { upstreamStatus: status, retryAfterMs: retryAfter };
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
  if (status === 400 || status === 404 || status === 422) {
    return new AppError(
      Code.InvalidArgument,
      `Cannot ask the upstream: it rejected the request (${what})`,
      base,
    );
  }
  if (status === 401 || status === 403) {
    return new AppError(
      Code.Unavailable,
      `Cannot ask the upstream: it refused the server's credential (${what})`,
      { ...base, reason: "upstream_auth", retryable: retryable(false) },
    );
  }
  if (status === 429) {
    const quota = info.code === "insufficient_quota" || info.type === "insufficient_quota";
    return new AppError(
      Code.ResourceExhausted,
      quota
        ? `Cannot ask the upstream: the server's quota is used up (${what})`
        : `Cannot ask the upstream: it is rate-limiting the server (${what})`,
      { ...base, reason: "rate_limited", retryable: retryable(!quota) },
    );
  }
  const transient = status === 408 || status === 409 || status >= 500;
  return new AppError(
    Code.Unavailable,
    `Cannot ask the upstream: it failed (${what})`,
    { ...base, reason: "upstream_error", retryable: retryable(transient) },
  );
}

/**
 * Maps a failed `fetch` or body read: the signal's reason when it fired
 * (canceled, timeout), otherwise a retryable Unavailable.
 * @param err what fetch threw
 * @param signal the attempt's signal
 */
export function errorFromConnection(err: unknown, signal: AbortSignal): AppError {
  if (signal.aborted) return abortReason(signal);
  if (err instanceof AppError) return err;
  return new AppError(Code.Unavailable, "Cannot reach the upstream: the connection failed", {
    cause: err,
    reason: "upstream_error",
    retryable: true,
  });
}

/**
 * Maps an error object that arrived inside a stream (`data: {"error": …}`).
 * Retryable: the pool only retries it when no text was sent yet.
 * @param error the `error` value of the event
 */
export function errorFromStreamEvent(error: unknown): AppError {
  const e = typeof error === "object" && error !== null ? error as Record<string, unknown> : {};
  const label = typeof e.code === "string" ? e.code : typeof e.type === "string" ? e.type : null;
  return new AppError(
    Code.Unavailable,
    `Cannot read the upstream answer: the upstream reported an error${label ? ` (${label})` : ""}`,
    { reason: "upstream_error", retryable: true },
  );
}

/**
 * The error of a stream that is broken: it stopped before its end marker, or
 * a chunk cannot be read.
 * @param state what is wrong, e.g. "the stream ended before its end marker"
 * @param cause the underlying error, for the log
 */
export function truncatedStream(state: string, cause?: unknown): AppError {
  return new AppError(Code.Unavailable, `Cannot read the upstream answer: ${state}`, {
    cause,
    reason: "upstream_error",
    retryable: true,
  });
}
