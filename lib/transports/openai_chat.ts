/**
 * `POST /v1/chat/completions`. With an upstream that speaks OpenAI's format
 * (the `openai` provider) the client's body goes upstream as is, through the
 * key pool with our key, and the upstream's answer comes back byte for byte.
 * With any other upstream EasyBackend writes OpenAI's exact format itself from
 * `engine.chat`. Nothing is stored on this route either way.
 * @module
 */

import type { Engine } from "../engine/types.ts";
import type { CallContext, ChatEvent, PassThrough } from "../providers/provider.ts";
import { openAIErrorBody } from "./wire_errors.ts";
import { completion, completionChunk, newCompletionHeader } from "./openai_chat_format.ts";
import { type ChatCompletionsRequest, parseChatCompletionsRequest } from "./openai_chat_request.ts";
import { jsonResponse, logOpenAIError, readJsonObject } from "./openai_errors.ts";
import type { JsonObject } from "./openai_fields.ts";
import { redactStreamErrors, upstreamErrorResponse } from "./openai_redact.ts";
import { jsonEvent, sseResponse } from "./openai_sse.ts";

/**
 * Upstream response headers a client may see. Everything else is dropped:
 * hop-by-hop headers, cookies, `openai-organization` and `openai-project`
 * (they name the account behind our key) and the `x-ratelimit-*` figures of
 * our key.
 */
const FORWARDED_HEADERS = [
  "content-type",
  "cache-control",
  "openai-model",
  "openai-processing-ms",
  "openai-version",
  "retry-after",
  "retry-after-ms",
  "x-should-retry",
];

/** Answers `POST /v1/chat/completions`. */
export async function handleChatCompletions(
  req: Request,
  ctx: CallContext,
  engine: Engine,
): Promise<Response> {
  const body = await readJsonObject(req);
  if (engine.passThrough) return await passThrough(engine.passThrough, body, ctx, engine);
  return await synthesize(parseChatCompletionsRequest(body), ctx, engine);
}

/**
 * Sends the body upstream as is; only a missing `model` is filled in with the
 * configured default, so a client may rely on `MODEL` as on the other routes.
 */
async function passThrough(
  pass: PassThrough,
  body: JsonObject,
  ctx: CallContext,
  engine: Engine,
): Promise<Response> {
  const sent = body.model === undefined ? { ...body, model: engine.defaultModel } : body;
  const upstream = await pass.chatCompletions(sent, ctx);
  if (upstream.status >= 400) {
    ctx.logger.info("chat completions passed through", { status: upstream.status });
    return await upstreamErrorResponse(upstream);
  }
  const headers = new Headers();
  for (const name of FORWARDED_HEADERS) {
    const value = upstream.headers.get(name);
    if (value !== null) headers.set(name, value);
  }
  ctx.logger.info("chat completions passed through", { status: upstream.status });
  const isStream = headers.get("content-type")?.startsWith("text/event-stream") ?? false;
  const out = isStream ? upstream.body?.pipeThrough(redactStreamErrors()) : upstream.body;
  return new Response(out ?? null, { status: upstream.status, headers });
}

/**
 * Answers from `engine.chat`. The first event is awaited before anything is
 * sent, so a failure before the first token (bad model, upstream refused,
 * retries exhausted) is a plain HTTP error with its real status, as OpenAI
 * sends it (UPSTREAMS.md §2.1).
 */
async function synthesize(
  request: ChatCompletionsRequest,
  ctx: CallContext,
  engine: Engine,
): Promise<Response> {
  const events = engine.chat({ model: request.model, messages: request.messages }, ctx)[
    Symbol.asyncIterator
  ]();
  let first: IteratorResult<ChatEvent>;
  try {
    first = await events.next();
  } catch (err) {
    await events.return?.();
    throw err;
  }
  const model = request.model ?? engine.defaultModel;
  if (request.stream) return sseResponse(streamChunks(request, model, first, events, ctx));
  return jsonResponse(await collect(model, first, events));
}

async function collect(
  model: string,
  first: IteratorResult<ChatEvent>,
  events: AsyncIterator<ChatEvent>,
): Promise<Record<string, unknown>> {
  let text = "";
  for (let next = first; !next.done; next = await events.next()) {
    const event = next.value;
    if (event.type === "delta") text += event.text;
    else return completion(newCompletionHeader(event.model), text, event.finishReason, event.usage);
  }
  return completion(newCompletionHeader(model), text, "stop", undefined);
}

/**
 * The chunk sequence: a role-first chunk, one chunk per delta, a finish chunk,
 * the usage chunk when asked for, then `[DONE]`. A failure after the first
 * chunk is sent as a last `data: {"error": …}` event without `[DONE]`, which
 * OpenAI's SDKs raise as an `APIError`.
 */
async function* streamChunks(
  request: ChatCompletionsRequest,
  model: string,
  first: IteratorResult<ChatEvent>,
  events: AsyncIterator<ChatEvent>,
  ctx: CallContext,
): AsyncGenerator<string, void, undefined> {
  const head = newCompletionHeader(model);
  const usageField = request.includeUsage ? null : undefined;
  let finished = false;
  try {
    yield jsonEvent(
      completionChunk(head, { role: "assistant", content: "", refusal: null }, null, usageField),
    );
    for (let next = first; !next.done; next = await events.next()) {
      const event = next.value;
      if (event.type === "delta") {
        if (event.text) {
          yield jsonEvent(completionChunk(head, { content: event.text }, null, usageField));
        }
        continue;
      }
      finished = true;
      yield jsonEvent(completionChunk(head, {}, event.finishReason, usageField));
      if (request.includeUsage) {
        yield jsonEvent(completionChunk(head, null, null, event.usage ?? null));
      }
      yield "data: [DONE]\n\n";
      return;
    }
  } catch (err) {
    const error = logOpenAIError(err, ctx);
    yield jsonEvent(openAIErrorBody(error));
  } finally {
    if (!finished) await events.return?.();
  }
}
