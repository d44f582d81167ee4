/**
 * One-shot mode, for scripts: one question, the answer alone on stdout (or one
 * JSON object with `--json`), the ids on stderr. Ctrl-C cancels the answer.
 * @module
 */

import type { AskRequest, ChatClient } from "./client.ts";
import { out } from "./terminal.ts";
import { err } from "./terminal.ts";

/** What one-shot mode needs. */
export interface OneShotOptions {
  client: ChatClient;
  request: AskRequest;
  json: boolean;
  /** Fires on Ctrl-C. */
  signal: AbortSignal;
}

/**
 * Asks one question and prints the answer.
 * @throws {AppError} any failure, for main to print as one line
 */
export async function runOneShot(options: OneShotOptions): Promise<void> {
  const { client, request, json, signal } = options;
  let message = "";
  for await (const event of client.ask(request, signal)) {
    if (event.type === "delta") {
      message += event.text;
      if (!json) await out(event.text);
      continue;
    }
    if (json) {
      const result = {
        message,
        "conversation_id": event.conversationId,
        "parent_id": event.parentId,
        model: event.model,
        usage: event.usage,
      };
      await out(JSON.stringify(result) + "\n");
    } else {
      if (!message.endsWith("\n")) await out("\n");
      await err(`conversation_id=${event.conversationId} parent_id=${event.parentId}\n`);
    }
  }
}
