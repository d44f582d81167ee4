/**
 * Errors of the OpenAI-compatible routes: a parameter error that names the
 * offending field (`param`), and the one place where any error becomes an
 * OpenAI-shaped JSON response, so SDK clients raise their usual classes
 * (`BadRequestError`, `NotFoundError`, `RateLimitError` …).
 * @module
 */

import { AppError, Code } from "../errors.ts";
import type { CallContext } from "../providers/provider.ts";
import { errorHeaders, httpStatus, openAIErrorBody } from "./wire_errors.ts";

/** A bad request naming the field at fault, as OpenAI's `param`. */
export class ParamError extends AppError {
  /** The request field at fault, e.g. `tools` or `input[1].content`. */
  readonly param: string;

  /**
   * @param param the request field at fault
   * @param message a client-safe message, "Cannot <verb> <thing>: <state>"
   * @param code the status code @default Code.InvalidArgument
   */
  constructor(param: string, message: string, code: Code = Code.InvalidArgument) {
    super(code, message);
    this.name = "ParamError";
    this.param = param;
  }
}

/** A JSON response with no-store caching. */
export function jsonResponse(
  body: unknown,
  status = 200,
  headers: Record<string, string> = {},
): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", "cache-control": "no-store", ...headers },
  });
}

/**
 * Turns anything thrown on an OpenAI route into OpenAI's error response, and
 * logs it (code and cause, never the request's text).
 */
export function openAIErrorResponse(err: unknown, ctx: CallContext): Response {
  const error = logOpenAIError(err, ctx);
  const status = httpStatus(error);
  const param = error instanceof ParamError ? error.param : null;
  return jsonResponse(openAIErrorBody(error, param), status, errorHeaders(error));
}

/**
 * Logs a failure of an OpenAI route (code, reason and the cause's name and
 * message, never the request's text) and returns it as an AppError.
 */
export function logOpenAIError(err: unknown, ctx: CallContext): AppError {
  const error = AppError.from(err);
  const status = httpStatus(error);
  const fields = { code: Code[error.code], reason: error.reason, status };
  if (status >= 500) ctx.logger.error("openai route failed", { ...fields, err: error.cause });
  else ctx.logger.info("openai route refused", fields);
  return error;
}

/** OpenAI's 405 for a known path asked with the wrong method. */
export function methodNotAllowed(method: string, allowed: string): Response {
  const error = new AppError(
    Code.InvalidArgument,
    `Cannot ${method} this path: it accepts ${allowed} only`,
  );
  const body = openAIErrorBody(error);
  return jsonResponse(body, 405, { allow: allowed });
}

/** Reads a JSON object body. */
export async function readJsonObject(req: Request): Promise<Record<string, unknown>> {
  let value: unknown;
  try {
    value = await req.json();
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw new ParamError("body", "Cannot parse the request body: it is not valid JSON");
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new ParamError("body", "Cannot read the request body: it is not a JSON object");
  }
  return value as Record<string, unknown>;
}
