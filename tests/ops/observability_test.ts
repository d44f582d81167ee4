/**
 * Logs and metrics of a full run of `main.ts` over every protocol: JSON log
 * lines with the request id the client also got back, one answer line per
 * ask with its facts, `/metrics` counts that move with each ask and with an
 * upstream failure, key-pool series without the keys, `LOG_LEVEL` filtering,
 * and never a prompt, a reply or a key in any log line.
 */

import assert from "node:assert/strict";
import { errorScript, startOpenAIFake } from "../_fakes/openai_upstream.ts";
import { startServer } from "../_helpers/server_process.ts";
import {
  askGrpcLegacy,
  askHttpJson,
  askHttpSse,
  askWsJson,
  askWsLegacy,
  type Seen,
  slowAnswer,
} from "./_clients.ts";

const KEYS = ["sk-ops-first-key-0123456789", "sk-ops-second-key-9876543210"];
const PROMPT = "zebra-prompt-7f3a describe the quiet harbour";
const REPLY = ["quokka-", "reply-", "91c2"];

/** The value of one series in a Prometheus text, 0 when absent. */
function sample(text: string, series: string): number {
  for (const line of text.split("\n")) {
    if (line.startsWith(series + " ")) return Number(line.slice(series.length + 1));
  }
  return 0;
}

async function scrape(url: string): Promise<string> {
  const res = await fetch(`${url}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  return await res.text();
}

function jsonLines(lines: string[]): Record<string, unknown>[] {
  return lines.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
}

async function fakeUpstream() {
  const fake = await startOpenAIFake({ keys: KEYS });
  return Object.assign(fake, { [Symbol.asyncDispose]: () => fake.close() });
}

Deno.test("a full run over every protocol logs one answer line per ask with the client's request id, moves the metrics, and never logs a prompt, reply or key", async () => {
  await using fake = await fakeUpstream();
  const server = await startServer({
    env: { API_KEY: KEYS.join(","), API_BASE_URL: fake.url, UPSTREAM_ATTEMPTS: "2" },
  });
  let stopped = false;
  try {
    const asks: [string, string, () => Promise<Seen>][] = [
      ["http", "JSON", () => askHttpJson(server.httpUrl, PROMPT)],
      ["http", "SSE", () => askHttpSse(server.httpUrl, PROMPT)],
      ["grpc", "legacy", () => askGrpcLegacy(server.grpcPort, PROMPT)],
      ["ws", "JSON", () => askWsJson(server.wsPort, PROMPT)],
      ["ws", "legacy", () => askWsLegacy(server.wsPort, PROMPT)],
    ];
    const seen: { protocol: string; seen: Seen }[] = [];
    for (const [protocol, form, ask] of asks) {
      const series = `easybackend_answers_total{code="ok",kind="ask",protocol="${protocol}"}`;
      const before = sample(await scrape(server.httpUrl), series);
      fake.next(slowAnswer(REPLY, 0));
      const s = await ask();
      assert.equal(s.end, "done", `${protocol} ${form}`);
      assert.equal(s.text, REPLY.join(""));
      seen.push({ protocol, seen: s });
      const after = await scrape(server.httpUrl);
      assert.equal(sample(after, series), before + 1, `${protocol} ${form} counted`);
      const ttft = `easybackend_time_to_first_token_seconds_count{protocol="${protocol}"}`;
      assert.ok(sample(after, ttft) >= 1, `${protocol} ${form} time to first token`);
    }

    // The OpenAI-compatible routes: Responses (stored) and the raw pass-through.
    for (
      const [path, body] of [
        ["/v1/responses", { model: "gpt-4o-mini", input: PROMPT, stream: true }],
        ["/v1/chat/completions", {
          model: "gpt-4o-mini",
          messages: [{ role: "user", content: PROMPT }],
          stream: true,
        }],
      ] as const
    ) {
      fake.next(slowAnswer(REPLY, 0));
      const res = await fetch(`${server.httpUrl}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      assert.equal(res.status, 200, path);
      assert.ok((await res.text()).includes("quokka-"), path);
    }

    // An upstream failure: two 500s use up both attempts (one per key).
    fake.next(errorScript(500));
    fake.next(errorScript(500));
    const failed = await askHttpJson(server.httpUrl, PROMPT);
    assert.equal(failed.end, "upstream_error");
    const text = await scrape(server.httpUrl);
    assert.equal(sample(text, 'easybackend_upstream_errors_total{kind="upstream_error"}'), 1);
    assert.equal(
      sample(text, 'easybackend_answers_total{code="unavailable",kind="ask",protocol="http"}'),
      1,
    );
    assert.equal(sample(text, 'easybackend_tokens_total{direction="prompt"}'), 6 * 9);
    assert.equal(sample(text, 'easybackend_tokens_total{direction="completion"}'), 6 * 4);
    for (const p of ["http", "grpc", "ws"]) {
      assert.equal(sample(text, `easybackend_active_streams{protocol="${p}"}`), 0);
      assert.ok(sample(text, `easybackend_answer_duration_seconds_count{protocol="${p}"}`) >= 1);
    }
    const attempts = [0, 1].map((k) =>
      sample(text, `easybackend_upstream_attempts_total{key="${k}"}`)
    );
    assert.equal(attempts[0] + attempts[1], 5 + 2 + 2);
    const errors = [0, 1].map((k) =>
      sample(text, `easybackend_upstream_attempt_errors_total{key="${k}"}`)
    );
    assert.deepEqual(errors, [1, 1]);
    for (const k of [0, 1]) {
      assert.equal(sample(text, `easybackend_upstream_key_healthy{key="${k}"}`), 1);
      assert.equal(sample(text, `easybackend_upstream_key_consecutive_failures{key="${k}"}`), 1);
    }
    for (const key of KEYS) assert.ok(!text.includes(key));

    // A request id the client chose comes back and is logged.
    const res = await fetch(`${server.httpUrl}/healthz`, { headers: { "x-request-id": "ops-42" } });
    await res.body?.cancel();
    assert.equal(res.headers.get("x-request-id"), "ops-42");

    assert.equal(await server.stop(), 0);
    stopped = true;
    const logs = server.logs();
    const lines = jsonLines(logs);
    assert.equal(lines.length, logs.filter((l) => l.trim() !== "").length, "only JSON lines");
    for (const l of lines) {
      assert.equal(typeof l.time, "string");
      assert.ok(["debug", "info", "warn", "error"].includes(l.level as string));
      assert.equal(typeof l.msg, "string");
    }
    const answers = lines.filter((l) => l.msg === "answer");
    for (const { protocol, seen: s } of seen) {
      if (s.requestId === null) continue; // legacy WebSocket frames carry no id
      const line = answers.find((l) => l.requestId === s.requestId);
      assert.ok(line, `an answer line for ${protocol} request ${s.requestId}`);
      assert.equal(line.protocol, protocol);
      assert.equal(line.conversationId, s.conversationId);
      assert.equal(line.status, "ok");
      assert.equal(line.upstreamAttempts, 1);
      assert.equal(line.promptTokens, 9);
      assert.equal(line.completionTokens, 4);
      assert.equal(typeof line.durationMs, "number");
      assert.equal(typeof line.ttftMs, "number");
    }
    assert.equal(seen.filter((s) => s.seen.requestId !== null).length, 4);
    const failure = answers.find((l) => l.status === "unavailable");
    assert.equal(failure?.upstreamAttempts, 2);
    assert.equal(failure?.reason, "upstream_error");
    assert.ok(lines.some((l) => l.requestId === "ops-42" && l.msg === "request"));

    const all = logs.join("\n");
    for (const secret of ["zebra-prompt", "quiet harbour", "quokka", "91c2", ...KEYS]) {
      assert.ok(!all.includes(secret), `the logs contain ${secret}`);
    }
  } finally {
    if (!stopped) await server.kill();
  }
});

/** Distinct free ports: all held open at once, then released. */
function freePorts(n: number): number[] {
  const listeners = Array.from(
    { length: n },
    () => Deno.listen({ hostname: "127.0.0.1", port: 0 }),
  );
  const ports = listeners.map((l) => l.addr.port);
  for (const l of listeners) l.close();
  return ports;
}

Deno.test("LOG_LEVEL=warn drops info lines and keeps warnings", async () => {
  const dir = await Deno.makeTempDir({ prefix: "eb-ops-level-" });
  const [http, grpcPort, ws] = freePorts(3);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", new URL("../../main.ts", import.meta.url).pathname],
    env: {
      HOST: "127.0.0.1",
      HTTP_PORT: String(http),
      GRPC_PORT: String(grpcPort),
      WS_PORT: String(ws),
      DATA_DIR: dir,
      LOG_LEVEL: "warn",
      API_KEY: "",
    },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  try {
    const url = `http://127.0.0.1:${http}`;
    let ready = false;
    const until = Date.now() + 20_000;
    while (!ready && Date.now() < until) {
      ready = await fetch(`${url}/healthz`).then(async (r) => {
        await r.body?.cancel();
        return r.ok;
      }, () => false);
      if (!ready) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(ready, "the server answers /healthz");
    assert.equal((await askHttpJson(url, PROMPT)).end, "done");
  } finally {
    child.kill("SIGTERM");
    const out = await child.output();
    await Deno.remove(dir, { recursive: true });
    assert.equal(out.code, 0);
    const lines = jsonLines(new TextDecoder().decode(out.stdout).split("\n"));
    assert.ok(lines.length > 0);
    assert.ok(lines.every((l) => l.level === "warn" || l.level === "error"), "no info lines");
    assert.ok(lines.some((l) => String(l.msg).includes("echo provider")));
  }
});
