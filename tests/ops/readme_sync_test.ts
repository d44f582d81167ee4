/**
 * README.zh-CN.md stays in step with README.md: the same sections in the same
 * order, and the very same commands and examples.
 */

import assert from "node:assert/strict";
import { dirname, join } from "node:path";

const ROOT = join(dirname(new URL(import.meta.url).pathname), "..", "..");

async function read(name: string): Promise<string> {
  return await Deno.readTextFile(join(ROOT, name));
}

function codeBlocks(text: string): string[] {
  return [...text.matchAll(/```[a-z]*\n[\s\S]*?```\n/g)].map((m) => m[0]);
}

function headingLevels(text: string): string[] {
  const outside = text.replace(/```[a-z]*\n[\s\S]*?```\n/g, "");
  return outside.split("\n").filter((l) => /^#{1,3} /.test(l)).map((l) => l.split(" ")[0]);
}

Deno.test("README.zh-CN.md has the sections and the code examples of README.md", async () => {
  const [en, zh] = [await read("README.md"), await read("README.zh-CN.md")];
  assert.deepEqual(headingLevels(zh), headingLevels(en));
  assert.deepEqual(codeBlocks(zh), codeBlocks(en));
  assert.ok(en.includes("(README.zh-CN.md)") && zh.includes("(README.md)"));
});
