import assert from "node:assert/strict";
import {
  buildContext,
  contextWindow,
  DEFAULT_WINDOW,
  promptBudget,
} from "../../lib/engine/context.ts";
import { tokenCounterFor } from "../../lib/tokens.ts";
import { AppError, Code } from "../../lib/errors.ts";
import type { ChatMessage } from "../../lib/providers/provider.ts";

const system: ChatMessage = { role: "system", content: "You are a careful assistant." };
const prompt: ChatMessage = { role: "user", content: "And now?" };

function turn(i: number, reply = `answer ${i}`): ChatMessage[] {
  return [{ role: "user", content: `question ${i}` }, { role: "assistant", content: reply }];
}

Deno.test("buildContext keeps the whole path when it fits the budget", async () => {
  const history = [system, ...turn(1), ...turn(2)];
  const built = await buildContext(history, prompt, { model: "gpt-4o" });
  assert.deepEqual(built.messages, [...history, prompt]);
  assert.equal(built.dropped, 0);
  const counter = await tokenCounterFor("gpt-4o");
  assert.equal(built.tokens, counter.countMessages(built.messages));
});

Deno.test("buildContext drops whole oldest turns first and never the system message", async () => {
  const counter = await tokenCounterFor("gpt-4o");
  const history = [system, ...turn(1), ...turn(2), ...turn(3)];
  const fits = counter.countMessages([system, ...turn(3), prompt]);
  // One token short of also fitting turn 2: turn 1 and turn 2 go, whole.
  const built = await buildContext(history, prompt, { model: "gpt-4o", contextTokens: fits + 5 });
  assert.deepEqual(built.messages, [system, ...turn(3), prompt]);
  assert.equal(built.dropped, 4);
  assert.equal(built.tokens, fits);
});

Deno.test("buildContext keeps only system and prompt when no turn fits", async () => {
  const counter = await tokenCounterFor("gpt-4o");
  const budget = counter.countMessages([system, prompt]);
  const built = await buildContext([system, ...turn(1)], prompt, {
    model: "gpt-4o",
    contextTokens: budget,
  });
  assert.deepEqual(built.messages, [system, prompt]);
});

Deno.test("buildContext drops a big old turn even when a newer one fits", async () => {
  const counter = await tokenCounterFor("gpt-4o");
  const big = turn(1, "word ".repeat(500));
  const budget = counter.countMessages([...turn(2), prompt]) + 2;
  const built = await buildContext([...big, ...turn(2)], prompt, {
    model: "gpt-4o",
    contextTokens: budget,
  });
  assert.deepEqual(built.messages, [...turn(2), prompt]);
});

Deno.test("buildContext throws context_length_exceeded when system and prompt exceed the budget", async () => {
  await assert.rejects(
    buildContext([system, ...turn(1)], prompt, { model: "gpt-4o", contextTokens: 12 }),
    (e) =>
      e instanceof AppError && e.code === Code.InvalidArgument &&
      e.reason === "context_length_exceeded" &&
      /^Cannot build the context: the prompt and system message need \d+ tokens, more than the budget of 12$/
        .test(e.message),
  );
});

Deno.test("buildContext leaves out empty replies cut short before their first word", async () => {
  const history = [...turn(1, ""), ...turn(2)];
  const built = await buildContext(history, prompt, { model: "gpt-4o" });
  assert.deepEqual(built.messages, [{ role: "user", content: "question 1" }, ...turn(2), prompt]);
});

Deno.test("promptBudget uses contextTokens when set and the model's window minus a reply reserve otherwise", () => {
  assert.equal(promptBudget("gpt-4o", 5000), 5000);
  assert.equal(promptBudget("gpt-4", 0), 8192 - 2048);
  assert.equal(promptBudget("gpt-3.5-turbo"), 16385 - 4096);
  assert.equal(promptBudget("gpt-4o-mini"), 128_000 - 16_384);
  assert.equal(promptBudget("mystery-model"), DEFAULT_WINDOW - 16_384);
});

Deno.test("contextWindow knows the usual model families", () => {
  assert.equal(contextWindow("gpt-4o-2024-08-06"), 128_000);
  assert.equal(contextWindow("gpt-4.1-mini"), 1_047_576);
  assert.equal(contextWindow("gpt-5"), 128_000);
  assert.equal(contextWindow("o3-mini"), 128_000);
  assert.equal(contextWindow("gpt-4-turbo"), 128_000);
  assert.equal(contextWindow("gpt-4-0613"), 8_192);
  assert.equal(contextWindow("gpt-3.5-turbo-0125"), 16_385);
  assert.equal(contextWindow("auto"), DEFAULT_WINDOW);
});
