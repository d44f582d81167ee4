/**
 * Size limits of `main.ts` on every protocol: the prompt (MAX_PROMPT_CHARS),
 * the HTTP body (MAX_BODY_BYTES, also chunked), the WebSocket frame
 * (MAX_WS_FRAME_BYTES) and the gRPC message (MAX_GRPC_MESSAGE_BYTES). Each is
 * answered with its wire's error, and nothing of a refused ask is stored or
 * sent upstream.
 */

import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { Code } from "../../lib/errors.ts";
import { bearer, clientConstructors, collect } from "../transports/grpc_client.ts";
import { QueueClient } from "../transports/ws_client.ts";
import { startServer } from "../_helpers/server_process.ts";
import { askOver, PROTOCOLS } from "./_clients.ts";
import { type SecureServer, startSecureServer } from "./_server.ts";

const TOKEN = "tok-sizes-0123456789";
const LIMITS = {
  AUTH_TOKENS: TOKEN,
  MAX_PROMPT_CHARS: "200",
  MAX_BODY_BYTES: "1024",
  MAX_WS_FRAME_BYTES: "1024",
  MAX_GRPC_MESSAGE_BYTES: "1024",
};

async function withServer(fn: (s: SecureServer) => Promise<void>): Promise<void> {
  await using s = await startSecureServer({ env: LIMITS });
  await fn(s);
  assert.equal(s.count("user"), 0, "a refused ask stored its prompt");
  assert.equal(s.fake.requests.length, 0, "a refused ask reached the upstream");
}

Deno.test("a prompt over MAX_PROMPT_CHARS is refused on every protocol before anything is stored", async () => {
  await withServer(async (s) => {
    for (const protocol of PROTOCOLS) {
      // 201 characters: under every byte limit, over the prompt limit.
      const r = await askOver(s.target, protocol, { token: TOKEN, prompt: "p".repeat(201) });
      const why = `${protocol}: ${r.seen.join("\n")}`;
      assert.equal(r.ok, false, why);
      assert.match(
        r.message ?? "",
        /^Cannot ask: the prompt has 201 characters, more than 200/,
        why,
      );
      if (protocol.startsWith("http") || protocol === "v1-responses") {
        assert.equal(r.status, 413, why);
      }
      if (protocol === "grpc-typed") assert.equal(r.status, Code.ResourceExhausted, why);
      if (protocol === "ws-json") assert.equal(r.code, "payload_too_large", why);
    }
  });
});

/** A Chat Completions body whose messages hold `chars` characters of text, split over roles and parts. */
function chatBody(chars: number, stream: boolean): Record<string, unknown> {
  const part = Math.floor(chars / 4);
  return {
    model: "gpt-4o-mini",
    stream,
    messages: [
      { role: "system", content: "s".repeat(part) },
      { role: "user", content: "u".repeat(part) },
      { role: "assistant", content: "a".repeat(part) },
      {
        role: "user",
        content: [{ type: "text", text: "t".repeat(chars - 3 * part - 1) }, {
          type: "text",
          text: "!",
        }],
      },
    ],
  };
}

async function postChat(httpUrl: string, body: unknown, token?: string): Promise<Response> {
  return await fetch(`${httpUrl}/v1/chat/completions`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(body),
  });
}

async function assertTooLarge(res: Response, chars: number, why: string): Promise<void> {
  assert.equal(res.status, 413, why);
  const json = await res.json();
  assert.deepEqual(json.error, {
    message: `Cannot answer: the messages have ${chars} characters, more than 200`,
    type: "invalid_request_error",
    param: null,
    code: "payload_too_large",
  }, why);
}

Deno.test("/v1/chat/completions passed through refuses messages over MAX_PROMPT_CHARS in total with 413 and sends nothing upstream", async () => {
  await withServer(async (s) => {
    for (const stream of [false, true]) {
      const res = await postChat(s.target.httpUrl, chatBody(201, stream), TOKEN);
      await assertTooLarge(res, 201, `stream=${stream}`);
    }
  });
});

Deno.test("/v1/chat/completions synthesized refuses messages over MAX_PROMPT_CHARS in total with 413 and answers at the limit", async () => {
  const server = await startServer({ env: { PROVIDER: "echo", MAX_PROMPT_CHARS: "200" } });
  try {
    for (const stream of [false, true]) {
      await assertTooLarge(
        await postChat(server.httpUrl, chatBody(201, stream)),
        201,
        `stream=${stream}`,
      );
      const ok = await postChat(server.httpUrl, chatBody(200, stream));
      assert.equal(ok.status, 200, `stream=${stream}`);
      await ok.body?.cancel();
    }
  } finally {
    assert.equal(await server.stop(), 0);
  }
});

Deno.test("an HTTP body over MAX_BODY_BYTES is 413 on every route, with or without Content-Length", async () => {
  await withServer(async (s) => {
    const big = JSON.stringify({ prompt: "x".repeat(2000), input: "x", messages: [] });
    const routes: [string, string][] = [
      ["POST", "/ask/new"],
      ["POST", "/ask"],
      ["PATCH", "/conversations/c1"],
      ["POST", "/v1/chat/completions"],
      ["POST", "/v1/responses"],
    ];
    for (const [method, path] of routes) {
      for (const chunked of [false, true]) {
        const body = chunked ? ReadableStream.from([big.slice(0, 600), big.slice(600)]) : big;
        const res = await fetch(`${s.target.httpUrl}${path}`, {
          method,
          headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
          body: typeof body === "string" ? body : body.pipeThrough(new TextEncoderStream()),
        });
        const why = `${method} ${path} chunked=${chunked}`;
        assert.equal(res.status, 413, why);
        const json = await res.json();
        assert.match(json.error.message, /larger than 1024 bytes/, why);
        if (path.startsWith("/v1/")) assert.equal(json.error.type, "invalid_request_error", why);
        else assert.equal(json.error.code, "payload_too_large", why);
      }
    }
  });
});

Deno.test("a WebSocket frame over MAX_WS_FRAME_BYTES gets an error frame and the socket stays usable", async () => {
  await withServer(async (s) => {
    const c = new QueueClient(`${s.target.wsUrl}/?token=${TOKEN}`);
    await c.opened;
    try {
      const prompt = "w".repeat(1100);
      c.send({ type: "ask", id: "big", prompt });
      const jsonErr = await c.nextJson();
      assert.equal(jsonErr.type, "error");
      assert.equal(jsonErr.code, "resource_exhausted");
      assert.equal(jsonErr.reason, "payload_too_large");
      assert.match(String(jsonErr.message), /^Cannot accept the frame: it is too large/);
      c.send(`<|ask|>$new$new$${prompt}`);
      assert.match(await c.next(), /^<\|err\|>\$Cannot accept the frame: it is too large/);
      // Binary frames count too.
      c.socket.send(new Uint8Array(2048));
      assert.match(await c.next(), /^<\|err\|>\$Cannot accept the frame/);
      assert.equal(c.socket.readyState, WebSocket.OPEN);
    } finally {
      await c.close();
    }
  });
});

Deno.test("a gRPC message over MAX_GRPC_MESSAGE_BYTES is RESOURCE_EXHAUSTED on the legacy and typed Ask", async () => {
  await withServer(async (s) => {
    const ctors = clientConstructors();
    for (const ctor of [ctors.legacy, ctors.typed]) {
      const client = new ctor(s.target.grpcAddress, grpc.credentials.createInsecure());
      try {
        const call = client.Ask({ prompt: "g".repeat(1100), conversationId: "" }, bearer(TOKEN));
        const { messages, error } = await collect(call);
        assert.deepEqual(messages, []);
        assert.equal(error?.code, grpc.status.RESOURCE_EXHAUSTED);
        assert.match(error?.details ?? "", /larger than max/i);
      } finally {
        client.close();
      }
    }
  });
});
