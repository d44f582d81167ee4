/**
 * Turns whatever went wrong into one line a person can act on: the server is
 * not reachable, the token is wrong, the id is unknown. No stack traces.
 * @module
 */

import { AppError, Code } from "../lib/errors.ts";

/** The code of an HTTP status, the inverse of the server's table. */
export function codeFromHttpStatus(status: number): Code {
  switch (status) {
    case 400:
      return Code.InvalidArgument;
    case 401:
      return Code.Unauthenticated;
    case 403:
      return Code.PermissionDenied;
    case 404:
      return Code.NotFound;
    case 409:
      return Code.Aborted;
    case 413:
    case 429:
      return Code.ResourceExhausted;
    case 499:
      return Code.Canceled;
    case 501:
      return Code.Unimplemented;
    case 502:
    case 503:
      return Code.Unavailable;
    case 504:
      return Code.DeadlineExceeded;
    default:
      return Code.Unknown;
  }
}

/** The code of a JSON error `code` name such as `not_found` or `upstream_timeout`. */
export function codeFromName(name: unknown): Code {
  if (typeof name !== "string") return Code.Unknown;
  const known: Record<string, Code> = {
    "payload_too_large": Code.ResourceExhausted,
    "rate_limited": Code.ResourceExhausted,
    "context_length_exceeded": Code.InvalidArgument,
    "upstream_error": Code.Unavailable,
    "upstream_auth": Code.Unavailable,
    "upstream_timeout": Code.DeadlineExceeded,
    "shutting_down": Code.Unavailable,
  };
  if (name in known) return known[name];
  const camel = name.replace(/(^|_)([a-z])/g, (_m, _p, c: string) => c.toUpperCase());
  const code = (Code as unknown as Record<string, number>)[camel];
  return typeof code === "number" ? code : Code.Unknown;
}

/** The failure of a server's answer: a `{"error": {"code", "message"}}` body or its status. */
export async function failureFromResponse(res: Response): Promise<AppError> {
  let message = "";
  let name: unknown = undefined;
  try {
    const body = await res.json();
    message = typeof body?.error?.message === "string" ? body.error.message : "";
    name = body?.error?.code;
  } catch {
    // Not JSON: the status says enough.
  }
  const code = name === undefined ? codeFromHttpStatus(res.status) : codeFromName(name);
  return serverFailure(code === Code.Unknown ? codeFromHttpStatus(res.status) : code, message, {
    status: String(res.status),
  });
}

/**
 * A failure the server reported, worded for the terminal. Authentication gets
 * a hint about `--token`, since that is the usual fix.
 */
export function serverFailure(
  code: Code,
  message: string,
  where: { status: string },
): AppError {
  if (code === Code.Unauthenticated) {
    return new AppError(
      code,
      `Cannot authenticate with the server: the token is missing or not valid (${where.status}); pass --token`,
    );
  }
  const text = message.trim() || `Cannot complete the request: the server answered ${where.status}`;
  return new AppError(code, `${text} (${where.status})`);
}

/**
 * A failed answer whose partial reply the server kept (stored `incomplete`):
 * its ids say where the next question continues, also in a conversation the
 * failed answer had just started.
 */
export class PartialAnswerError extends AppError {
  /** The conversation of the partial reply. */
  readonly conversationId: string;
  /** The partial reply: the parent of the next question. */
  readonly parentId: string;

  constructor(failure: AppError, ids: { conversationId: string; parentId: string }) {
    super(failure.code, failure.message, { cause: failure.cause, reason: failure.reason });
    this.name = "PartialAnswerError";
    this.conversationId = ids.conversationId;
    this.parentId = ids.parentId;
  }
}

/**
 * The failure of an answer's error frame (`{code, message}`, plus
 * `conversation_id` and `parent_id` when the server kept the partial reply).
 */
export function answerFailure(frame: Record<string, unknown>): AppError {
  const message = typeof frame.message === "string" ? frame.message : "";
  const failure = serverFailure(codeFromName(frame.code), message, {
    status: String(frame.code ?? "error"),
  });
  const conversationId = frame.conversation_id;
  const parentId = frame.parent_id;
  if (typeof conversationId !== "string" || typeof parentId !== "string") return failure;
  if (conversationId === "" || parentId === "") return failure;
  return new PartialAnswerError(failure, { conversationId, parentId });
}

/** The failure of a server that cannot be reached at all. */
export function unreachable(address: string, cause: unknown): AppError {
  const detail = messageChain(cause);
  // Deno's node:tls refuses an IP address as the TLS server name, which
  // grpc-js sets from the address.
  const state = /refused|tcp connect/i.test(detail)
    ? "connection refused"
    : /servername.*IP address/i.test(detail)
    ? "TLS needs a host name here, not an IP address (try localhost)"
    : /certificate|tls|ssl/i.test(detail)
    ? "TLS failed (see --ca)"
    : /dns|lookup|resolve|name/i.test(detail)
    ? "unknown host"
    : "no connection";
  return new AppError(Code.Unavailable, `Cannot reach the server at ${address}: ${state}`, {
    cause,
  });
}

/** The messages of an error and its causes, joined (for classification only). */
function messageChain(err: unknown): string {
  const parts: string[] = [];
  for (let e = err, i = 0; e !== undefined && e !== null && i < 5; i++) {
    parts.push(e instanceof Error ? e.message : String(e));
    e = e instanceof Error ? e.cause : undefined;
  }
  return parts.join(" | ");
}

/** The error of an answer the user canceled. */
export function canceled(): AppError {
  return new AppError(Code.Canceled, "Cannot finish the answer: it was canceled");
}

/** One line for the terminal, whatever was thrown. */
export function describeFailure(err: unknown): string {
  if (err instanceof AppError) return err.message;
  if (err instanceof Error && err.name === "AbortError") return canceled().message;
  if (err instanceof Deno.errors.NotFound) return `Cannot read a file: ${err.message}`;
  return `Cannot complete the request: ${err instanceof Error ? err.message : String(err)}`;
}
