/**
 * The counter over typed arrays gives gpt-tokenizer's counts exactly: on
 * fixed texts in many scripts and on seeded random strings (lone surrogates,
 * combining marks, emoji, runs of spaces and newlines included), for both
 * encodings. gpt-tokenizer itself is the reference.
 */

import assert from "node:assert/strict";
import * as cl100k from "gpt-tokenizer/encoding/cl100k_base";
import * as o200k from "gpt-tokenizer/encoding/o200k_base";
import cl100kRanks from "gpt-tokenizer/bpeRanks/cl100k_base";
import o200kRanks from "gpt-tokenizer/bpeRanks/o200k_base";
import {
  CL100K_TOKEN_SPLIT_REGEX,
  O200K_TOKEN_SPLIT_REGEX,
} from "gpt-tokenizer/encodingParams/constants";
import { BpeCounter } from "../../lib/tokens/bpe_counter.ts";
import { buildBpeTable, rankOf } from "../../lib/tokens/bpe_table.ts";
import { loadBpeTable } from "../../lib/tokens/load.ts";

const ENCODINGS = [
  { name: "o200k_base", ranks: o200kRanks, split: O200K_TOKEN_SPLIT_REGEX, ref: o200k },
  { name: "cl100k_base", ranks: cl100kRanks, split: CL100K_TOKEN_SPLIT_REGEX, ref: cl100k },
];
const PLAIN = { disallowedSpecial: new Set<string>() };

const FIXED = [
  "",
  "hello world",
  "tiktoken is great!",
  "The quick brown fox jumps over the lazy dog.\n\nI'm sure WE'LL see they've HelloWORLD.",
  "def f(x):\r\n\treturn {'a': [1, 2, 3]}  # comment\n    \n",
  '{"id":"chatcmpl-123","choices":[{"delta":{"content":"Hi"}}]}',
  "东京是日本的首都。我喜欢学习中文和日本語のひらがな、カタカナ。",
  "한국어 텍스트도 있습니다. Привет, как дела? Ελληνικά. עברית. العربية.",
  "हिन्दी में लिखा गया पाठ। ภาษาไทยไม่มีช่องว่าง",
  "emoji 🚀🔥 family 👨‍👩‍👧‍👦 flags 🇯🇵🇫🇷 skin 👍🏽",
  "numbers 1234567890 3.14159 1,000,000 2026-12-03T17:53:33Z",
  "a <|endoftext|> b <|im_start|>user<|im_end|> <|fim_prefix|>",
  "     many spaces\t\t\ttabs\n\n\n\nnewlines\r\r\r",
  "https://example.com/path?query=1&x=%20#frag",
  "aGVsbG8gd29ybGQhIGJhc2U2NCBzdHJpbmcgd2l0aG91dCBzcGFjZXM=",
  "Zalgo: Z̷̢͎̈́a̸̰͌l̶̹̇g̴̣̈o̵͚̊ and e\u0301 vs é",
  "lone \ud800 high and \udc00 low surrogates \ud83d",
  "\u0000\u0001\u007f control \u0085 \u00a0 nbsp \u2028 separators \ufeff bom \ufffd",
];

/** A seeded generator, so a failure can be replayed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

const POOLS = [
  "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
  "0123456789",
  " \t\n\r  ",
  "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
  "éèêëàâäôöûüçñßøåæÿ",
  "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年",
  "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
  "ابتثجحخدذرزسشصضطظعغفقكلمنهوي",
  "\u0301\u0308\u0327\u200d\ufe0f",
];
const EMOJI = ["🚀", "🔥", "👍🏽", "🇯🇵", "😀", "🧑‍💻"];
const SURROGATES = ["\ud800", "\udfff", "\udbff"];

function randomText(next: () => number): string {
  const length = 1 + Math.floor(next() * 80);
  let out = "";
  while (out.length < length) {
    const roll = next();
    if (roll < 0.03) out += SURROGATES[Math.floor(next() * SURROGATES.length)];
    else if (roll < 0.08) out += EMOJI[Math.floor(next() * EMOJI.length)];
    else {
      // Words: a run from one pool, so merges of several bytes happen.
      const pool = POOLS[Math.floor(next() * POOLS.length)];
      const run = 1 + Math.floor(next() * 8);
      for (let i = 0; i < run; i++) out += pool[Math.floor(next() * pool.length)];
    }
  }
  return out;
}

for (const enc of ENCODINGS) {
  const table = buildBpeTable(enc.ranks);
  const counter = new BpeCounter(table, enc.split);

  Deno.test(`BpeCounter counts as gpt-tokenizer does on fixed texts (${enc.name})`, () => {
    for (const text of FIXED) {
      assert.equal(counter.count(text), enc.ref.countTokens(text, PLAIN), JSON.stringify(text));
    }
    const long = FIXED.join(" ").repeat(20);
    assert.equal(counter.count(long), enc.ref.countTokens(long, PLAIN));
  });

  Deno.test(`BpeCounter counts as gpt-tokenizer does on random strings (${enc.name})`, () => {
    const next = random(20261203);
    for (let i = 0; i < 4000; i++) {
      const text = randomText(next);
      assert.equal(counter.count(text), enc.ref.countTokens(text, PLAIN), JSON.stringify(text));
    }
  });

  Deno.test(`buildBpeTable finds every text rank at its own rank (${enc.name})`, () => {
    const encoder = new TextEncoder();
    let checked = 0;
    enc.ranks.forEach((entry, rank) => {
      if (typeof entry !== "string") return;
      const bytes = encoder.encode(entry);
      assert.equal(rankOf(table, bytes, 0, bytes.length), rank, entry);
      checked++;
    });
    assert.ok(checked > 90_000);
    assert.equal(rankOf(table, encoder.encode("no such token at all"), 0, 20), -1);
  });
}

Deno.test("loadBpeTable builds in a worker the same table as in this isolate", async () => {
  const loaded = await loadBpeTable("cl100k_base");
  const built = buildBpeTable(cl100kRanks);
  assert.deepEqual(loaded.offsets, built.offsets);
  assert.deepEqual(loaded.bytes, built.bytes);
  assert.deepEqual(loaded.slots, built.slots);
});
