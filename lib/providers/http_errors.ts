/**
 * The upstream failures every HTTP provider maps the same way, as AppErrors:
 * a broken connection, a broken or erroring stream, and the common statuses
 * (rejected, rate-limited, failed). Each provider's `errors.ts` reads its own
 * error bodies and picks among these; messages name the status and the
 * upstream's error code only, never the upstream's own text.
 * @module
 */

import { abortReason, AppError, Code } from "../errors.ts";
import { retryAfterMs } from "./pool.ts";

/** What every error from an upstream response carries. */
export interface ResponseErrorBase {
  upstreamStatus: number;
  retryAfterMs: number | undefined;
}

/**
 * The base of an error from a response: its status and `retry-after*` hint.
 * @param status the HTTP status
 * @param headers the response headers
 */
export function responseErrorBase(status: number, headers: Headers): ResponseErrorBase {
  return { upstreamStatus: status, retryAfterMs: retryAfterMs(headers) };
}

/**
 * `status 429` or `status 429, <label>`, as messages name a failure.
 * @param status the HTTP status
 * @param label the upstream's error code, if any
 */
export function statusLabel(status: number, label: string | null): string {
  return label ? `status ${status}, ${label}` : `status ${status}`;
}

/** Whether a status is worth another attempt: timeouts, conflicts and 5xx. */
export function isTransientStatus(status: number): boolean {
  return status === 408 || status === 409 || status >= 500;
}

/**
 * The upstream rejected the request itself (400-like): not retried.
 * @param what the status label ({@link statusLabel})
 * @param base status and retry hint
 */
export function upstreamRejected(what: string, base: ResponseErrorBase): AppError {
  return new AppError(
    Code.InvalidArgument,
    `Cannot ask the upstream: it rejected the request (${what})`,
    base,
  );
}

/**
 * The upstream is rate-limiting our credential.
 * @param what the status label ({@link statusLabel})
 * @param base status and retry hint
 * @param retryable whether the pool may try again
 */
export function upstreamRateLimited(
  what: string,
  base: ResponseErrorBase,
  retryable: boolean,
): AppError {
  return new AppError(
    Code.ResourceExhausted,
    `Cannot ask the upstream: it is rate-limiting the server (${what})`,
    { ...base, reason: "rate_limited", retryable },
  );
}

/**
 * Any other failed status.
 * @param what the status label ({@link statusLabel})
 * @param base status and retry hint
 * @param retryable whether the pool may try again
 */
export function upstreamFailed(
  what: string,
  base: ResponseErrorBase,
  retryable: boolean,
): AppError {
  return new AppError(
    Code.Unavailable,
    `Cannot ask the upstream: it failed (${what})`,
    { ...base, reason: "upstream_error", retryable },
  );
}

/**
 * Maps a failed `fetch` or body read: the signal's reason when it fired
 * (canceled, timeout), otherwise a retryable Unavailable.
 * @param err what fetch or the body read threw
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
 * An error the upstream reported inside its stream. Retryable: the pool only
 * retries it when no text was sent yet.
 * @param label the upstream's error code, if any (never its message)
 */
export function reportedInStream(label: string | null): AppError {
  return new AppError(
    Code.Unavailable,
    `Cannot read the upstream answer: the upstream reported an error${label ? ` (${label})` : ""}`,
    { reason: "upstream_error", retryable: true },
  );
}

/**
 * The error of a broken stream: it stopped before its end, or a chunk cannot
 * be read.
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
