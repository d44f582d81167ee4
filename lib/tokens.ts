/**
 * Token counting as the OpenAI cookbook counts chat prompts (UPSTREAMS.md §6):
 * every message costs 3 tokens plus the tokens of its role and content, and
 * the primed reply costs 3 more. The encodings are gpt-tokenizer's, loaded
 * lazily in a worker into typed arrays outside the JS heap (`tokens/`), and
 * counted with the same byte-pair merges.
 * @module
 */

import {
  CL100K_TOKEN_SPLIT_REGEX,
  O200K_TOKEN_SPLIT_REGEX,
} from "gpt-tokenizer/encodingParams/constants";
import type { ChatMessage } from "./providers/provider.ts";
import { BpeCounter } from "./tokens/bpe_counter.ts";
import { loadBpeTable } from "./tokens/load.ts";

/** The encodings we count with. */
export type EncodingName = "o200k_base" | "cl100k_base";

/** Tokens every message costs besides its role and content. */
export const TOKENS_PER_MESSAGE = 3;
/** Tokens of the primed reply `<|start|>assistant<|message|>`. */
export const TOKENS_REPLY_PRIMING = 3;

/** Counts tokens of one encoding. */
export interface TokenCounter {
  /** The encoding used. */
  readonly encoding: EncodingName;
  /** Tokens of a plain text (special-token markers count as plain text). */
  count(text: string): number;
  /** Tokens of one message inside a chat prompt, overhead included. */
  countMessage(message: ChatMessage): number;
  /** Tokens of a whole chat prompt, reply priming included. */
  countMessages(messages: readonly ChatMessage[]): number;
}

/** Longest run of non-space, or of space, characters counted in one piece. */
const SLICE = 256;
const LONG_RUN = new RegExp(`\\S{${SLICE + 1}}|\\s{${SLICE + 1}}`);
const LONG_RUNS = new RegExp(`\\S{${SLICE + 1},}|\\s{${SLICE + 1},}`, "g");

const loaded = new Map<EncodingName, Promise<TokenCounter>>();

/**
 * The encoding of a model, after tiktoken's table: cl100k_base for gpt-4
 * (turbo included) and gpt-3.5, o200k_base for the 4o/4.1/4.5/5/o-series and
 * for any model we do not know (as the cookbook falls back).
 * @param model a model name such as "gpt-4o-mini"
 */
export function encodingForModel(model: string): EncodingName {
  const m = model.trim().toLowerCase().replace(/^ft:/, "");
  if (/^(gpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|chatgpt-4o|o1|o3|o4)/.test(m)) return "o200k_base";
  if (/^(gpt-4|gpt-3\.5|gpt-35|text-embedding-3|text-embedding-ada-002)/.test(m)) {
    return "cl100k_base";
  }
  return "o200k_base";
}

const SPLIT: Record<EncodingName, RegExp> = {
  "o200k_base": O200K_TOKEN_SPLIT_REGEX,
  "cl100k_base": CL100K_TOKEN_SPLIT_REGEX,
};

function makeCounter(encoding: EncodingName, bpe: BpeCounter): TokenCounter {
  // User text such as "<|endoftext|>" is counted as plain text, never rejected.
  const exact = (text: string): number => text === "" ? 0 : bpe.count(text);
  const count = (text: string): number => {
    if (!LONG_RUN.test(text)) return exact(text);
    // BPE cost grows with the square of a piece's length: a long run without
    // spaces (CJK prose, base64, "xxxx…") or of spaces and line breaks (the
    // regexes make one piece of it) is counted in slices, which can be off by
    // a token per slice but keeps the event loop free.
    let total = 0;
    let last = 0;
    for (const m of text.matchAll(LONG_RUNS)) {
      total += exact(text.slice(last, m.index));
      for (let i = 0; i < m[0].length; i += SLICE) total += exact(m[0].slice(i, i + SLICE));
      last = m.index + m[0].length;
    }
    return total + exact(text.slice(last));
  };
  const countMessage = (message: ChatMessage): number =>
    TOKENS_PER_MESSAGE + count(message.role) + count(message.content);
  return {
    encoding,
    count,
    countMessage,
    countMessages(messages) {
      let total = TOKENS_REPLY_PRIMING;
      for (const message of messages) total += countMessage(message);
      return total;
    },
  };
}

/**
 * The token counter of a model, loading its encoding on first use.
 * @param model a model name; unknown models count with o200k_base
 */
export function tokenCounterFor(model: string): Promise<TokenCounter> {
  const encoding = encodingForModel(model);
  let counter = loaded.get(encoding);
  if (counter === undefined) {
    counter = loadBpeTable(encoding).then((table) =>
      makeCounter(encoding, new BpeCounter(table, SPLIT[encoding]))
    );
    loaded.set(encoding, counter);
    // A failed load may be retried by the next caller.
    counter.catch(() => loaded.delete(encoding));
  }
  return counter;
}
