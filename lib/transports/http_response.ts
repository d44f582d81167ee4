/**
 * Small builders of HTTP responses shared by the routes: JSON bodies, the one
 * error body shape, and the CORS headers every response carries.
 * @module
 */

import type { AppError } from "../errors.ts";
import { errorBody, errorHeaders, httpStatus, openAIErrorBody } from "./wire_errors.ts";

/** The methods our routes use, for CORS preflight answers. */
export const CORS_METHODS = "GET, POST, PATCH, DELETE, OPTIONS";

/** Headers that let a browser on any origin call the API. */
export function corsHeaders(): Record<string, string> {
  return {
    "access-control-allow-origin": "*",
    "access-control-expose-headers": "X-Request-Id, Retry-After",
  };
}

/** The request headers a preflight allows when the browser names none. */
export const CORS_HEADERS = "Authorization, Content-Type, X-Request-Id, Accept";

/** A header list as a browser sends it in `Access-Control-Request-Headers`. */
const HEADER_LIST = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+(\s*,\s*[!#$%&'*+.^_`|~0-9A-Za-z-]+)*$/;

/**
 * The 204 answer to a CORS preflight (`OPTIONS`). The headers the browser asks
 * for are allowed as asked: SDKs send their own (the `openai` SDK sends
 * `x-stainless-*` on every call), and `*` would not cover `Authorization`.
 * @param req the preflight request
 */
export function preflightResponse(req: Request): Response {
  const asked = req.headers.get("access-control-request-headers")?.trim() ?? "";
  return new Response(null, {
    status: 204,
    headers: {
      ...corsHeaders(),
      "access-control-allow-methods": CORS_METHODS,
      "access-control-allow-headers": HEADER_LIST.test(asked) ? asked : CORS_HEADERS,
      "access-control-max-age": "86400",
      "vary": "Access-Control-Request-Headers",
    },
  });
}

/**
 * A JSON response.
 * @param status the HTTP status
 * @param body anything JSON-serialisable
 * @param headers extra headers
 */
export function jsonResponse(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
  });
}

/**
 * The error response with its status and headers (`Retry-After`,
 * `WWW-Authenticate` on 401): SPEC's `{"error": {"code", "message"}}`, or
 * OpenAI's error shape for the routes under `/v1/`.
 * @param err the error
 * @param shape which body shape @default "easybackend"
 */
export function errorResponse(
  err: AppError,
  shape: "easybackend" | "openai" = "easybackend",
): Response {
  const headers: Record<string, string> = { ...errorHeaders(err) };
  const status = httpStatus(err);
  if (status === 401) headers["www-authenticate"] = "Bearer";
  const body = shape === "openai" ? openAIErrorBody(err) : errorBody(err);
  return jsonResponse(status, body, headers);
}
