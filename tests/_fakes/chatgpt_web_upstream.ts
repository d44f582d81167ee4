/**
 * A fake ChatGPT web backend on loopback that speaks its real wire format
 * (UPSTREAMS.md §5). Give `fake.url` as `API_BASE_URL`; it serves
 * `POST <url>/conversation` and `GET <url>/models`.
 *
 * With nothing queued it answers like the backend: it keeps conversations and
 * message ids (an unknown `conversation_id` gets 404 `conversation_not_found`),
 * and streams a reply that reveals the messages it received
 * (`Heard N messages: user: hi | …`) in the v1 delta format, or in the
 * cumulative format when started with `format: "cumulative"`. `fake.next()`
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
  const conversations = new Map<string, Set<string>>();
  const server = await startFakeServer({
    parseBody: parseObject,
    defaultScript: (req) => defaultAnswer(req, options, prefix, conversations),
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

/** The backend's behaviour: ids, conversations, and a reply revealing the prompt. */
function defaultAnswer(
  req: RecordedRequest,
  options: ChatGPTWebFakeOptions,
  prefix: string,
  conversations: Map<string, Set<string>>,
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
    const known = conversations.get(cid);
    if (!known) return webErrorScript("conversation_not_found");
    if (!known.has(String(body.parent_message_id))) return webErrorScript("invalid_body");
  } else {
    cid = crypto.randomUUID();
    conversations.set(cid, new Set());
  }
  const messageId = crypto.randomUUID();
  conversations.get(cid)!.add(messageId);
  const said = messages.map((m) => `${m.author?.role}: ${m.content?.parts?.join("") ?? ""}`);
  const reply = `Heard ${messages.length} messages: ${said.join(" | ")}`;
  const pieces = reply.match(/.{1,12}/gs) ?? [reply];
  const answer: AnswerOptions = {
    conversationId: cid,
    messageId,
    pieces,
    modelSlug: options.modelSlug,
    userText: said[said.length - 1],
  };
  const steps = options.format === "cumulative" ? cumulativeSteps(answer) : v1Steps(answer);
  return { steps };
}
