/**
 * The request handler of the HTTP listener: CORS, authentication, routing,
 * the one error boundary, the request id header, and one log line plus one
 * metrics observation per request (at the end of the stream for SSE).
 * @module
 */

import { whenBodyEnds } from "../streams.ts";
import { AppError, Code, codeName } from "../errors.ts";
import type { Engine } from "../engine/types.ts";
import type { Logger } from "../log.ts";
import type { MetricsRegistry } from "../metrics.ts";
import type { CallContext } from "../providers/provider.ts";
import { ANONYMOUS } from "../store/store.ts";
import { Authenticator, bearerToken } from "./auth.ts";
import { createCallContext } from "./context.ts";
import { handleAsk, parseAskBody } from "./http_ask.ts";
import { parseJsonBody, readBodyBytes } from "./http_body.ts";
import {
  deleteConversation,
  getConversationPath,
  getConversationTree,
  listConversations,
  renameConversation,
} from "./http_conversations.ts";
import { corsHeaders, errorResponse, jsonResponse, preflightResponse } from "./http_response.ts";
import { matchRoute, type Route } from "./http_router.ts";
import { handleOpenAI } from "./openai_api.ts";
import { buildOpenApiDocument } from "./openapi.ts";
import { docsPage, type DocsPageOptions } from "./docs_page.ts";
import { httpStatus } from "./wire_errors.ts";

/** What the handler needs. */
export interface HttpHandlerOptions {
  engine: Engine;
  logger: Logger;
  metrics: MetricsRegistry;
  authTokens: readonly string[];
  maxBodyBytes: number;
  /** Fires when running calls must be aborted (the grace period of a shutdown is over). */
  abortAll: AbortSignal;
  /** Whether the server is draining (healthz answers 503). */
  draining: () => boolean;
  /** Milliseconds of silence before an SSE keep-alive comment. */
  keepAliveMs?: number;
  /** The other listeners as the docs page shows them. @default ports unknown, no TLS */
  docs?: DocsPageOptions;
}

/**
 * The route label of a request no route matched: metrics are labelled by
 * route pattern, never by the raw path, so that scanners cannot grow them.
 */
const UNMATCHED = "unmatched";

/** Methods counted by name in metrics; others are counted as `OTHER`. */
const METHODS = new Set(["GET", "HEAD", "POST", "PATCH", "PUT", "DELETE", "OPTIONS"]);

/** One request's facts, for the log line and the metrics. */
interface Outcome {
  route: string;
  conversationId: string | null;
  err: AppError | null;
  streaming: boolean;
}

/** Makes the `Deno.serve` handler. */
export function createHttpHandler(
  options: HttpHandlerOptions,
): (req: Request) => Promise<Response> {
  const auth = new Authenticator(options.authTokens);
  const requests = options.metrics.counter(
    "easybackend_http_requests_total",
    "HTTP requests by method, route and status",
  );
  const durations = options.metrics.histogram(
    "easybackend_http_request_duration_seconds",
    "HTTP request duration (until the end of the stream for SSE)",
  );

  return async function handle(req: Request): Promise<Response> {
    const started = performance.now();
    if (req.method === "OPTIONS") return preflightResponse(req);
    const url = new URL(req.url);
    const base = createCallContext({
      protocol: "http",
      principal: ANONYMOUS,
      logger: options.logger,
      signals: [req.signal, options.abortAll],
      requestId: req.headers.get("x-request-id"),
    });
    const outcome: Outcome = {
      route: UNMATCHED,
      conversationId: null,
      err: null,
      streaming: false,
    };
    const finish = (status: number) => {
      const seconds = (performance.now() - started) / 1000;
      const method = METHODS.has(req.method) ? req.method : "OTHER";
      requests.inc({ method, route: outcome.route, status: String(status) });
      durations.observe({ route: outcome.route }, seconds);
      const fields = {
        method: req.method,
        route: outcome.route,
        path: outcome.route === UNMATCHED ? url.pathname : undefined,
        status,
        durationMs: Math.round(seconds * 1000),
        conversationId: outcome.conversationId ?? undefined,
        code: outcome.err ? outcome.err.reason ?? codeName(outcome.err.code) : undefined,
        err: outcome.err && status >= 500 ? outcome.err : undefined,
      };
      base.logger[status >= 500 ? "warn" : "info"]("request", fields);
    };
    let response: Response;
    try {
      response = await dispatch(req, url, base, outcome, {
        abort: () => base.abort(new DOMException("client went away", "AbortError")),
        onStreamEnd: (err) => {
          outcome.err = err;
          base.dispose();
          finish(err ? httpStatus(err) : 200);
        },
      });
    } catch (err) {
      const e = AppError.from(err);
      outcome.err = e;
      outcome.streaming = false;
      if (e.code === Code.Internal) {
        base.logger.error("cannot handle the request", { err: e.cause });
      }
      response = errorResponse(e, isOpenAIPath(url.pathname) ? "openai" : "easybackend");
    }
    if (!outcome.streaming) {
      finish(response.status);
      // Another stream (the OpenAI-compatible routes) still uses the call's
      // signal while its body flows: it lets go of it when the body ends.
      if (isEventStream(response)) response = whenBodyEnds(response, base.dispose);
      else base.dispose();
    }
    return withResponseHeaders(response, base.requestId, req.method === "HEAD");
  };

  async function dispatch(
    req: Request,
    url: URL,
    base: CallContext,
    outcome: Outcome,
    hooks: { abort: () => void; onStreamEnd: (err: AppError | null) => void },
  ): Promise<Response> {
    if (isOpenAIPath(url.pathname)) {
      outcome.route = "/v1/*";
      const ctx = { ...base, principal: await principal(req) };
      const body = req.body === null ? null : await readBodyBytes(req, options.maxBodyBytes);
      const copy = new Request(req.url, {
        method: req.method,
        headers: req.headers,
        body,
      });
      const answer = handleOpenAI(copy, url, ctx, options.engine);
      if (answer === null) throw notFound(url.pathname);
      return await answer;
    }
    const match = matchRoute(req.method, url.pathname);
    if (match.kind === "none") throw notFound(url.pathname);
    if (match.kind === "method") {
      outcome.route = match.pattern;
      return jsonResponse(405, {
        error: {
          code: "method_not_allowed",
          message: `Cannot ${req.method} ${url.pathname}: allowed methods are ${
            match.allow.join(", ")
          }`,
        },
      }, { allow: match.allow.join(", ") });
    }
    outcome.route = match.route.pattern;
    const ctx = match.route.open ? base : { ...base, principal: await principal(req) };
    return await serveRoute(match.route, match.params, { req, url, ctx, outcome, hooks });
  }

  async function serveRoute(
    route: Route,
    params: Record<string, string>,
    call: {
      req: Request;
      url: URL;
      ctx: CallContext;
      outcome: Outcome;
      hooks: { abort: () => void; onStreamEnd: (err: AppError | null) => void };
    },
  ): Promise<Response> {
    const { req, url, ctx, outcome } = call;
    const engine = options.engine;
    const id = params.id ?? null;
    if (id !== null) outcome.conversationId = id;
    switch (route.name) {
      case "ask": {
        const body = parseAskBody(parseJsonBody(await readBodyBytes(req, options.maxBodyBytes)));
        const conversationId = params.conversation_id ?? "";
        if (conversationId !== "" && conversationId !== "new") {
          outcome.conversationId = conversationId;
        }
        const response = await handleAsk(req, { conversationId, body }, ctx, engine, {
          keepAliveMs: options.keepAliveMs,
          abort: call.hooks.abort,
          onConversation: (cid) => (outcome.conversationId = cid),
          onStreamEnd: call.hooks.onStreamEnd,
        });
        outcome.streaming = isEventStream(response);
        return response;
      }
      case "listConversations":
        return jsonResponse(200, await listConversations(url, ctx, engine));
      case "getConversation":
        return jsonResponse(200, await getConversationTree(id!, ctx, engine));
      case "getMessages":
        return jsonResponse(200, await getConversationPath(id!, url, ctx, engine));
      case "renameConversation": {
        const body = parseJsonBody(await readBodyBytes(req, options.maxBodyBytes));
        return jsonResponse(200, await renameConversation(id!, body, ctx, engine));
      }
      case "deleteConversation":
        return jsonResponse(200, await deleteConversation(id!, ctx, engine));
      case "healthz":
        return options.draining()
          ? jsonResponse(503, { status: "shutting_down" })
          : jsonResponse(200, { status: "ok" });
      case "metrics":
        return new Response(options.metrics.render(), {
          headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
        });
      case "openapi":
        return jsonResponse(200, buildOpenApiDocument());
      case "docs":
        return new Response(docsPage(options.docs), {
          headers: { "content-type": "text/html; charset=utf-8" },
        });
    }
  }

  function principal(req: Request): Promise<string> {
    return auth.principal(bearerToken(req.headers.get("authorization")));
  }
}

/** Whether a path belongs to the OpenAI-compatible API (errors in OpenAI's shape). */
function isOpenAIPath(path: string): boolean {
  return path === "/v1" || path.startsWith("/v1/");
}

function notFound(path: string): AppError {
  return new AppError(Code.NotFound, `Cannot find a route for ${JSON.stringify(path)}`);
}

const CORS_ENTRIES = Object.entries(corsHeaders());

/**
 * The response with the CORS headers and the request id. Set in place when
 * its headers can change (every response made here: a copy and a second
 * `Response` cost about 10 µs per request); copied for an upstream's
 * response (immutable headers) and for HEAD (no body).
 */
function withResponseHeaders(response: Response, requestId: string, head: boolean): Response {
  if (!head) {
    try {
      for (const [k, v] of CORS_ENTRIES) response.headers.set(k, v);
      response.headers.set("x-request-id", requestId);
      return response;
    } catch {
      // Immutable headers: copied below.
    }
  }
  const headers = new Headers(response.headers);
  for (const [k, v] of CORS_ENTRIES) headers.set(k, v);
  headers.set("x-request-id", requestId);
  return new Response(head ? null : response.body, {
    status: response.status,
    statusText: response.statusText,
    headers,
  });
}

function isEventStream(response: Response): boolean {
  return response.headers.get("content-type")?.startsWith("text/event-stream") ?? false;
}
