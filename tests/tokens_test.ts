import assert from "node:assert/strict";
import {
  encodingForModel,
  tokenCounterFor,
  TOKENS_PER_MESSAGE,
  TOKENS_REPLY_PRIMING,
} from "../lib/tokens.ts";
import type { ChatMessage } from "../lib/providers/provider.ts";

// The example of openai-cookbook "How_to_count_tokens_with_tiktoken": the API reported
// 129 prompt tokens for gpt-3.5-turbo-0125 and gpt-4-0613, and 124 for gpt-4o.
const COOKBOOK: { role: ChatMessage["role"]; content: string; name?: string }[] = [
  {
    role: "system",
    content:
      "You are a helpful, pattern-following assistant that translates corporate jargon into plain English.",
  },
  {
    role: "system",
    name: "example_user",
    content: "New synergies will help drive top-line growth.",
  },
  {
    role: "system",
    name: "example_assistant",
    content: "Things working well together will increase revenue.",
  },
  {
    role: "system",
    name: "example_user",
    content:
      "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage.",
  },
  {
    role: "system",
    name: "example_assistant",
    content: "Let's talk later when we're less busy about how to do better.",
  },
  {
    role: "user",
    content:
      "This late pivot means we don't have time to boil the ocean for the client deliverable.",
  },
];

async function cookbookCount(model: string): Promise<number> {
  const counter = await tokenCounterFor(model);
  // We never send `name`; the cookbook adds 1 token plus the name's tokens for each.
  const names = COOKBOOK.reduce((sum, m) => sum + (m.name ? 1 + counter.count(m.name) : 0), 0);
  return counter.countMessages(COOKBOOK.map((m) => ({ role: m.role, content: m.content }))) +
    names;
}

Deno.test("tokenCounterFor matches the API's 124 prompt tokens when the model is gpt-4o", async () => {
  assert.equal(await cookbookCount("gpt-4o"), 124);
  assert.equal(await cookbookCount("gpt-4o-mini"), 124);
});

Deno.test("tokenCounterFor matches the API's 129 prompt tokens when the model is gpt-4 or gpt-3.5", async () => {
  assert.equal(await cookbookCount("gpt-4-0613"), 129);
  assert.equal(await cookbookCount("gpt-3.5-turbo-0125"), 129);
});

Deno.test("count gives known token counts of plain texts", async () => {
  const o200k = await tokenCounterFor("gpt-4o");
  const cl100k = await tokenCounterFor("gpt-4");
  assert.equal(o200k.count("tiktoken is great!"), 6);
  assert.equal(cl100k.count("tiktoken is great!"), 6);
  assert.equal(o200k.count("hello world"), 2);
  assert.equal(o200k.count(""), 0);
});

Deno.test("count treats special-token markers as plain text when a user sends them", async () => {
  const counter = await tokenCounterFor("gpt-4o");
  assert.ok(counter.count("a <|endoftext|> b") > 3);
});

Deno.test("countMessages adds 3 per message and 3 for the reply priming", async () => {
  const counter = await tokenCounterFor("gpt-4o");
  const messages: ChatMessage[] = [{ role: "user", content: "hello world" }];
  const expected = TOKENS_REPLY_PRIMING + TOKENS_PER_MESSAGE + counter.count("user") + 2;
  assert.equal(counter.countMessages(messages), expected);
  assert.equal(counter.countMessages([]), TOKENS_REPLY_PRIMING);
  assert.equal(counter.countMessage(messages[0]), expected - TOKENS_REPLY_PRIMING);
});

Deno.test("encodingForModel picks o200k for new and unknown models and cl100k for gpt-4 and 3.5", () => {
  for (
    const m of ["gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.5-preview", "gpt-5", "o1", "o3-mini"]
  ) {
    assert.equal(encodingForModel(m), "o200k_base", m);
  }
  for (
    const m of ["chatgpt-4o-latest", "o4-mini", "ft:gpt-4o-mini:acme", "echo", "llama3", "auto"]
  ) {
    assert.equal(encodingForModel(m), "o200k_base", m);
  }
  for (const m of ["gpt-4", "gpt-4-turbo", "gpt-4-0613", "gpt-3.5-turbo", "gpt-3.5-turbo-16k"]) {
    assert.equal(encodingForModel(m), "cl100k_base", m);
  }
});

Deno.test("tokenCounterFor loads each encoding once when called concurrently", async () => {
  const [a, b] = await Promise.all([tokenCounterFor("gpt-4o"), tokenCounterFor("o3")]);
  assert.equal(a, b);
});

Deno.test("token counter stays fast on long runs without spaces (CJK prose, base64)", async () => {
  const counter = await tokenCounterFor("gpt-4o");
  const started = performance.now();
  const long = counter.count("x".repeat(200_000)) + counter.count("你好世界".repeat(50_000));
  // Unsliced, BPE on these takes tens of seconds; sliced it is linear.
  assert.ok(performance.now() - started < 3_000, "counting blocked the event loop");
  assert.ok(long > 100_000);
  // Text without long runs is counted exactly: slicing changes nothing there.
  assert.strictEqual(counter.count("hello world"), 2);
});

Deno.test("token counter stays fast on long runs of spaces and line breaks", async () => {
  const counter = await tokenCounterFor("gpt-4o");
  const started = performance.now();
  const counts = [" ", "\n", " \t", "\r\n"].map((ws) => counter.count(ws.repeat(100_000)));
  // Each run is one piece to the split regex; unsliced, its merges take
  // seconds (about 0.3 s at 32 000 spaces, growing with the square).
  assert.ok(performance.now() - started < 1_000, "counting blocked the event loop");
  for (const n of counts) assert.ok(n > 0);
  // The slices still merge: 100 000 spaces are far fewer tokens than spaces.
  assert.ok(counts[0] < 10_000, `${counts[0]} tokens`);
});
