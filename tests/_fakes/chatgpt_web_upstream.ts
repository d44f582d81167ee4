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

/** One write of a scripted body: text or bytes, a pause, or a connection reset. */
export type FakeStep = string | Uint8Array | { delayMs: number } | { reset: true };

/** A scripted answer to one request. */
export interface FakeScript {
  /** @default 200 */
  status?: number;
  headers?: Record<string, string>;
  /** A JSON body. */
  json?: unknown;
  /** A raw text body (an HTML page, served as text/html unless headers say otherwise). */
  text?: string;
  /** A streamed body, `text/event-stream` unless headers say otherwise. */
  steps?: FakeStep[];
  /** Write every byte separately. @default false */
  byteByByte?: boolean;
  /** After the steps, stay open and silent until the client leaves. */
  stall?: boolean;
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

/** One SSE event as text (`event:` only when given). */
export function sseEvent(data: string, event?: string): string {
  return (event ? `event: ${event}\n` : "") + `data: ${data}\n\n`;
}

/** JSON with every non-ASCII character as `\uXXXX`, as captures of the backend show. */
export function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => {
    return "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0");
  });
}

/** What a scripted answer says. */
export interface AnswerOptions {
  conversationId: string;
  messageId: string;
  /** The text pieces, in order. */
  pieces: string[];
  /** `finish_details.type`. @default "stop" */
  finish?: string;
  modelSlug?: string;
  /** The user message echoed first (cumulative) or as `input_message` (v1). */
  userText?: string;
  /** Stop before the answer completes (no finish, no `[DONE]`). @default false */
  cut?: boolean;
}

function assistantMessage(o: AnswerOptions, text: string, final: boolean) {
  const metadata: Record<string, unknown> = {
    "message_type": "next",
    "model_slug": o.modelSlug ?? "gpt-4o-mini",
    "parent_id": "u-" + o.messageId,
  };
  if (final) metadata["finish_details"] = { type: o.finish ?? "stop", "stop_tokens": [200002] };
  return {
    id: o.messageId,
    author: { role: "assistant", name: null, metadata: {} },
    content: { "content_type": "text", parts: [text] },
    status: final ? "finished_successfully" : "in_progress",
    "end_turn": final ? true : null,
    weight: 1.0,
    metadata,
    recipient: "all",
    channel: null,
  };
}

/**
 * The cumulative format (§5.1): echoed system and user snapshots, a growing
 * `parts[0]`, trailing-space padding, `\uXXXX` escapes, envelopes, `[DONE]`.
 */
export function cumulativeSteps(o: AnswerOptions): string[] {
  const cid = o.conversationId;
  const out: string[] = [];
  const echo = (role: string, text: string) => ({
    message: {
      id: `${role}-${o.messageId}`,
      author: { role },
      content: { "content_type": "text", parts: [text] },
      status: "finished_successfully",
      recipient: "all",
    },
    "conversation_id": cid,
    error: null,
  });
  out.push(sseEvent(asciiJson(echo("system", ""))));
  if (o.userText !== undefined) out.push(sseEvent(asciiJson(echo("user", o.userText))));
  let text = "";
  o.pieces.forEach((piece, i) => {
    text += piece;
    const final = !o.cut && i === o.pieces.length - 1;
    const env = { message: assistantMessage(o, text, final), "conversation_id": cid, error: null };
    out.push(`data: ${asciiJson(env)}   \n\n`);
    if (i === 0) {
      out.push(sseEvent(JSON.stringify({ type: "moderation", "conversation_id": cid })));
    }
  });
  if (o.cut) return out;
  out.push(
    sseEvent(JSON.stringify({ type: "title_generation", title: "Hi", "conversation_id": cid })),
  );
  out.push(sseEvent("[DONE]"));
  return out;
}

/** Options of the v1 format beyond the answer. */
export interface V1Options {
  /** Send the `delta_encoding` header. @default true */
  header?: boolean;
  /** Send ops as bare `data:` lines, no `event: delta`. @default false */
  bareOps?: boolean;
  /** A tool message in channel 0 first; the answer then comes in channel 1. @default false */
  toolMessage?: boolean;
}

/**
 * The v1 delta format (§5.2): the header, control envelopes, a root per
 * channel, sticky `{"v": …}` continuations, a final `patch` that appends the
 * last piece and merges `finish_details` into the metadata, `[DONE]`.
 */
export function v1Steps(o: AnswerOptions & V1Options): string[] {
  const cid = o.conversationId;
  const op = (value: unknown) => sseEvent(JSON.stringify(value), o.bareOps ? undefined : "delta");
  const out: string[] = [];
  if (o.header ?? true) out.push(sseEvent('"v1"', "delta_encoding"));
  out.push(sseEvent(JSON.stringify({ type: "resume_conversation_token", "conversation_id": cid })));
  if (o.userText !== undefined) {
    const input = { type: "input_message", "input_message": { content: { parts: [o.userText] } } };
    out.push(sseEvent(JSON.stringify(input)));
  }
  let channel = 0;
  if (o.toolMessage) {
    const tool = {
      id: "tool-" + o.messageId,
      author: { role: "tool", name: "web" },
      content: { "content_type": "text", parts: [""] },
      status: "in_progress",
      recipient: "all",
      metadata: {},
    };
    out.push(
      op({ p: "", o: "add", v: { message: tool, "conversation_id": cid, error: null }, c: 0 }),
    );
    out.push(op({ p: "/message/content/parts/0", o: "append", v: "tool output, not the answer" }));
    channel = 1;
  }
  const root = { message: assistantMessage(o, "", false), "conversation_id": cid, error: null };
  out.push(op({ p: "", o: "add", v: root, c: channel }));
  const last = o.cut ? o.pieces.length : o.pieces.length - 1;
  o.pieces.slice(0, last).forEach((piece, i) => {
    out.push(op(i === 0 ? { p: "/message/content/parts/0", o: "append", v: piece } : { v: piece }));
  });
  if (o.cut) return out;
  const patch = [
    { p: "/message/content/parts/0", o: "append", v: o.pieces[o.pieces.length - 1] ?? "" },
    { p: "/message/status", o: "replace", v: "finished_successfully" },
    { p: "/message/end_turn", o: "replace", v: true },
    {
      p: "/message/metadata",
      o: "append",
      v: { "is_complete": true, "finish_details": { type: o.finish ?? "stop" } },
    },
  ];
  out.push(op({ p: "", o: "patch", v: patch }));
  out.push(sseEvent(JSON.stringify({ type: "message_stream_complete", "conversation_id": cid })));
  out.push(sseEvent("[DONE]"));
  return out;
}

/** The backend's error answers (§5.3). */
export type WebErrorKind =
  | "token_expired"
  | "rate_limited"
  | "conversation_not_found"
  | "conversation_not_found_string"
  | "cloudflare"
  | "invalid_body"
  | "server_error"
  | "json_200";

/**
 * A scripted error answer of the backend.
 * @param kind which one
 * @param headers extra headers such as `retry-after`
 */
export function webErrorScript(kind: WebErrorKind, headers?: Record<string, string>): FakeScript {
  switch (kind) {
    case "token_expired":
      return {
        status: 401,
        headers,
        json: {
          detail: {
            message: "Your authentication token has expired. Please try signing in again.",
            type: "invalid_request_error",
            param: null,
            code: "token_expired",
          },
        },
      };
    case "rate_limited":
      return {
        status: 429,
        headers,
        json: { detail: "Too many requests in 1 hour. Try again later." },
      };
    case "conversation_not_found":
      return {
        status: 404,
        headers,
        json: { detail: { message: "Conversation not found", code: "conversation_not_found" } },
      };
    case "conversation_not_found_string":
      return { status: 404, headers, json: { detail: "Conversation not found" } };
    case "cloudflare":
      return {
        status: 403,
        headers,
        text: '<!DOCTYPE html><html><body><div class="cf-please-wait">Just a moment...' +
          "<script>secret-challenge-token</script></div></body></html>",
      };
    case "invalid_body":
      return { status: 422, headers, json: { detail: [{ loc: ["body", "action"], msg: "bad" }] } };
    case "server_error":
      return { status: 500, headers, json: { detail: "Internal server error" } };
    case "json_200":
      return { status: 200, headers, json: { detail: { code: "some_failure", message: "no" } } };
  }
}

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
  if (body.action !== "next" || messages.length === 0) return webErrorScript("invalid_body");
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
