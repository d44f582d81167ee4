/**
 * One ask over each wire protocol, with a client token (or none), reduced to
 * one result shape, so the security tests can run the same scenario on every
 * protocol and grep everything a client saw.
 * @module
 */

import * as grpc from "@grpc/grpc-js";
import { type Code, codeName } from "../../lib/errors.ts";
import { parseSSE } from "../../lib/sse/parse.ts";
import { clientConstructors, collect } from "../transports/grpc_client.ts";

/** The protocols a client can ask over. */
export const PROTOCOLS = [
  "http-json",
  "http-sse",
  "v1-responses",
  "ws-legacy",
  "ws-json",
  "grpc-legacy",
  "grpc-typed",
] as const;

/** One of {@link PROTOCOLS}. */
export type AskProtocol = typeof PROTOCOLS[number];

/** Where the three listeners are, and how to trust them. */
export interface Target {
  httpUrl: string;
  wsUrl: string;
  grpcAddress: string;
  /** gRPC channel credentials. @default insecure */
  grpcCreds?: grpc.ChannelCredentials;
  /** gRPC channel options (e.g. `grpc.ssl_target_name_override`). */
  grpcOptions?: grpc.ChannelOptions;
}

/** One question. */
export interface AskRequest {
  token: string | null;
  prompt: string;
  conversationId?: string | null;
  parentId?: string | null;
}

/** What a client got, whatever the protocol. */
export interface AskResult {
  ok: boolean;
  text: string;
  conversationId: string | null;
  parentId: string | null;
  /** HTTP status (also of a refused WebSocket upgrade), gRPC status code, or null. */
  status: number | null;
  /** The wire's error code (`not_found`, `rate_limited` …), or null. */
  code: string | null;
  /** The error message, or null. */
  message: string | null;
  /** Everything the client saw (headers, bodies, frames, statuses), for greps. */
  seen: string[];
}

function result(seen: string[], fields: Partial<AskResult>): AskResult {
  return {
    ok: false,
    text: "",
    conversationId: null,
    parentId: null,
    status: null,
    code: null,
    message: null,
    seen,
    ...fields,
  };
}

function headersOf(token: string | null): Record<string, string> {
  const h: Record<string, string> = { "content-type": "application/json" };
  if (token !== null) h.authorization = `Bearer ${token}`;
  return h;
}

function seenResponse(res: Response, body: string): string {
  return `${res.status}\n${[...res.headers].map(([k, v]) => `${k}: ${v}`).join("\n")}\n${body}`;
}

/** Asks over one protocol. */
export function askOver(t: Target, protocol: AskProtocol, req: AskRequest): Promise<AskResult> {
  switch (protocol) {
    case "http-json":
    case "http-sse":
      return askHttp(t, req, protocol === "http-sse");
    case "v1-responses":
      return askResponses(t, req);
    case "ws-legacy":
    case "ws-json":
      return askWs(t, req, protocol === "ws-json");
    case "grpc-legacy":
    case "grpc-typed":
      return askGrpc(t, req, protocol === "grpc-typed");
  }
}

async function askHttp(t: Target, req: AskRequest, stream: boolean): Promise<AskResult> {
  const headers = headersOf(req.token);
  if (stream) headers.accept = "text/event-stream";
  const res = await fetch(`${t.httpUrl}/ask/${req.conversationId ?? "new"}`, {
    method: "POST",
    headers,
    body: JSON.stringify({ prompt: req.prompt, parent_id: req.parentId ?? null, stream }),
  });
  const seen: string[] = [];
  if (res.headers.get("content-type")?.startsWith("text/event-stream")) {
    seen.push(seenResponse(res, ""));
    let text = "";
    for await (const e of parseSSE(res.body!)) {
      seen.push(`${e.event}: ${e.data}`);
      const data = JSON.parse(e.data);
      if (e.event === "delta") text += data.text;
      if (e.event === "done") {
        return result(seen, {
          ok: true,
          text,
          status: res.status,
          conversationId: data.conversation_id,
          parentId: data.parent_id,
        });
      }
      if (e.event === "error") {
        return result(seen, { text, status: res.status, code: data.code, message: data.message });
      }
    }
    return result(seen, { text, status: res.status, message: "stream ended without done" });
  }
  const body = await res.text();
  seen.push(seenResponse(res, body));
  const json = JSON.parse(body);
  if (res.ok) {
    return result(seen, {
      ok: true,
      text: json.message,
      status: res.status,
      conversationId: json.conversation_id,
      parentId: json.parent_id,
    });
  }
  return result(seen, { status: res.status, code: json.error.code, message: json.error.message });
}

async function askResponses(t: Target, req: AskRequest): Promise<AskResult> {
  const res = await fetch(`${t.httpUrl}/v1/responses`, {
    method: "POST",
    headers: headersOf(req.token),
    body: JSON.stringify({ input: req.prompt, previous_response_id: req.parentId ?? undefined }),
  });
  const body = await res.text();
  const seen = [seenResponse(res, body)];
  const json = JSON.parse(body);
  if (!res.ok) {
    return result(seen, { status: res.status, code: json.error.code, message: json.error.message });
  }
  return result(seen, {
    ok: true,
    // deno-lint-ignore no-explicit-any
    text: (json.output ?? []).flatMap((o: any) => o.content ?? []).map((c: any) => c.text).join(""),
    status: res.status,
    conversationId: json.conversation?.id ?? null,
    parentId: json.id,
  });
}

/** The status and body of a WebSocket upgrade the server refused. */
async function refusedUpgrade(url: string, seen: string[]): Promise<AskResult> {
  const res = await fetch(url.replace(/^ws/, "http"), {
    headers: {
      upgrade: "websocket",
      connection: "Upgrade",
      "sec-websocket-version": "13",
      "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
    },
  });
  const body = await res.text();
  seen.push(seenResponse(res, body));
  const json = res.status === 101 ? null : JSON.parse(body);
  return result(seen, {
    status: res.status,
    code: json?.error?.code ?? null,
    message: json?.error?.message ?? null,
  });
}

async function askWs(t: Target, req: AskRequest, json: boolean): Promise<AskResult> {
  const url = req.token === null ? t.wsUrl : `${t.wsUrl}/?token=${encodeURIComponent(req.token)}`;
  const seen: string[] = [];
  const socket = new WebSocket(url);
  const frames: string[] = [];
  let wake = () => {};
  socket.onmessage = (e) => {
    frames.push(String(e.data));
    seen.push(String(e.data));
    wake();
  };
  const closed = new Promise<void>((resolve) => socket.addEventListener("close", () => resolve()));
  socket.addEventListener("close", () => wake());
  const opened = await new Promise<boolean>((resolve) => {
    socket.onopen = () => resolve(true);
    socket.onerror = () => resolve(false);
  });
  if (!opened) {
    await closed;
    return await refusedUpgrade(url, seen);
  }
  const next = async (): Promise<string> => {
    const until = Date.now() + 10_000;
    while (frames.length === 0) {
      if (socket.readyState === WebSocket.CLOSED || Date.now() > until) {
        throw new Error("no frame");
      }
      await new Promise<void>((r) => {
        const timer = setTimeout(r, 100);
        wake = () => (clearTimeout(timer), r());
      });
    }
    return frames.shift()!;
  };
  const cid = req.conversationId ?? "new";
  try {
    if (json) {
      socket.send(JSON.stringify({
        type: "ask",
        id: "a1",
        prompt: req.prompt,
        conversation_id: cid,
        parent_id: req.parentId ?? null,
      }));
      let text = "";
      while (true) {
        const f = JSON.parse(await next());
        if (f.type === "delta") text += f.text;
        else if (f.type === "done") {
          return result(seen, {
            ok: true,
            text,
            conversationId: f.conversation_id,
            parentId: f.parent_id,
          });
        } else return result(seen, { text, code: f.reason ?? f.code, message: f.message });
      }
    }
    socket.send(`<|ask|>$${cid}$${req.parentId ?? "new"}$${req.prompt}`);
    let text = "";
    while (true) {
      const f = await next();
      if (f.startsWith("<|end|>$")) {
        const [, c, p] = f.split("$");
        return result(seen, { ok: true, text, conversationId: c, parentId: p });
      }
      if (f.startsWith("<|err|>$")) return result(seen, { text, message: f.slice(8) });
      text += f;
    }
  } finally {
    socket.close();
    await closed;
  }
}

async function askGrpc(t: Target, req: AskRequest, typed: boolean): Promise<AskResult> {
  const ctors = clientConstructors();
  const Ctor = typed ? ctors.typed : ctors.legacy;
  const creds = t.grpcCreds ?? grpc.credentials.createInsecure();
  const client = new Ctor(t.grpcAddress, creds, t.grpcOptions);
  const md = new grpc.Metadata();
  if (req.token !== null) md.set("authorization", `Bearer ${req.token}`);
  try {
    const call = client.Ask({
      prompt: req.prompt,
      conversationId: req.conversationId ?? "",
      parentId: req.parentId ?? "",
    }, md);
    // deno-lint-ignore no-explicit-any
    const { messages, error } = await collect<any>(call);
    const seen = messages.map((m) => JSON.stringify(m));
    if (error) {
      seen.push(`${error.code} ${error.details} ${JSON.stringify(error.metadata.toJSON())}`);
    }
    const base = error
      ? { status: error.code, code: codeName(error.code as number as Code), message: error.details }
      : {
        status: 0,
      };
    let text = "";
    if (typed) {
      for (const m of messages) {
        if (m.delta) text += m.delta.text;
        if (m.done) {
          return result(seen, {
            ok: true,
            text,
            status: 0,
            conversationId: m.done.conversationId,
            parentId: m.done.messageId,
          });
        }
      }
      return result(seen, { text, ...base });
    }
    for (const m of messages) {
      const r: string = m.response;
      if (r.startsWith("<|end|>$")) {
        const [, c, p] = r.split("$");
        return result(seen, { ok: true, text, status: 0, conversationId: c, parentId: p });
      }
      if (r.startsWith("<|err|>$")) return result(seen, { text, ...base, message: r.slice(8) });
      text += r;
    }
    return result(seen, { text, ...base });
  } finally {
    client.close();
  }
}
