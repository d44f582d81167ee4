import assert from "node:assert/strict";
import { parseConfig } from "../../lib/config.ts";
import { AppError } from "../../lib/errors.ts";
import { silentLogger } from "../../lib/log.ts";
import { createProvider } from "../../lib/providers/registry.ts";
import type { CallContext, ChatEvent, Provider } from "../../lib/providers/provider.ts";
import { errorScript, startOpenAIFake } from "../_fakes/openai_upstream.ts";

function configOf(env: Record<string, string>) {
  const parsed = parseConfig([], env, { readFile: () => "" });
  if (parsed.help) throw new Error("unexpected help");
  return parsed.config;
}

function context(): CallContext {
  return {
    signal: new AbortController().signal,
    requestId: "req-test",
    principal: "anonymous",
    logger: silentLogger,
  };
}

async function replyText(provider: Provider): Promise<string> {
  let text = "";
  const events: ChatEvent[] = [];
  for await (
    const e of provider.stream({
      model: provider.defaultModel,
      messages: [{ role: "user", content: "ping" }],
      userMessageId: "u1",
    }, context())
  ) {
    events.push(e);
    if (e.type === "delta") text += e.text;
  }
  assert.equal(events.at(-1)?.type, "done");
  return text;
}

/** A plain HTTP forward proxy on loopback: it takes absolute-URI requests and forwards them. */
function startProxy() {
  const seen: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    seen.push(`${req.method} ${req.url}`);
    const headers = new Headers();
    for (const name of ["authorization", "content-type", "accept"]) {
      const v = req.headers.get(name);
      if (v !== null) headers.set(name, v);
    }
    const body = req.method === "GET" ? undefined : await req.arrayBuffer();
    const upstream = await fetch(req.url, { method: req.method, headers, body });
    return new Response(upstream.body, { status: upstream.status, headers: upstream.headers });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    seen,
    close: () => server.shutdown(),
  };
}

Deno.test("createProvider picks the openai provider for an sk- key and uses the key", async () => {
  const fake = await startOpenAIFake();
  try {
    const provider = createProvider(
      configOf({ API_KEY: "sk-one,sk-two", API_BASE_URL: fake.url }),
      silentLogger,
    );
    assert.equal(provider.name, "openai");
    assert.equal(provider.stateful, false);
    assert.equal(provider.defaultModel, "gpt-4o-mini");
    assert.ok(provider.passThrough);
    assert.equal(await replyText(provider), "Heard 1 messages: user: ping");
    assert.equal(await replyText(provider), "Heard 1 messages: user: ping");
    assert.deepEqual(fake.requests.map((r) => r.key), ["sk-one", "sk-two"]);
  } finally {
    await fake.close();
  }
});

Deno.test("createProvider picks chatgpt-web for a JWT access token", () => {
  const provider = createProvider(configOf({ API_KEY: "eyJhbGciOi.eyJzdWIiOi.sig" }), silentLogger);
  assert.equal(provider.name, "chatgpt-web");
  assert.equal(provider.stateful, true);
  assert.equal(provider.defaultModel, "auto");
});

Deno.test("createProvider picks the echo provider when there is no key", async () => {
  const provider = createProvider(configOf({}), silentLogger);
  assert.equal(provider.name, "echo");
  assert.match(await replyText(provider), /ping/);
});

Deno.test("createProvider honours PROVIDER over the key's shape", () => {
  const provider = createProvider(configOf({ PROVIDER: "echo", API_KEY: "sk-x" }), silentLogger);
  assert.equal(provider.name, "echo");
});

Deno.test("createProvider gives the pool UPSTREAM_ATTEMPTS attempts", async () => {
  const fake = await startOpenAIFake();
  try {
    const provider = createProvider(
      configOf({ API_KEY: "sk-x", API_BASE_URL: fake.url, UPSTREAM_ATTEMPTS: "1" }),
      silentLogger,
    );
    fake.next(errorScript(500));
    await assert.rejects(() => replyText(provider), AppError);
    assert.equal(fake.requests.length, 1);
  } finally {
    await fake.close();
  }
});

Deno.test("createProvider sends upstream calls through PROXY when it is set", async () => {
  const fake = await startOpenAIFake();
  const proxy = startProxy();
  const closing = new AbortController();
  try {
    const provider = createProvider(
      configOf({ API_KEY: "sk-x", API_BASE_URL: fake.url, PROXY: proxy.url }),
      silentLogger,
      { closeSignal: closing.signal },
    );
    assert.equal(await replyText(provider), "Heard 1 messages: user: ping");
    const models = await provider.listModels(context());
    assert.ok(models.some((m) => m.id === "gpt-4o-mini"));
    assert.deepEqual(proxy.seen, [
      `POST ${fake.url}/chat/completions`,
      `GET ${fake.url}/models`,
    ]);
    assert.equal(fake.requests[0].key, "sk-x");
  } finally {
    closing.abort();
    await proxy.close();
    await fake.close();
  }
});

Deno.test("createProvider leaves the answers to fetch, which honours HTTP_PROXY, when that is set", async () => {
  const fake = await startOpenAIFake();
  const proxy = startProxy();
  try {
    // A child process: the runtime reads the proxy variables once, at its first fetch.
    const lib = (path: string) =>
      JSON.stringify(new URL(`../../lib/${path}`, import.meta.url).href);
    const script = `
      const { parseConfig } = await import(${lib("config.ts")});
      const { createProvider } = await import(${lib("providers/registry.ts")});
      const { silentLogger } = await import(${lib("log.ts")});
      const env = { ...Deno.env.toObject(), API_KEY: "sk-x", API_BASE_URL: ${
      JSON.stringify(fake.url)
    } };
      const parsed = parseConfig([], env, { readFile: () => "" });
      const closing = new AbortController();
      const provider = createProvider(parsed.config, silentLogger, { closeSignal: closing.signal });
      let text = "";
      const ctx = { signal: new AbortController().signal, requestId: "r", principal: "p", logger: silentLogger };
      for await (const e of provider.stream({ model: "m", messages: [{ role: "user", content: "ping" }], userMessageId: "u" }, ctx)) {
        if (e.type === "delta") text += e.text;
      }
      closing.abort();
      Deno.stdout.writeSync(new TextEncoder().encode(text));
    `;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", script],
      env: { HTTP_PROXY: proxy.url, NO_PROXY: "" },
      signal: AbortSignal.timeout(30_000),
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.equal(new TextDecoder().decode(out.stdout), "Heard 1 messages: user: ping");
    assert.deepEqual(proxy.seen, [`POST ${fake.url}/chat/completions`]);
  } finally {
    await proxy.close();
    await fake.close();
  }
});

Deno.test("parseConfig notes a proxy named by HTTPS_PROXY, HTTP_PROXY or ALL_PROXY in any case", () => {
  assert.equal(configOf({}).proxyInEnvironment, false);
  for (const name of ["HTTPS_PROXY", "http_proxy", "ALL_PROXY"]) {
    assert.equal(configOf({ [name]: "http://127.0.0.1:3128" }).proxyInEnvironment, true, name);
  }
  assert.equal(configOf({ HTTPS_PROXY: "  " }).proxyInEnvironment, false);
});
