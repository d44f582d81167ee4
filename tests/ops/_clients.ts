/**
 * One ask over each protocol against a server process, returning what the
 * client saw (text, the final frame or error, the request id the server sent
 * back), plus a scripted slow or stalling upstream answer for the fake.
 * @module
 */

import * as grpc from "@grpc/grpc-js";
import { parseSSE } from "../../lib/sse/parse.ts";
import { chunk, type FakeScript, sse, streamScript } from "../_fakes/openai_upstream.ts";
import { clientConstructors } from "../transports/grpc_client.ts";

/** What a client saw of one answer. */
export interface Seen {
  text: string;
  /** The conversation id (null when the answer failed before it was known). */
  conversationId: string | null;
  /** `done` when the answer completed, else the error code or reason the client got. */
  end: string;
  /** The request id the server returned (header, metadata or JSON frame). */
  requestId: string | null;
}

/** Hooks of an ask: called once the first piece of text arrived. */
export interface AskHooks {
  onFirstText?: () => void;
}

/** `POST /ask/new` as SSE. */
export async function askHttpSse(url: string, prompt: string, hooks: AskHooks = {}): Promise<Seen> {
  const res = await fetch(`${url}/ask/new`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "text/event-stream" },
    body: JSON.stringify({ prompt }),
  });
  const seen: Seen = {
    text: "",
    conversationId: null,
    end: "eof",
    requestId: res.headers.get("x-request-id"),
  };
  if (!res.ok) {
    seen.end = `status ${res.status}`;
    await res.body?.cancel();
    return seen;
  }
  for await (const e of parseSSE(res.body!)) {
    const data = JSON.parse(e.data);
    if (e.event === "delta") {
      if (seen.text === "") hooks.onFirstText?.();
      seen.text += data.text;
    } else if (e.event === "done") {
      seen.conversationId = data.conversation_id;
      seen.end = "done";
    } else if (e.event === "error") {
      seen.end = data.code;
    }
  }
  return seen;
}

/** `POST /ask/new` as JSON. */
export async function askHttpJson(url: string, prompt: string): Promise<Seen> {
  const res = await fetch(`${url}/ask/new`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ prompt }),
  });
  const body = await res.json();
  return {
    text: body.message ?? "",
    conversationId: body.conversation_id ?? null,
    end: res.ok ? "done" : body.error.code,
    requestId: res.headers.get("x-request-id"),
  };
}

/** The legacy `chat.Chat/Ask`, reading the `x-request-id` response metadata. */
export function askGrpcLegacy(port: number, prompt: string, hooks: AskHooks = {}): Promise<Seen> {
  const { legacy } = clientConstructors();
  const client = new legacy(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const seen: Seen = { text: "", conversationId: null, end: "eof", requestId: null };
  return new Promise((resolve) => {
    const call = client.Ask({ prompt, conversationId: "new", parentId: "" });
    call.on("metadata", (md: grpc.Metadata) => {
      seen.requestId = (md.get("x-request-id")[0] as string | undefined) ?? null;
    });
    call.on("data", (m: { response: string }) => {
      if (m.response.startsWith("<|end|>$")) {
        seen.conversationId = m.response.split("$")[1];
        seen.end = "done";
      } else if (m.response.startsWith("<|err|>$")) {
        seen.end = m.response;
      } else {
        if (seen.text === "") hooks.onFirstText?.();
        seen.text += m.response;
      }
    });
    const finish = (end?: string) => {
      if (end) seen.end = end;
      client.close();
      resolve(seen);
    };
    call.on("error", (err: grpc.ServiceError) => finish(grpc.status[err.code]));
    call.on("end", () => finish());
  });
}

/** A JSON `ask` frame on a new socket, reading `request_id` of the last frame. */
export async function askWsJson(port: number, prompt: string, hooks: AskHooks = {}): Promise<Seen> {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/`);
  const seen: Seen = { text: "", conversationId: null, end: "eof", requestId: null };
  const closed = new Promise<void>((resolve) => socket.onclose = () => resolve());
  try {
    await new Promise<void>((resolve, reject) => {
      socket.onopen = () => resolve();
      socket.onerror = () => reject(new Error("Cannot open the socket"));
    });
  } catch {
    seen.end = "refused";
    await closed;
    return seen;
  }
  const ended = new Promise<void>((resolve) => {
    socket.onmessage = (e) => {
      const f = JSON.parse(String(e.data));
      if (f.type === "delta") {
        if (seen.text === "") hooks.onFirstText?.();
        seen.text += f.text;
        return;
      }
      seen.requestId = f.request_id ?? null;
      if (f.type === "done") {
        seen.conversationId = f.conversation_id;
        seen.end = "done";
      } else {
        seen.end = f.reason ?? f.code;
      }
      resolve();
    };
    socket.addEventListener("close", () => resolve());
  });
  socket.send(JSON.stringify({ type: "ask", id: "a1", prompt, conversation_id: "new" }));
  await ended;
  socket.close();
  await closed;
  return seen;
}

/** The legacy WebSocket protocol: `<|ask|>$new$new$<prompt>`. */
export async function askWsLegacy(port: number, prompt: string): Promise<Seen> {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/`);
  const seen: Seen = { text: "", conversationId: null, end: "eof", requestId: null };
  const closed = new Promise<void>((resolve) => socket.onclose = () => resolve());
  await new Promise<void>((resolve) => socket.onopen = () => resolve());
  const ended = new Promise<void>((resolve) => {
    socket.onmessage = (e) => {
      const f = String(e.data);
      if (f.startsWith("<|end|>$")) {
        seen.conversationId = f.split("$")[1];
        seen.end = "done";
        resolve();
      } else if (f.startsWith("<|err|>$")) {
        seen.end = f;
        resolve();
      } else seen.text += f;
    };
  });
  socket.send(`<|ask|>$new$new$${prompt}`);
  await ended;
  socket.close();
  await closed;
  return seen;
}

/** A complete streamed answer of these pieces, `delayMs` apart. */
export function slowAnswer(pieces: string[], delayMs: number): FakeScript {
  return streamScript(pieces, {
    delayMs,
    usage: { prompt_tokens: 9, completion_tokens: 4, total_tokens: 13 },
  });
}

/** An answer that sends these pieces, then stays silent (never ends). */
export function stallingAnswer(pieces: string[]): FakeScript {
  const steps = [
    sse(chunk({ role: "assistant", content: "" })),
    ...pieces.map((p) => sse(chunk({ content: p }))),
  ];
  return { steps, stall: true };
}

/** Resolves when `check` holds, polling every 20 ms, or throws after `ms`. */
export async function waitUntil(check: () => boolean, ms = 5000, what = "a condition") {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error(`Cannot wait for ${what}: timed out`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
