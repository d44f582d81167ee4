/**
 * The OpenAI-compatible API on the HTTP port: `/v1/chat/completions`,
 * `/v1/models`, `/v1/responses` and `/v1/responses/{id}`, in OpenAI's wire
 * formats and error shape. `http.ts` authenticates and limits the request,
 * then hands every path under `/v1/` to {@link handleOpenAI}.
 * @module
 */

import type { Engine } from "../engine/types.ts";
import type { CallContext } from "../providers/provider.ts";
import { handleChatCompletions } from "./openai_chat.ts";
import { methodNotAllowed, openAIErrorResponse } from "./openai_errors.ts";
import { handleModels } from "./openai_models.ts";
import { handleCreateResponse, handleGetResponse } from "./openai_responses.ts";

const RESPONSE_PATH = /^\/v1\/responses\/([^/]+)$/;

/**
 * Answers one OpenAI-API request, or returns null when the path is not one of
 * its routes (the caller then answers 404 its own way).
 *
 * @param req the request, already authenticated and size-checked
 * @param url the parsed request URL
 * @param ctx the call's context (its signal stops the upstream call)
 * @param engine the conversation engine
 */
export function handleOpenAI(
  req: Request,
  url: URL,
  ctx: CallContext,
  engine: Engine,
): Promise<Response> | null {
  const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, "") : url.pathname;
  if (path === "/v1/chat/completions") {
    return route(req, "POST", ctx, () => handleChatCompletions(req, ctx, engine));
  }
  if (path === "/v1/models") {
    return route(req, "GET", ctx, () => handleModels(ctx, engine));
  }
  if (path === "/v1/responses") {
    return route(req, "POST", ctx, () => handleCreateResponse(req, ctx, engine));
  }
  const match = RESPONSE_PATH.exec(path);
  if (match) {
    return route(
      req,
      "GET",
      ctx,
      () => handleGetResponse(decodeURIComponent(match[1]), ctx, engine),
    );
  }
  return null;
}

/** Checks the method, runs the handler, and turns a throw into OpenAI's error shape. */
async function route(
  req: Request,
  method: "GET" | "POST",
  ctx: CallContext,
  handler: () => Promise<Response>,
): Promise<Response> {
  if (req.method !== method && !(method === "GET" && req.method === "HEAD")) {
    return methodNotAllowed(req.method, method);
  }
  try {
    return await handler();
  } catch (err) {
    return openAIErrorResponse(err, ctx);
  }
}
