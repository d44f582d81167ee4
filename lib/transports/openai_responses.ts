/**
 * `POST /v1/responses` and `GET /v1/responses/{id}` on top of the
 * conversation tree. A response IS the assistant message it produced: its id
 * is that message's id (the `parent_id` of `/ask`, gRPC and WebSocket), and
 * `previous_response_id` may be any message id of the caller's (an older one
 * branches, as `parent_id` does).
 *
 * How `input` maps to the tree:
 * - `store: true` (the default): one call of `engine.ask` with the last input
 *   message as the prompt. That message must be a user message. System and
 *   developer messages in `input` join `instructions` (for this call only on
 *   a continuation, the conversation's system message on a new one). Earlier
 *   user or assistant messages are refused with a 400 naming `input`: the
 *   tree can only grow by one question per call, and storing invented turns
 *   would put text in the tree that no model wrote; chain turns with
 *   `previous_response_id` instead.
 * - `store: false`: the answer is made statelessly with `engine.chat` from the
 *   stored path up to `previous_response_id` (if any) plus every input
 *   message, so a whole hand-kept history works there. Nothing is written; the
 *   id is a fresh `resp_…` that `GET` does not find and that cannot be
 *   continued.
 * @module
 */

import { AppError, Code } from "../errors.ts";
import type { Engine } from "../engine/types.ts";
import type { CallContext, ChatMessage, Usage } from "../providers/provider.ts";
import type { Message } from "../store/store.ts";
import { jsonResponse, ParamError, readJsonObject } from "./openai_errors.ts";
import {
  type InputMessage,
  parseResponsesRequest,
  type ResponsesRequest,
} from "./openai_responses_request.ts";
import { responseObject, type ResponseState, statusOfFinish } from "./openai_responses_object.ts";
import {
  type AnswerEvent,
  collectResponse,
  type RunningAnswer,
  streamResponse,
} from "./openai_responses_stream.ts";
import { sseResponse } from "./openai_sse.ts";

/** Answers `POST /v1/responses`. */
export async function handleCreateResponse(
  req: Request,
  ctx: CallContext,
  engine: Engine,
): Promise<Response> {
  const request = parseResponsesRequest(await readJsonObject(req));
  const run = request.store
    ? await startStored(request, ctx, engine)
    : await startStateless(request, ctx, engine);
  if (request.stream) return sseResponse(streamResponse(run, ctx));
  return jsonResponse(await collectResponse(run));
}

/** Answers `GET /v1/responses/{id}`: the assistant message, as a Response. */
export async function handleGetResponse(
  id: string,
  ctx: CallContext,
  engine: Engine,
): Promise<Response> {
  const { conversation, message } = await findMessage(id, null, ctx, engine);
  if (message.role !== "assistant") throw notFound(id, null);
  const path = await engine.getMessages(conversation.id, message.id, ctx);
  const question = path.at(-2);
  const previous = path.find((m) => m.id === question?.parentId);
  const ended = message.status === "complete"
    ? statusOfFinish(message.finishReason ?? "stop")
    : message.status === "incomplete"
    ? { status: "incomplete" as const, incompleteReason: "interrupted" }
    : { status: "in_progress" as const, incompleteReason: null };
  return jsonResponse(responseObject({
    id: message.id,
    createdAt: Math.floor(message.createdAt / 1000),
    model: message.model ?? engine.defaultModel,
    text: message.content,
    usage: message.usage,
    previousResponseId: previous && previous.role !== "system" ? previous.id : null,
    instructions: path[0]?.role === "system" ? path[0].content : null,
    store: true,
    conversationId: conversation.id,
    error: null,
    ...ended,
  }));
}

/** Asks in the conversation tree; resolves once the user's message is stored. */
async function startStored(
  request: ResponsesRequest,
  ctx: CallContext,
  engine: Engine,
): Promise<RunningAnswer> {
  const { prompt, instructions } = storedTurn(request);
  const previous = request.previousResponseId
    ? await findMessage(request.previousResponseId, "previous_response_id", ctx, engine)
    : null;
  const events = engine.ask({
    conversationId: previous?.conversation.id ?? null,
    parentId: previous?.message.id ?? null,
    prompt,
    model: request.model,
    instructions,
  }, ctx)[Symbol.asyncIterator]();
  const first = await firstEvent(events);
  if (first.done || first.value.type !== "start") {
    await events.return?.();
    throw new AppError(Code.Internal, "Cannot start the answer: the engine sent no start");
  }
  const start = first.value;
  const state = newState(request, start.messageId, start.model, start.conversationId);
  const answer = (async function* (): AsyncGenerator<AnswerEvent> {
    for await (const event of { [Symbol.asyncIterator]: () => events }) {
      if (event.type === "delta") yield event;
      else if (event.type === "done") yield { ...event, usage: event.usage ?? null };
    }
  })();
  return { state, first: await answer.next(), events: answer };
}

/** Answers without storing anything, from the stored path plus the whole input. */
async function startStateless(
  request: ResponsesRequest,
  ctx: CallContext,
  engine: Engine,
): Promise<RunningAnswer> {
  let history: ChatMessage[] = [];
  if (request.previousResponseId) {
    const { conversation, message } = await findMessage(
      request.previousResponseId,
      "previous_response_id",
      ctx,
      engine,
    );
    const path = await engine.getMessages(conversation.id, message.id, ctx);
    history = path.map((m: Message) => ({ role: m.role, content: m.content }));
  }
  const messages = statelessMessages(request, history);
  const events = engine.chat({ model: request.model, messages }, ctx)[Symbol.asyncIterator]();
  const answer = (async function* (): AsyncGenerator<AnswerEvent> {
    for await (const event of { [Symbol.asyncIterator]: () => events }) {
      if (event.type === "delta") yield event;
      else yield { ...event, usage: (event.usage as Usage | undefined) ?? null };
    }
  })();
  const first = await firstEvent(answer);
  const id = `resp_${crypto.randomUUID().replaceAll("-", "")}`;
  const state = newState(request, id, request.model ?? engine.defaultModel, null);
  return { state, first, events: answer };
}

/** The prompt and instructions of a stored turn (see the module comment). */
function storedTurn(request: ResponsesRequest): { prompt: string; instructions: string | null } {
  const last = request.input.at(-1) as InputMessage;
  if (last.role !== "user" || last.text.trim() === "") {
    throw new ParamError(
      "input",
      "Cannot answer 'input': its last item is not a non-empty user message",
    );
  }
  const system: string[] = request.instructions ? [request.instructions] : [];
  for (const item of request.input.slice(0, -1)) {
    if (item.role === "system") {
      system.push(item.text);
      continue;
    }
    throw new ParamError(
      "input",
      "Cannot store several turns from one input: send one user message and chain turns with previous_response_id (or use store: false)",
    );
  }
  return { prompt: last.text, instructions: system.length ? system.join("\n\n") : null };
}

/**
 * The context of a stateless answer: one system message (the instructions and
 * input system messages, else the stored one), then the stored path's turns,
 * then the input's.
 */
function statelessMessages(request: ResponsesRequest, history: ChatMessage[]): ChatMessage[] {
  const last = request.input.at(-1) as InputMessage;
  if (last.role !== "user" || last.text.trim() === "") {
    throw new ParamError(
      "input",
      "Cannot answer 'input': its last item is not a non-empty user message",
    );
  }
  const given = request.input.filter((m) => m.role === "system").map((m) => m.text);
  if (request.instructions) given.unshift(request.instructions);
  const stored = history.filter((m) => m.role === "system").map((m) => m.content);
  const system = given.length ? given : stored;
  const turns = [
    ...history.filter((m) => m.role !== "system"),
    ...request.input.filter((m) => m.role !== "system").map((m) => ({
      role: m.role,
      content: m.text,
    })),
  ];
  return system.length ? [{ role: "system", content: system.join("\n\n") }, ...turns] : turns;
}

function newState(
  request: ResponsesRequest,
  id: string,
  model: string,
  conversationId: string | null,
): ResponseState {
  return {
    id,
    createdAt: Math.floor(Date.now() / 1000),
    model,
    status: "in_progress",
    text: "",
    usage: null,
    previousResponseId: request.previousResponseId ?? null,
    instructions: request.instructions ?? null,
    store: request.store,
    conversationId,
    error: null,
    incompleteReason: null,
  };
}

/** The first event; on a throw the iterator is released before rethrowing. */
async function firstEvent<T>(events: AsyncIterator<T>): Promise<IteratorResult<T>> {
  try {
    return await events.next();
  } catch (err) {
    await events.return?.();
    throw err;
  }
}

/** A message of the caller's by id; NotFound in OpenAI's shape, naming `param`. */
async function findMessage(
  id: string,
  param: string | null,
  ctx: CallContext,
  engine: Engine,
): ReturnType<Engine["getMessage"]> {
  try {
    return await engine.getMessage(id, ctx);
  } catch (err) {
    if (err instanceof AppError && err.code === Code.NotFound) throw notFound(id, param);
    throw err;
  }
}

function notFound(id: string, param: string | null): AppError {
  const message = `Cannot find response '${id}': no such response`;
  return param
    ? new ParamError(param, message, Code.NotFound)
    : new AppError(Code.NotFound, message);
}
