/**
 * The one error model of EasyBackend: a {@link Code} in gRPC numbering plus an
 * {@link AppError} that every layer throws. Transports turn it into wire format
 * with pure tables (see `lib/transports/wire_errors.ts`); nothing else does.
 *
 * @example
 * ```ts
 * import { AppError, Code } from "./errors.ts";
 * const err = AppError.from(new DOMException("gone", "AbortError"));
 * if (err.code !== Code.Canceled) throw new Error("unexpected");
 * ```
 * @module
 */

/** Status codes, numbered as gRPC numbers them. */
export enum Code {
  Ok = 0,
  Canceled = 1,
  Unknown = 2,
  InvalidArgument = 3,
  DeadlineExceeded = 4,
  NotFound = 5,
  AlreadyExists = 6,
  PermissionDenied = 7,
  ResourceExhausted = 8,
  FailedPrecondition = 9,
  Aborted = 10,
  OutOfRange = 11,
  Unimplemented = 12,
  Internal = 13,
  Unavailable = 14,
  DataLoss = 15,
  Unauthenticated = 16,
}

/**
 * A finer reason beside the code, for the few places where one code has two
 * wire forms (HTTP 413 vs 429, 502 vs 503) or where a client wants to branch.
 */
export type Reason =
  | "payload_too_large"
  | "rate_limited"
  | "context_length_exceeded"
  | "upstream_error"
  | "upstream_auth"
  | "upstream_timeout"
  | "shutting_down"
  | "store_busy";

/** Options of {@link AppError}. */
export interface AppErrorOptions {
  /** The underlying error; logged, never sent to a client. */
  cause?: unknown;
  /** A finer reason beside the code. */
  reason?: Reason;
  /** How long the client should wait before trying again, in milliseconds. */
  retryAfterMs?: number;
  /** The upstream HTTP status that caused this error, if any. */
  upstreamStatus?: number;
  /** Whether the pool may retry the call with another attempt. @default false */
  retryable?: boolean;
}

/** The error every layer throws. Its message is safe to send to a client. */
export class AppError extends Error {
  /** The status code. */
  readonly code: Code;
  /** A finer reason, if any. */
  readonly reason?: Reason;
  /** Suggested wait before a retry, in milliseconds. */
  readonly retryAfterMs?: number;
  /** The upstream HTTP status behind this error, if any. */
  readonly upstreamStatus?: number;
  /** Whether another attempt may succeed. */
  readonly retryable: boolean;

  /**
   * @param code the status code
   * @param message a client-safe message, "Cannot <verb> <thing>: <state>"
   * @param options cause, reason, retry hints
   */
  constructor(code: Code, message: string, options: AppErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = "AppError";
    this.code = code;
    this.reason = options.reason;
    this.retryAfterMs = options.retryAfterMs;
    this.upstreamStatus = options.upstreamStatus;
    this.retryable = options.retryable ?? false;
  }

  /**
   * Turns anything thrown into an AppError: an AppError stays itself, an
   * `AbortError` becomes {@link Code.Canceled}, a `TimeoutError` becomes
   * {@link Code.DeadlineExceeded}, anything else {@link Code.Internal} with a
   * generic message (the original is kept as `cause`, for the log only).
   */
  static from(err: unknown): AppError {
    if (err instanceof AppError) return err;
    if (err instanceof DOMException || (err instanceof Error && "name" in err)) {
      const name = (err as Error).name;
      if (name === "AbortError") {
        return new AppError(Code.Canceled, "Cannot finish the call: it was canceled", {
          cause: err,
        });
      }
      if (name === "TimeoutError") {
        return new AppError(Code.DeadlineExceeded, "Cannot finish the call: the deadline passed", {
          cause: err,
          reason: "upstream_timeout",
        });
      }
    }
    return new AppError(Code.Internal, "Cannot complete the request: internal error", {
      cause: err,
    });
  }
}

/** The snake_case name of a code (`not_found`), as JSON error bodies and metrics use it. */
export function codeName(code: Code): string {
  return (Code[code] ?? "Unknown").replace(
    /[A-Z]/g,
    (c, i) => (i === 0 ? "" : "_") + c.toLowerCase(),
  );
}

/**
 * The reason an AbortSignal fired, as an AppError: a signal aborted with an
 * AppError (a timeout, shutdown) keeps it, anything else becomes Canceled.
 */
export function abortReason(signal: AbortSignal): AppError {
  return AppError.from(signal.reason ?? new DOMException("aborted", "AbortError"));
}
