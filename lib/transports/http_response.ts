/**
 * Small builders of HTTP responses shared by the routes: JSON bodies, the one
 * error body shape, and the CORS headers every response carries.
 * @module
 */

import type { AppError } from "../errors.ts";
import { errorBody, errorHeaders, httpStatus } from "./wire_errors.ts";

/** The methods our routes use, for CORS preflight answers. */
export const CORS_METHODS = "GET, POST, PATCH, DELETE, OPTIONS";

/** Headers that let a browser on any origin call the API. */
export function corsHeaders(): Record<string, string> {
  return {
    "access-control-allow-origin": "*",
    "access-control-expose-headers": "X-Request-Id, Retry-After",
  };
}

/** The 204 answer to a CORS preflight (`OPTIONS`). */
export function preflightResponse(): Response {
  return new Response(null, {
    status: 204,
    headers: {
      ...corsHeaders(),
      "access-control-allow-methods": CORS_METHODS,
      "access-control-allow-headers": "Authorization, Content-Type, X-Request-Id, Accept",
      "access-control-max-age": "86400",
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

/** The error response `{"error": {"code", "message"}}` with its status and headers. */
export function errorResponse(err: AppError): Response {
  const headers: Record<string, string> = { ...errorHeaders(err) };
  const status = httpStatus(err);
  if (status === 401) headers["www-authenticate"] = "Bearer";
  return jsonResponse(status, errorBody(err), headers);
}
