/**
 * Micro-benchmark of the token counter (lib/tokens.ts): a short
 * prompt, a 10 kB text and a 100-message chat prompt.
 *
 *   deno bench bench/tokens_bench.ts
 * @module
 */

import { tokenCounterFor } from "../lib/tokens.ts";
import type { ChatMessage } from "../lib/providers/provider.ts";

const counter = await tokenCounterFor("gpt-4o-mini");
const SHORT = "What is the capital of France, and why is it there?";
const LONG = "The quick brown fox jumps over the lazy dog. Über naïve café — 東京 🚀. ".repeat(140);
const CHAT: ChatMessage[] = Array.from({ length: 100 }, (_, i) => ({
  role: i % 2 === 0 ? "user" : "assistant",
  content: SHORT.repeat(3),
}));

Deno.bench({ name: "count 50-char prompt", group: "tokens", baseline: true }, () => {
  counter.count(SHORT);
});
Deno.bench({ name: "count 10 kB text", group: "tokens" }, () => {
  counter.count(LONG);
});
Deno.bench({ name: "countMessages 100 messages", group: "tokens" }, () => {
  counter.countMessages(CHAT);
});
