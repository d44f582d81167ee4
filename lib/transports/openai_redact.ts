/**
 * What the `/v1/chat/completions` pass-through lets a client see of an
 * upstream failure. The upstream's error body is never forwarded as is: some
 * upstreams quote the key they were given ("Incorrect API key provided:
 * sk-…"), and a refusal of *our* key is not the client's authentication
 * problem. Error bodies are rebuilt with key-like strings redacted, and error
 * events inside a stream are redacted line by line.
 * @module
 */

import { AppError, Code } from "../errors.ts";
import { openAIErrorBody } from "./wire_errors.ts";

/** `sk-…` keys (also masked ones such as `sk-proj-****abcd`) and JWTs. */
const KEY_LIKE = /\b(?:sk-[\w*.-]{3,}[\w*]|ey[\w-]{8,}\.[\w-]{4,}\.[\w-]*)/g;

/** Largest upstream error body read, in bytes; the rest is dropped. */
const MAX_ERROR_BODY = 64 * 1024;

/** A text with every key-like string replaced by `[redacted]`. */
export function redactKeys(text: string): string {
  return text.replace(KEY_LIKE, "[redacted]");
}

/**
 * The client's answer for an upstream error response: 401/403 (the upstream
 * refused our key) becomes 502 `upstream_auth`; any other status keeps its
 * status and OpenAI's `type`, `code` and `param`, with the message redacted.
 * @param upstream a response with a status of 400 or more
 */
export async function upstreamErrorResponse(upstream: Response): Promise<Response> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  for (const name of ["retry-after", "retry-after-ms", "x-should-retry"]) {
    const value = upstream.headers.get(name);
    if (value !== null) headers[name] = value;
  }
  if (upstream.status === 401 || upstream.status === 403) {
    await upstream.body?.cancel().catch(() => {});
    const err = new AppError(
      Code.Unavailable,
      "Cannot answer: the upstream refused the server's credentials",
      { reason: "upstream_auth" },
    );
    const body = openAIErrorBody(err);
    body.error.type = "server_error";
    return new Response(JSON.stringify(body), { status: 502, headers });
  }
  const error = parseError(await readBounded(upstream));
  const body = {
    error: {
      message: redactKeys(
        error.message ?? `Cannot answer: the upstream failed (${upstream.status})`,
      ),
      type: typeof error.type === "string" ? error.type : "server_error",
      param: typeof error.param === "string" ? error.param : null,
      code: typeof error.code === "string" ? redactKeys(error.code) : null,
    },
  };
  return new Response(JSON.stringify(body), { status: upstream.status, headers });
}

/**
 * Redacts key-like strings in the `data: {"error"…}` lines of an SSE body
 * (the upstream's mid-stream failures); every other line passes unchanged,
 * so the model's own text is never altered.
 */
export function redactStreamErrors(): TransformStream<Uint8Array, Uint8Array> {
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  let pending = "";
  const fix = (line: string) => /^data:\s*\{\s*"error"/.test(line) ? redactKeys(line) : line;
  return new TransformStream({
    transform(chunk, controller) {
      pending += decoder.decode(chunk, { stream: true });
      const cut = pending.lastIndexOf("\n");
      if (cut < 0) return;
      const lines = pending.slice(0, cut + 1).split("\n").map(fix).join("\n");
      pending = pending.slice(cut + 1);
      controller.enqueue(encoder.encode(lines));
    },
    flush(controller) {
      pending += decoder.decode();
      if (pending !== "") controller.enqueue(encoder.encode(fix(pending)));
    },
  });
}

async function readBounded(res: Response): Promise<string> {
  if (res.body === null) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < MAX_ERROR_BODY) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } catch {
    // A broken error body: keep what arrived.
  } finally {
    await reader.cancel().catch(() => {});
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.byteLength;
  }
  return new TextDecoder().decode(all.subarray(0, MAX_ERROR_BODY));
}

function parseError(text: string): Record<string, unknown> & { message?: string } {
  try {
    const json = JSON.parse(text);
    const error = json?.error;
    if (typeof error === "object" && error !== null) {
      return { ...error, message: typeof error.message === "string" ? error.message : undefined };
    }
    if (typeof error === "string") return { message: error };
  } catch {
    // not JSON: an HTML error page, say
  }
  return {};
}
