/**
 * Pure tables from the shared error model to each wire: HTTP status and body,
 * gRPC status, the legacy `<|err|>$reason` string, OpenAI's error shape.
 * @module
 */

import { AppError, Code, codeName } from "../errors.ts";

export { codeName };

/** The HTTP status for an error. */
export function httpStatus(err: AppError): number {
  switch (err.code) {
    case Code.InvalidArgument:
    case Code.OutOfRange:
    case Code.FailedPrecondition:
      return 400;
    case Code.Unauthenticated:
      return 401;
    case Code.PermissionDenied:
      return 403;
    case Code.NotFound:
      return 404;
    case Code.AlreadyExists:
    case Code.Aborted:
      return 409;
    case Code.ResourceExhausted:
      return err.reason === "payload_too_large" ? 413 : 429;
    case Code.Canceled:
      return 499;
    case Code.Unimplemented:
      return 501;
    case Code.Unavailable:
      return err.reason === "shutting_down" || err.reason === "store_busy" ? 503 : 502;
    case Code.DeadlineExceeded:
      return 504;
    default:
      return 500;
  }
}

/** Headers that go with an error response (`Retry-After` on 429/503). */
export function errorHeaders(err: AppError): Record<string, string> {
  if (err.retryAfterMs === undefined) return {};
  return { "retry-after": String(Math.max(1, Math.ceil(err.retryAfterMs / 1000))) };
}

/** The JSON body `{"error": {"code", "message"}}` of SPEC's HTTP routes. */
export function errorBody(err: AppError): { error: { code: string; message: string } } {
  return { error: { code: err.reason ?? codeName(err.code), message: err.message } };
}

/** OpenAI's error `type` for an error, so SDK clients raise their usual classes. */
export function openAIErrorType(err: AppError): string {
  switch (err.code) {
    case Code.InvalidArgument:
    case Code.OutOfRange:
    case Code.FailedPrecondition:
    case Code.NotFound:
      return "invalid_request_error";
    case Code.Unauthenticated:
      return "authentication_error";
    case Code.PermissionDenied:
      return "permission_error";
    case Code.ResourceExhausted:
      return err.reason === "payload_too_large" ? "invalid_request_error" : "rate_limit_error";
    default:
      return "server_error";
  }
}

/** OpenAI's error body `{"error": {"message", "type", "param", "code"}}`. */
export function openAIErrorBody(
  err: AppError,
  param: string | null = null,
): { error: { message: string; type: string; param: string | null; code: string } } {
  return {
    error: {
      message: err.message,
      type: openAIErrorType(err),
      param,
      code: err.reason ?? codeName(err.code),
    },
  };
}

/** The gRPC status code for an error (our codes are gRPC's numbering). */
export function grpcStatus(err: AppError): number {
  return err.code;
}

/** The legacy in-band failure frame of the original gRPC and WebSocket protocols. */
export function legacyError(err: AppError): string {
  return `<|err|>$${err.message}`;
}
