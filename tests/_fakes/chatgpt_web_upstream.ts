/**
 * A fake ChatGPT web backend on loopback that speaks its real wire format
 * (UPSTREAMS.md §5). Give `fake.url` as `API_BASE_URL`; it serves
 * `POST <url>/conversation` and `GET <url>/models`.
 *
 * With nothing queued it answers like the backend: it keeps conversations and
 * message ids (an unknown `conversation_id` gets 404 `conversation_not_found`),
 * and streams a reply that reveals the messages it received
 * (`Heard N messages: user: hi | …`) in the v1 delta format, or in the
 * cumulative format when started with `format: "cumulative"`. With
 * `piecesPerTurn` it cuts replies off at `max_tokens` and answers each
 * `action: "continue"` (parent: the cut-off message) with the next pieces.
 * `fake.next()`
 * queues a scripted answer; {@link v1Steps}, {@link cumulativeSteps} and
 * {@link webErrorScript} build the edge cases of UPSTREAMS.md §7.
 * @module
 */

import {
  type AnswerOptions,
  cumulativeSteps,
  type FakeScript,
  v1Steps,
  webErrorScript,
} from "./chatgpt_web_streams.ts";
import {
  type FakeRequest,
  type FakeServer,
  parseJsonOrNull,
  startFakeServer,
} from "./fake_server.ts";

export * from "./chatgpt_web_streams.ts";

/** One request the fake received (the body a JSON object, or null). */
export type RecordedRequest = FakeRequest<Record<string, unknown> | null>;

/** Options of {@link startChatGPTWebFake}. */
export interface ChatGPTWebFakeOptions {
  /** The stream format of default answers. @default "v1" */
  format?: "v1" | "cumulative";
  /** Accepted access tokens; others get 401 `token_expired`. @default any */
  tokens?: string[];
  /** The model slug reported. @default "gpt-4o-mini" */
  modelSlug?: string;
  /** Path prefix of the routes. @default "/backend-api" */
  prefix?: string;
  /**
   * Cut default replies off at `max_tokens` after this many pieces (of 12
   * characters); each `continue` gets the next ones. @default no cut
   */
  piecesPerTurn?: number;
  /**
   * What `parts[0]` of a continued message starts from: `empty` (only the new
   * text) or `whole` (the reply so far). @default "empty"
   */
  continueFrom?: "empty" | "whole";
  /** Whether a continuation is a new message or the cut-off one again. @default "new" */
  continueIds?: "new" | "same";
}

/** A running fake: the shared server's record and queue, and its base URL. */
export interface ChatGPTWebFake extends Omit<FakeServer<Record<string, unknown> | null>, "origin"> {
  /** The base URL (`http://127.0.0.1:<port>/backend-api`): give it as `API_BASE_URL`. */
  url: string;
}

/**
 * Starts the fake on 127.0.0.1 with a free port.
 * @param options format, accepted tokens, model slug
 */
export async function startChatGPTWebFake(
  options: ChatGPTWebFakeOptions = {},
): Promise<ChatGPTWebFake> {
  const prefix = options.prefix ?? "/backend-api";
  const state: FakeState = { conversations: new Map(), cutOff: new Map() };
  const server = await startFakeServer({
    parseBody: parseObject,
    defaultScript: (req) => defaultAnswer(req, options, prefix, state),
    streamHeaders: { "content-type": "text/event-stream; charset=utf-8" },
  });
  return { ...server, url: `${server.origin}${prefix}` };
}

function parseObject(text: string): Record<string, unknown> | null {
  const value = parseJsonOrNull(text);
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? value as Record<string, unknown>
    : null;
}

interface WebMessage {
  author?: { role?: string };
  content?: { parts?: unknown[] };
}

/** A reply cut off at `max_tokens`: what a `continue` of it says next. */
interface CutOff {
  conversationId: string;
  /** The reply's text so far. */
  said: string;
  /** The pieces not sent yet. */
  rest: string[];
}

/** What the fake backend remembers. */
interface FakeState {
  /** Conversation id → the message ids in it. */
  conversations: Map<string, Set<string>>;
  /** Message id of a cut-off reply → how it goes on. */
  cutOff: Map<string, CutOff>;
}

/** The backend's behaviour: ids, conversations, and a reply revealing the prompt. */
function defaultAnswer(
  req: RecordedRequest,
  options: ChatGPTWebFakeOptions,
  prefix: string,
  state: FakeState,
): FakeScript {
  if (options.tokens && (req.key === null || !options.tokens.includes(req.key))) {
    return webErrorScript("token_expired");
  }
  if (req.method === "GET" && req.path === `${prefix}/models`) {
    return { json: { models: [{ slug: "auto" }, { slug: "gpt-4o" }, { slug: "gpt-4o-mini" }] } };
  }
  if (req.method !== "POST" || req.path !== `${prefix}/conversation` || req.body === null) {
    return { status: 404, json: { detail: "Not Found" } };
  }
  const body = req.body;
  const messages = Array.isArray(body.messages) ? body.messages as WebMessage[] : [];
  const action = body.action;
  if (action !== "next" && action !== "continue" && action !== "variant") {
    return webErrorScript("invalid_body");
  }
  if (action === "next" && messages.length === 0) return webErrorScript("invalid_body");
  let cid = typeof body.conversation_id === "string" ? body.conversation_id : null;
  if (cid !== null) {
    const known = state.conversations.get(cid);
    if (!known) return webErrorScript("conversation_not_found");
    if (!known.has(String(body.parent_message_id))) return webErrorScript("invalid_body");
  } else if (action === "continue") {
    return webErrorScript("invalid_body");
  } else {
    cid = crypto.randomUUID();
    state.conversations.set(cid, new Set());
  }
  if (action === "continue") return continueAnswer(String(body.parent_message_id), options, state);
  const said = messages.map((m) => `${m.author?.role}: ${m.content?.parts?.join("") ?? ""}`);
  const reply = `Heard ${messages.length} messages: ${said.join(" | ")}`;
  const pieces = reply.match(/.{1,12}/gs) ?? [reply];
  const messageId = crypto.randomUUID();
  const cut: CutOff = { conversationId: cid, said: "", rest: pieces };
  return turnAnswer(cut, messageId, options, state, said[said.length - 1]);
}

/** The answer to `continue`: the next pieces of the cut-off reply. */
function continueAnswer(parentId: string, options: ChatGPTWebFakeOptions, state: FakeState) {
  const cut = state.cutOff.get(parentId);
  if (cut === undefined) return webErrorScript("invalid_body");
  state.cutOff.delete(parentId);
  const messageId = options.continueIds === "same" ? parentId : crypto.randomUUID();
  return turnAnswer(cut, messageId, options, state);
}

/** One turn of a reply: all its remaining pieces, or the next few and `max_tokens`. */
function turnAnswer(
  cut: CutOff,
  messageId: string,
  options: ChatGPTWebFakeOptions,
  state: FakeState,
  userText?: string,
): FakeScript {
  state.conversations.get(cut.conversationId)!.add(messageId);
  const count = options.piecesPerTurn ?? cut.rest.length;
  const pieces = cut.rest.slice(0, count);
  const rest = cut.rest.slice(count);
  const answer: AnswerOptions = {
    conversationId: cut.conversationId,
    messageId,
    pieces,
    modelSlug: options.modelSlug,
    userText,
    before: options.continueFrom === "whole" ? cut.said : "",
  };
  if (rest.length > 0) {
    answer.finish = "max_tokens";
    state.cutOff.set(messageId, {
      conversationId: cut.conversationId,
      said: cut.said + pieces.join(""),
      rest,
    });
  }
  const steps = options.format === "cumulative" ? cumulativeSteps(answer) : v1Steps(answer);
  return { steps };
}
