/**
 * `deno task chat`: the terminal client of EasyBackend. Interactive when stdin
 * is a terminal and no question is given; otherwise one-shot. Exit codes: 0
 * success, 1 failure (one line on stderr, no stack trace), 2 bad usage,
 * 130 interrupted.
 * @module
 */

import { type CliOptions, HELP, parseCliArgs, UsageError } from "./args.ts";
import type { ChatClient } from "./client.ts";
import { describeFailure, PartialAnswerError } from "./failure.ts";
import { runOneShot } from "./oneshot.ts";
import { createGrpcClient } from "./protocols/grpc.ts";
import { createHttpClient } from "./protocols/http.ts";
import { createSseClient } from "./protocols/sse.ts";
import { createWsClient } from "./protocols/ws.ts";
import { runRepl } from "./repl.ts";
import { err, out, readAllText, readLines } from "./terminal.ts";

/** Builds the client of the chosen protocol. */
export function createClient(options: CliOptions, caPem: string | null): ChatClient {
  const httpClient = caPem ? Deno.createHttpClient({ caCerts: [caPem] }) : undefined;
  switch (options.protocol) {
    case "http":
      return createHttpClient({ url: options.url, token: options.token, httpClient });
    case "sse":
      return createSseClient({ url: options.url, token: options.token, httpClient });
    case "ws":
      return createWsClient({
        url: options.url,
        apiUrl: options.apiUrl,
        token: options.token,
        httpClient,
      });
    case "grpc":
      return createGrpcClient({
        url: options.url,
        token: options.token,
        caPem,
        legacy: options.legacy,
      });
  }
}

async function readCa(path: string | null): Promise<string | null> {
  if (path === null) return null;
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    throw new UsageError(`Cannot read the CA file ${path}: ${(e as Error).name}`);
  }
}

/** Runs the client; resolves to the exit code. */
export async function main(args: string[]): Promise<number> {
  let options: CliOptions;
  let client: ChatClient;
  try {
    options = parseCliArgs(args);
    if (options.help) {
      await out(HELP + "\n");
      return 0;
    }
    client = createClient(options, await readCa(options.ca));
  } catch (e) {
    const usage = e instanceof UsageError;
    await err(`${usage ? e.message : describeFailure(e)}\n${usage ? "Try --help\n" : ""}`);
    return 2;
  }
  const interactive = options.prompt === null && Deno.stdin.isTerminal();
  try {
    return interactive
      ? await interactiveMode(options, client)
      : await oneShotMode(options, client);
  } finally {
    await client.close();
  }
}

async function oneShotMode(options: CliOptions, client: ChatClient): Promise<number> {
  const prompt = options.prompt ?? (await readAllText(Deno.stdin.readable)).trim();
  if (prompt === "") {
    await err("Cannot ask: the prompt is empty (give it as an argument or on stdin)\n");
    return 2;
  }
  const controller = new AbortController();
  const onInterrupt = () => controller.abort();
  Deno.addSignalListener("SIGINT", onInterrupt);
  try {
    await runOneShot({
      client,
      json: options.json,
      signal: controller.signal,
      request: {
        prompt,
        conversationId: options.conversationId,
        parentId: options.parentId,
        model: options.model,
      },
    });
    return 0;
  } catch (e) {
    await err(`error: ${describeFailure(e)}\n`);
    // The server kept the partial reply: say where to continue, as after an answer.
    if (e instanceof PartialAnswerError) {
      await err(`conversation_id=${e.conversationId} parent_id=${e.parentId}\n`);
    }
    return controller.signal.aborted ? 130 : 1;
  } finally {
    Deno.removeSignalListener("SIGINT", onInterrupt);
  }
}

async function interactiveMode(options: CliOptions, client: ChatClient): Promise<number> {
  let answering: AbortController | null = null;
  const onInterrupt = () => {
    if (answering) {
      answering.abort();
      return;
    }
    // At the prompt: leave at once (stdin is mid-read, so no graceful return).
    out("\n").finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onInterrupt);
  try {
    await runRepl({
      client,
      state: {
        conversationId: options.conversationId,
        parentId: options.parentId,
        model: options.model,
      },
      lines: readLines(Deno.stdin.readable),
      write: out,
      onAnswer: (controller) => (answering = controller),
    });
    return 0;
  } finally {
    Deno.removeSignalListener("SIGINT", onInterrupt);
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
