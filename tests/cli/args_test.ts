import assert from "node:assert/strict";
import { parseCliArgs, UsageError } from "../../cli/args.ts";
import { parseLegacyFrame } from "../../cli/legacy.ts";
import { grpcTarget } from "../../cli/protocols/grpc.ts";
import { toAnswerEvent } from "../../cli/protocols/sse.ts";
import { readLines } from "../../cli/terminal.ts";
import { codeFromName, describeFailure } from "../../cli/failure.ts";
import { Code } from "../../lib/errors.ts";

Deno.test("parseCliArgs defaults to gRPC on the local listener when given nothing", () => {
  const o = parseCliArgs([]);
  assert.deepEqual(o.protocol, "grpc");
  assert.deepEqual(o.url, "127.0.0.1:9000");
  assert.deepEqual(o.apiUrl, "http://127.0.0.1:8000");
  assert.deepEqual(o.prompt, null);
  assert.deepEqual(o.conversationId, null);
  assert.deepEqual(o.json, false);
});

Deno.test("parseCliArgs picks each protocol's default url when only --protocol is given", () => {
  assert.deepEqual(parseCliArgs(["--protocol", "http"]).url, "http://127.0.0.1:8000");
  assert.deepEqual(parseCliArgs(["--protocol", "sse"]).url, "http://127.0.0.1:8000");
  assert.deepEqual(parseCliArgs(["--protocol=ws"]).url, "ws://127.0.0.1:9001");
});

Deno.test("parseCliArgs accepts the original's --conversation_id and --parent_id", () => {
  const o = parseCliArgs(["--conversation_id", "c1", "--parent_id", "p1", "hi", "there"]);
  assert.deepEqual(o.conversationId, "c1");
  assert.deepEqual(o.parentId, "p1");
  assert.deepEqual(o.prompt, "hi there");
  const n = parseCliArgs(["--conversation", "new", "--parent", ""]);
  assert.deepEqual(n.conversationId, null);
  assert.deepEqual(n.parentId, null);
});

Deno.test("parseCliArgs reads flags after the leading -- that deno task passes on", () => {
  const o = parseCliArgs(["--", "--json", "--protocol", "ws", "what", "now"]);
  assert.equal(o.json, true);
  assert.equal(o.protocol, "ws");
  assert.equal(o.prompt, "what now");
  assert.equal(parseCliArgs(["--", "--", "--literal"]).prompt, "--literal");
});

Deno.test("parseCliArgs derives the conversation API url from a wss url", () => {
  const o = parseCliArgs(["--protocol", "ws", "--url", "wss://chat.example:9443"]);
  assert.deepEqual(o.apiUrl, "https://chat.example:8000");
  const p = parseCliArgs(["--protocol", "ws", "--api-url", "http://h:1"]);
  assert.deepEqual(p.apiUrl, "http://h:1");
});

Deno.test("parseCliArgs throws UsageError when the protocol or a flag is unknown", () => {
  assert.throws(() => parseCliArgs(["--protocol", "smtp"]), /Cannot use protocol/);
  assert.throws(() => parseCliArgs(["--nope"]), /Cannot parse the arguments/);
  assert.throws(() => parseCliArgs(["--token"]), UsageError);
});

Deno.test("parseLegacyFrame reads text, end and error frames", () => {
  assert.deepEqual(parseLegacyFrame("Hello"), { type: "text", text: "Hello" });
  assert.deepEqual(parseLegacyFrame("<|end|>$c1$m2"), {
    type: "end",
    conversationId: "c1",
    parentId: "m2",
  });
  assert.deepEqual(parseLegacyFrame("<|err|>$Cannot find: x"), {
    type: "error",
    reason: "Cannot find: x",
  });
  assert.deepEqual(parseLegacyFrame("<|end|>$"), { type: "text", text: "<|end|>$" });
});

Deno.test("grpcTarget uses TLS when the scheme or a CA says so", () => {
  assert.deepEqual(grpcTarget("127.0.0.1:9000"), { address: "127.0.0.1:9000", tls: false });
  assert.deepEqual(grpcTarget("grpcs://h:9000/"), { address: "h:9000", tls: true });
  assert.deepEqual(grpcTarget("h:9000", "PEM"), { address: "h:9000", tls: true });
});

Deno.test("toAnswerEvent turns SSE delta, done and error events into answer events", () => {
  assert.deepEqual(toAnswerEvent("delta", '{"text":"a"}'), { type: "delta", text: "a" });
  assert.deepEqual(toAnswerEvent("done", '{"conversation_id":"c","parent_id":"p","model":"m"}'), {
    type: "done",
    conversationId: "c",
    parentId: "p",
    model: "m",
    usage: null,
  });
  assert.deepEqual(toAnswerEvent("ping", "{}"), null);
  assert.throws(
    () => toAnswerEvent("error", '{"code":"not_found","message":"Cannot find the conversation"}'),
    /Cannot find the conversation/,
  );
});

Deno.test("codeFromName maps snake_case code names and reasons to codes", () => {
  assert.deepEqual(codeFromName("not_found"), Code.NotFound);
  assert.deepEqual(codeFromName("unauthenticated"), Code.Unauthenticated);
  assert.deepEqual(codeFromName("upstream_timeout"), Code.DeadlineExceeded);
  assert.deepEqual(codeFromName("whatever"), Code.Unknown);
  assert.deepEqual(
    describeFailure(new DOMException("x", "AbortError")),
    "Cannot finish the answer: it was canceled",
  );
});

Deno.test("readLines splits LF and CRLF across chunks and keeps a last unterminated line", async () => {
  const enc = new TextEncoder();
  const body = ReadableStream.from(["a\r", "\nb", "\n\nc"].map((s) => enc.encode(s)));
  const lines: string[] = [];
  for await (const line of readLines(body)) lines.push(line);
  assert.deepEqual(lines, ["a", "b", "", "c"]);
});
