/**
 * The OpenAPI document against the server's real answers: every JSON body
 * the HTTP listener sends on a documented status is checked against its
 * documented schema, strictly (a field the schema does not name fails, unless
 * the schema says `additionalProperties: true`).
 */

import assert from "node:assert/strict";
import { parseConfig } from "../../lib/config.ts";
import { createEngine } from "../../lib/engine/engine.ts";
import { silentLogger } from "../../lib/log.ts";
import { EchoProvider } from "../../lib/providers/echo/client.ts";
import { openSqliteStore } from "../../lib/store/sqlite.ts";
import { serveHttp } from "../../lib/transports/http.ts";
import { buildOpenApiDocument } from "../../lib/transports/openapi.ts";

type Schema = Record<string, unknown>;
const doc = buildOpenApiDocument() as Schema;

function resolve(schema: Schema): Schema {
  let s = schema;
  while (typeof s.$ref === "string") {
    s = s.$ref.split("/").slice(1).reduce<Schema>((o, k) => o[k] as Schema, doc);
  }
  return s;
}

function typeOf(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  return Number.isInteger(v) ? "integer" : typeof v;
}

/** The problems of a value against a schema, as `path: what` lines. */
function problems(value: unknown, schema: Schema, path = "$"): string[] {
  const s = resolve(schema);
  if (Array.isArray(s.allOf)) {
    const parts = (s.allOf as Schema[]).map(resolve);
    const merged: Schema = {
      type: "object",
      properties: Object.assign({}, ...parts.map((p) => p.properties ?? {})),
      required: parts.flatMap((p) => (p.required as string[] | undefined) ?? []),
    };
    return problems(value, merged, path);
  }
  const out: string[] = [];
  const t = typeOf(value);
  if (s.type !== undefined) {
    const types = [s.type].flat() as string[];
    if (!types.includes(t) && !(t === "integer" && types.includes("number"))) {
      out.push(`${path}: is ${t}, documented ${types.join("|")}`);
    }
  }
  if ("const" in s && value !== s.const) out.push(`${path}: is not ${JSON.stringify(s.const)}`);
  if (Array.isArray(s.enum) && !s.enum.includes(value)) out.push(`${path}: not in the enum`);
  if (t === "array") {
    const items = value as unknown[];
    if (typeof s.maxItems === "number" && items.length > s.maxItems) out.push(`${path}: too long`);
    if (s.items) {
      items.forEach((v, i) => out.push(...problems(v, s.items as Schema, `${path}[${i}]`)));
    }
  }
  if (t === "object") {
    const record = value as Record<string, unknown>;
    for (const name of (s.required as string[] | undefined) ?? []) {
      if (!(name in record)) out.push(`${path}.${name}: required, missing`);
    }
    const properties = s.properties as Record<string, Schema> | undefined;
    const extra = s.additionalProperties;
    for (const [k, v] of Object.entries(record)) {
      if (properties?.[k]) out.push(...problems(v, properties[k], `${path}.${k}`));
      else if (typeof extra === "object" && extra !== null) {
        out.push(...problems(v, extra as Schema, `${path}.${k}`));
      } else if (properties && extra !== true) out.push(`${path}.${k}: not documented`);
    }
  }
  return out;
}

Deno.test("every JSON answer of the HTTP listener matches its documented schema exactly", async () => {
  const dir = await Deno.makeTempDir({ prefix: "eb-openapi-" });
  const parsed = parseConfig([], { HOST: "127.0.0.1", HTTP_PORT: "0", DATA_DIR: dir });
  if (parsed.help) throw new Error("unexpected help");
  const store = await openSqliteStore(dir);
  const engine = createEngine({ store, provider: new EchoProvider(), logger: silentLogger });
  const shutdown = new AbortController();
  const handle = await serveHttp({
    engine,
    config: parsed.config,
    logger: silentLogger,
    shutdown: shutdown.signal,
  });
  const base = `http://127.0.0.1:${handle.port}`;
  const paths = doc.paths as Record<string, Record<string, Schema>>;
  const seen: string[] = [];
  async function call(method: string, pattern: string, path: string, body?: unknown) {
    const res = await fetch(base + path, {
      method,
      headers: { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await res.json();
    const operation = paths[pattern]?.[method.toLowerCase()];
    assert.ok(operation, `${method} ${pattern} is documented`);
    const responses = operation.responses as Record<string, Schema>;
    const documented = responses[String(res.status)];
    assert.ok(documented, `${method} ${path}: status ${res.status} is documented`);
    const content = resolve(documented).content as Record<string, { schema: Schema }>;
    assert.deepEqual(problems(json, content["application/json"].schema), [], `${method} ${path}`);
    seen.push(`${method} ${pattern} ${res.status}`);
    return json;
  }
  try {
    const a = await call("POST", "/ask/{conversation_id}", "/ask/new", { prompt: "hello" });
    await call("POST", "/ask", "/ask", { prompt: "hello", parent_id: null });
    const c = a.conversation_id;
    const ask = "/ask/{conversation_id}";
    await call("POST", ask, `/ask/${c}`, { prompt: "" });
    await call("POST", ask, `/ask/${c}`, { prompt: "x", parent_id: "nope" });
    await call("POST", ask, "/ask/new", { prompt: "x".repeat(100_001) });
    await call("GET", "/conversations", "/conversations?limit=5");
    await call("GET", "/conversations", "/conversations?limit=0");
    await call("GET", "/conversations/{id}", `/conversations/${c}`);
    await call("GET", "/conversations/{id}/messages", `/conversations/${c}/messages`);
    await call("PATCH", "/conversations/{id}", `/conversations/${c}`, { title: "t" });
    await call("PATCH", "/conversations/{id}", `/conversations/${c}`, { title: " " });
    await call("GET", "/healthz", "/healthz");
    await call("GET", "/v1/models", "/v1/models");
    const r = await call("POST", "/v1/responses", "/v1/responses", { input: "hi" });
    await call("GET", "/v1/responses/{id}", `/v1/responses/${r.id}`);
    await call("GET", "/v1/responses/{id}", "/v1/responses/nope");
    await call("POST", "/v1/responses", "/v1/responses", { input: "hi", tools: [{}] });
    await call("POST", "/v1/chat/completions", "/v1/chat/completions", {
      messages: [{ role: "user", content: "hi" }],
    });
    await call("POST", "/v1/chat/completions", "/v1/chat/completions", { messages: [] });
    await call("DELETE", "/conversations/{id}", `/conversations/${c}`);
    await call("DELETE", "/conversations/{id}", `/conversations/${c}`);
    assert.equal(seen.length, 21);
  } finally {
    shutdown.abort();
    await handle.close(AbortSignal.abort());
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the schema check finds an undocumented field, a wrong type and a missing field", () => {
  const schemas = (doc.components as Record<string, Record<string, Schema>>).schemas;
  const header = {
    id: "c",
    title: "t",
    "create_time": 1.5,
    "update_time": 2,
    "current_node": null,
  };
  assert.deepEqual(problems(header, schemas.ConversationHeader), []);
  assert.deepEqual(problems({ ...header, title: 5, owner: "x" }, schemas.ConversationHeader), [
    "$.title: is integer, documented string",
    "$.owner: not documented",
  ]);
  const { id: _, ...missing } = header;
  assert.deepEqual(problems(missing, schemas.ConversationHeader), ["$.id: required, missing"]);
});
