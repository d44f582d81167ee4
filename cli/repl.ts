/**
 * Interactive mode: a prompt, the reply streamed as it arrives, the ids kept
 * between turns, and the commands `/new`, `/branch`, `/history`, `/list`,
 * `/help`, `/quit`. A prompt may span several lines; an empty line sends it.
 * Ctrl-C during an answer cancels that answer; Ctrl-C at the prompt exits.
 * @module
 */

import type { ChatClient } from "./client.ts";
import { describeFailure, PartialAnswerError } from "./failure.ts";
import { AppError, Code } from "../lib/errors.ts";

/** Where the conversation stands: what the next question continues. */
export interface ReplState {
  conversationId: string | null;
  parentId: string | null;
  model: string | null;
}

/** What the REPL needs; the terminal is injected so main owns stdin and signals. */
export interface ReplOptions {
  client: ChatClient;
  state: ReplState;
  /** The lines the user types. */
  lines: AsyncIterator<string>;
  /** Prints to the terminal. */
  write: (text: string) => Promise<void>;
  /**
   * Called when an answer starts, with the controller Ctrl-C should abort;
   * called with null when it ends.
   */
  onAnswer: (controller: AbortController | null) => void;
}

/** The text of `/help`. */
export const REPL_HELP = `Type a question; an empty line sends it (so a question may span lines).
  /new              start a new conversation
  /branch <id>      continue from an earlier message (a new branch)
  /history          the messages of the current path
  /list             your conversations
  /help             this text
  /quit             leave (Ctrl-C at the prompt, or Ctrl-D, too)
Ctrl-C during an answer cancels it.
`;

/** Runs the loop until `/quit` or the end of input. */
export async function runRepl(options: ReplOptions): Promise<void> {
  const { write, state } = options;
  await write(`EasyBackend chat over ${options.client.protocol}. /help for commands.\n`);
  await write(where(state));
  while (true) {
    await write("\nyou> ");
    const first = await options.lines.next();
    if (first.done) break;
    const line = first.value;
    if (line.trim() === "") continue;
    if (line.trimStart().startsWith("/")) {
      if (await runCommand(line.trim(), options) === "quit") break;
      continue;
    }
    const prompt = [line];
    while (true) {
      await write("...> ");
      const next = await options.lines.next();
      if (next.done || next.value === "") break;
      prompt.push(next.value);
    }
    await answer(prompt.join("\n"), options);
  }
  await write("bye\n");
}

async function answer(prompt: string, options: ReplOptions): Promise<void> {
  const { write, state, client } = options;
  const controller = new AbortController();
  options.onAnswer(controller);
  let wrote = "";
  try {
    await write("\nassistant> ");
    for await (const event of client.ask({ prompt, ...state }, controller.signal)) {
      if (event.type === "delta") {
        wrote += event.text;
        await write(event.text);
      } else {
        state.conversationId = event.conversationId;
        state.parentId = event.parentId;
        await write(`${wrote.endsWith("\n") ? "" : "\n"}${where(state)}`);
      }
    }
  } catch (err) {
    const sep = wrote === "" || wrote.endsWith("\n") ? "" : "\n";
    const isCancel = err instanceof AppError && err.code === Code.Canceled;
    await write(`${sep}${isCancel ? "[canceled]" : `error: ${describeFailure(err)}`}\n`);
    if (err instanceof PartialAnswerError) {
      // The server kept the partial reply: the next question follows it.
      state.conversationId = err.conversationId;
      state.parentId = err.parentId;
      await write(where(state));
    }
  } finally {
    options.onAnswer(null);
  }
}

async function runCommand(line: string, options: ReplOptions): Promise<"quit" | void> {
  const { write, state, client } = options;
  const [command, ...args] = line.split(/\s+/);
  try {
    switch (command) {
      case "/quit":
      case "/exit":
        return "quit";
      case "/help":
        await write(REPL_HELP);
        return;
      case "/new":
        state.conversationId = null;
        state.parentId = null;
        await write("new conversation: your next question starts it\n");
        return;
      case "/branch":
        return await branch(args[0], options);
      case "/history": {
        if (state.conversationId === null) {
          await write("no conversation yet: ask something first\n");
          return;
        }
        const messages = await client.history(state.conversationId, state.parentId);
        for (const m of messages) {
          await write(`[${m.id}] ${m.role}: ${m.content}\n`);
        }
        return;
      }
      case "/list": {
        const list = await client.list();
        if (list.length === 0) await write("no conversations yet\n");
        for (const c of list) {
          await write(`${c.id}  ${c.updatedAt ?? ""}  ${c.title || "(untitled)"}\n`);
        }
        return;
      }
      default:
        await write(`unknown command ${command}: /help lists them\n`);
    }
  } catch (err) {
    await write(`error: ${describeFailure(err)}\n`);
  }
}

async function branch(id: string | undefined, options: ReplOptions): Promise<void> {
  const { write, state } = options;
  if (!id) {
    await write("usage: /branch <message id> (see /history for ids)\n");
    return;
  }
  if (state.conversationId === null) {
    await write("no conversation yet: start one, or pass --conversation\n");
    return;
  }
  state.parentId = id;
  await write(`branching from ${id}: your next question answers it\n`);
}

function where(state: ReplState): string {
  if (state.conversationId === null) return "[new conversation]\n";
  return `[conversation_id=${state.conversationId} parent_id=${state.parentId ?? "latest"}]\n`;
}
