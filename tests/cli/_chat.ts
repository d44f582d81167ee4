/**
 * Runs the terminal client as a real child process (stdin piped, so one-shot
 * mode) and returns what it printed and its exit code.
 * @module
 */

import { fileURLToPath } from "node:url";

/** The repository root. */
export const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** The command line of `deno task chat`, without the task runner. */
export function chatCommand(args: string[]): string[] {
  return [
    Deno.execPath(),
    "run",
    "--quiet",
    "--allow-net",
    "--allow-read",
    "--allow-env",
    "--allow-sys",
    "cli/main.ts",
    ...args,
  ];
}

/** What one run printed. */
export interface ChatRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the client once.
 * @param args its arguments
 * @param stdin text piped to it (closed at once when absent)
 */
export async function runChat(args: string[], stdin = ""): Promise<ChatRun> {
  const [cmd, ...rest] = chatCommand(args);
  const child = new Deno.Command(cmd, {
    args: rest,
    cwd: ROOT,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(stdin));
  await writer.close();
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** The ids a one-shot run printed on stderr. */
export function idsOf(stderr: string): { conversationId: string; parentId: string } {
  const m = /conversation_id=(\S+) parent_id=(\S+)/.exec(stderr);
  if (!m) throw new Error(`Cannot find the ids in stderr: ${stderr}`);
  return { conversationId: m[1], parentId: m[2] };
}
