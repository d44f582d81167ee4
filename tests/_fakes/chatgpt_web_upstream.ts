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
  type FakeStep,
  v1Steps,
  webErrorScript,
} from "./chatgpt_web_streams.ts";

export * from "./chatgpt_web_streams.ts";

/** One request the fake received. */
export interface RecordedRequest {
  method: string;
  /** The path, e.g. `/backend-api/conversation` (no query). */
  path: string;
  /** Lower-case header names. */
  headers: Record<string, string>;
  /** The parsed JSON body, or null. */
  body: Record<string, unknown> | null;
  /** The bearer token sent, or null. */
  key: string | null;
  at: number;
}

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

/** A running fake. */
export interface ChatGPTWebFake {
  /** The base URL (`http://127.0.0.1:<port>/backend-api`): give it as `API_BASE_URL`. */
  url: string;
  requests: RecordedRequest[];
  /** Queues a scripted answer for the next request. */
  next(script: FakeScript): void;
  /** When a client last left before its answer was complete. */
  lastAbortedAt(): number | null;
  close(): Promise<void>;
}

const encoder = new TextEncoder();

/**
 * Starts the fake on 127.0.0.1 with a free port.
 * @param options format, accepted tokens, model slug
 */
export async function startChatGPTWebFake(
  options: ChatGPTWebFakeOptions = {},
): Promise<ChatGPTWebFake> {
  const prefix = options.prefix ?? "/backend-api";
  const requests: RecordedRequest[] = [];
  const queue: FakeScript[] = [];
  const running = new Set<AbortController>();
  const conversations = new Map<string, Set<string>>();
  let abortedAt: number | null = null;
  const markAborted = () => void (abortedAt = Date.now());

  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const raw = req.body ? await req.text() : "";
    const recorded: RecordedRequest = {
      method: req.method,
      path: new URL(req.url).pathname,
      headers: Object.fromEntries(req.headers),
      body: parseJson(raw),
      key: req.headers.get("authorization")?.replace(/^Bearer\s+/i, "") ?? null,
      at: Date.now(),
    };
    requests.push(recorded);
    const script = queue.shift() ?? defaultAnswer(recorded, options, prefix, conversations);
    const ac = new AbortController();
    running.add(ac);
    ac.signal.addEventListener("abort", () => running.delete(ac), { once: true });
    return respond(script, ac, markAborted);
  });
  await Promise.resolve();
  return {
    url: `http://127.0.0.1:${server.addr.port}${prefix}`,
    requests,
    next: (script) => void queue.push(script),
    lastAbortedAt: () => abortedAt,
    async close() {
      for (const ac of running) ac.abort();
      await server.shutdown();
    },
  };
}

function parseJson(text: string): Record<string, unknown> | null {
  try {
    const value = JSON.parse(text);
    return typeof value === "object" && value !== null ? value : null;
  } catch {
    return null;
  }
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

function respond(script: FakeScript, ac: AbortController, markAborted: () => void): Response {
  const status = script.status ?? 200;
  const headers = new Headers(script.headers);
  if (script.steps === undefined) {
    ac.abort();
    if (script.text !== undefined) {
      if (!headers.has("content-type")) headers.set("content-type", "text/html; charset=utf-8");
      return new Response(script.text, { status, headers });
    }
    if (!headers.has("content-type")) headers.set("content-type", "application/json");
    return new Response(JSON.stringify(script.json ?? {}), { status, headers });
  }
  if (!headers.has("content-type")) headers.set("content-type", "text/event-stream; charset=utf-8");
  return new Response(stepStream(script, ac, markAborted), { status, headers });
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

/** The body of a streamed script: one write per pull, so splits and pauses are real. */
function stepStream(script: FakeScript, ac: AbortController, markAborted: () => void) {
  const pieces: Exclude<FakeStep, string>[] = [];
  for (const step of script.steps ?? []) {
    if (typeof step !== "string" && !(step instanceof Uint8Array)) pieces.push(step);
    else {
      const bytes = typeof step === "string" ? encoder.encode(step) : step;
      if (script.byteByByte) { for (const b of bytes) pieces.push(new Uint8Array([b])); }
      else pieces.push(bytes);
    }
  }
  let i = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      while (i < pieces.length) {
        const piece = pieces[i++];
        if (piece instanceof Uint8Array) {
          controller.enqueue(piece);
          if (script.byteByByte) await pause(0, ac.signal);
          return;
        }
        if ("reset" in piece) {
          ac.abort();
          controller.error(new Error("connection reset by the fake"));
          return;
        }
        await pause(piece.delayMs, ac.signal);
        if (ac.signal.aborted) break;
      }
      if (script.stall) await pause(24 * 3600_000, ac.signal);
      ac.abort();
      try {
        controller.close();
      } catch {
        // already closed by a cancel
      }
    },
    cancel() {
      markAborted();
      ac.abort();
    },
  });
}
