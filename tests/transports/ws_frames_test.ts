import assert from "node:assert/strict";
import { AppError, Code } from "../../lib/errors.ts";
import {
  deltaFrame,
  doneFrame,
  errorFrame,
  parseJsonFrame,
  parseLegacyAsk,
} from "../../lib/transports/ws_frames.ts";
import { legacyEnd, wireId } from "../../lib/transports/legacy_wire.ts";
import { protocolToken } from "../../lib/transports/ws.ts";

Deno.test("parseLegacyAsk keeps $ and newlines in the prompt when they follow the third $", () => {
  const parsed = parseLegacyAsk("<|ask|>$c1$m1$a $5 bill\nand $$ more$");
  assert.deepEqual(parsed, {
    ok: true,
    value: { conversationId: "c1", parentId: "m1", prompt: "a $5 bill\nand $$ more$" },
  });
});

Deno.test("parseLegacyAsk gives null ids when they are empty or new", () => {
  for (const frame of ["<|ask|>$$$hi", "<|ask|>$new$new$hi", "<|ask|>$NEW$$hi"]) {
    const parsed = parseLegacyAsk(frame);
    assert.ok(parsed.ok, frame);
    assert.equal(parsed.value.conversationId, null);
    assert.equal(parsed.value.parentId, null);
    assert.equal(parsed.value.prompt, "hi");
  }
});

Deno.test("parseLegacyAsk refuses a frame when the prefix, a field or the prompt is missing", () => {
  for (const frame of ["hello", "<|ask|>", "<|ask|>$c1", "<|ask|>$c1$p1", "<|ask|>$c$p$  ", "{"]) {
    const parsed = parseLegacyAsk(frame);
    assert.equal(parsed.ok, false, frame);
    if (!parsed.ok) {
      assert.equal(parsed.error.code, Code.InvalidArgument);
      assert.match(parsed.error.message, /^Cannot parse the message: /);
    }
  }
});

Deno.test("parseJsonFrame reads an ask when every field is given", () => {
  const frame = parseJsonFrame(JSON.stringify({
    type: "ask",
    id: "c1",
    conversation_id: "new",
    parent_id: null,
    prompt: "hi 👋",
    model: "gpt-x",
  }));
  assert.deepEqual(frame, {
    type: "ask",
    id: "c1",
    conversationId: null,
    parentId: null,
    prompt: "hi 👋",
    model: "gpt-x",
  });
});

Deno.test("parseJsonFrame reads a cancel when it has an id", () => {
  assert.deepEqual(parseJsonFrame('{"type":"cancel","id":"a.b:c-1"}'), {
    type: "cancel",
    id: "a.b:c-1",
  });
});

Deno.test("parseJsonFrame gives an invalid frame with the id when a field is wrong", () => {
  const cases: [string, string | null][] = [
    ["{not json", null],
    ["[1]", null],
    ['{"type":"ask","prompt":"x"}', null],
    ['{"type":"ask","id":"has space","prompt":"x"}', null],
    ['{"type":"nope","id":"c1"}', "c1"],
    ['{"type":"ask","id":"c1"}', "c1"],
    ['{"type":"ask","id":"c1","prompt":""}', "c1"],
    ['{"type":"ask","id":"c1","prompt":"x","parent_id":5}', "c1"],
    ['{"type":"ask","id":"c1","prompt":"x","conversation_id":true}', "c1"],
    ['{"type":"ask","id":"c1","prompt":"x","model":[]}', "c1"],
  ];
  for (const [text, id] of cases) {
    const frame = parseJsonFrame(text);
    assert.equal(frame.type, "invalid", text);
    if (frame.type === "invalid") {
      assert.equal(frame.id, id, text);
      assert.equal(frame.error.code, Code.InvalidArgument);
    }
  }
});

Deno.test("frame encoders write the documented JSON and legacy shapes", () => {
  assert.deepEqual(JSON.parse(deltaFrame("c1", "é")), { type: "delta", id: "c1", text: "é" });
  assert.deepEqual(
    JSON.parse(doneFrame("c1", {
      conversationId: "conv",
      messageId: "msg",
      model: "m",
      finishReason: "stop",
      usage: { promptTokens: 1, completionTokens: 2, totalTokens: 3 },
    })),
    {
      type: "done",
      id: "c1",
      conversation_id: "conv",
      parent_id: "msg",
      model: "m",
      finish_reason: "stop",
      usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 },
    },
  );
  assert.deepEqual(
    JSON.parse(errorFrame(null, new AppError(Code.NotFound, "Cannot find the conversation: x"))),
    { type: "error", id: null, code: "not_found", message: "Cannot find the conversation: x" },
  );
  assert.equal(legacyEnd("conv", "msg"), "<|end|>$conv$msg");
});

Deno.test("protocolToken finds the bearer entry when several protocols are offered", () => {
  assert.deepEqual(protocolToken("chat, bearer.s3cret"), {
    protocol: "bearer.s3cret",
    token: "s3cret",
  });
  assert.equal(protocolToken("chat"), null);
  assert.equal(protocolToken("bearer."), null);
  assert.equal(protocolToken(null), null);
});

Deno.test("wireId gives null when the id is empty, blank or new in any case", () => {
  for (const id of [null, undefined, "", "  ", "new", "NEW", " New "]) {
    assert.equal(wireId(id), null, String(id));
  }
  assert.equal(wireId(" c1 "), "c1");
});
