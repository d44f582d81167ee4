/**
 * The terminal client's command line: flags parsed with `node:util` `parseArgs`
 * into one {@link CliOptions}. Pure, so it is tested without a terminal.
 * @module
 */

import { parseArgs } from "node:util";

/** The wire protocols the client speaks. */
export type ClientProtocol = "http" | "sse" | "grpc" | "ws";

const PROTOCOLS: readonly ClientProtocol[] = ["http", "sse", "grpc", "ws"];

/** The default server address of each protocol (the local listeners). */
export const DEFAULT_URLS: Readonly<Record<ClientProtocol, string>> = {
  http: "http://127.0.0.1:8000",
  sse: "http://127.0.0.1:8000",
  grpc: "127.0.0.1:9000",
  ws: "ws://127.0.0.1:9001",
};

/** Everything the command line says. */
export interface CliOptions {
  protocol: ClientProtocol;
  /** The server address for the chosen protocol. */
  url: string;
  /**
   * The HTTP base for `/history` and `/list` when the protocol has no
   * conversation API of its own (WebSocket): `--api-url`, else the `--url`
   * host on port 8000.
   */
  apiUrl: string;
  /** The client bearer token (`AUTH_TOKENS` on the server). */
  token: string | null;
  /** A PEM file of a certificate authority to trust. */
  ca: string | null;
  conversationId: string | null;
  parentId: string | null;
  model: string | null;
  /** Speak the original protocol (gRPC `chat.Chat/Ask`) instead of the typed one. */
  legacy: boolean;
  /** One-shot mode prints a JSON object instead of text. */
  json: boolean;
  /** The prompt given as arguments (one-shot mode), or null. */
  prompt: string | null;
  help: boolean;
}

/** A wrong command line; main prints its message and exits with status 2. */
export class UsageError extends Error {
  /** @param message "Cannot <verb> <thing>: <state>" */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** The text of `--help`. */
export const HELP = `Usage: deno task chat [options] [-- "question"]

Talks to an EasyBackend server. With no question and a terminal on stdin it is
interactive; with a question (or a prompt piped on stdin) it prints only the
answer to stdout and the ids to stderr.

Options:
  --protocol <p>       http | sse | grpc | ws (default: grpc)
  --url <address>      server address (defaults: grpc 127.0.0.1:9000,
                       http/sse http://127.0.0.1:8000, ws ws://127.0.0.1:9001)
  --api-url <url>      HTTP base for /history and /list with --protocol ws
                       (default: the --url host on port 8000)
  --token <token>      client token (AUTH_TOKENS on the server)
  --ca <file.pem>      trust this certificate authority (TLS)
  --conversation <id>  continue this conversation (also --conversation_id)
  --parent <id>        answer from this message: a branch (also --parent_id)
  --model <name>       ask another model than the server's default
  --legacy             gRPC: ask the original chat.Chat/Ask service
  --json               one-shot: print {"message","conversation_id","parent_id",...}
  -h, --help           this text

Interactive commands: /new, /branch <message id>, /history, /list, /help, /quit.
A prompt may span several lines: an empty line sends it. Ctrl-C during an
answer cancels it; Ctrl-C at the prompt exits.`;

/**
 * Parses the client's arguments.
 * @param args the arguments after the script name
 * @throws {UsageError} on an unknown flag, a missing value or a bad protocol
 */
export function parseCliArgs(args: readonly string[]): CliOptions {
  let parsed;
  try {
    parsed = parseArgs({
      // `deno task chat -- …` passes the `--` on: a leading one only separates task flags.
      args: args[0] === "--" ? args.slice(1) : [...args],
      allowPositionals: true,
      strict: true,
      options: {
        protocol: { type: "string" },
        url: { type: "string" },
        "api-url": { type: "string" },
        token: { type: "string" },
        ca: { type: "string" },
        conversation: { type: "string" },
        conversation_id: { type: "string" },
        parent: { type: "string" },
        parent_id: { type: "string" },
        model: { type: "string" },
        json: { type: "boolean" },
        legacy: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (err) {
    throw new UsageError(`Cannot parse the arguments: ${(err as Error).message}`);
  }
  const v = parsed.values;
  const protocol = (v.protocol ?? "grpc").toLowerCase() as ClientProtocol;
  if (!PROTOCOLS.includes(protocol)) {
    throw new UsageError(
      `Cannot use protocol "${v.protocol}": choose one of ${PROTOCOLS.join(", ")}`,
    );
  }
  const url = v.url ?? DEFAULT_URLS[protocol];
  const prompt = parsed.positionals.join(" ").trim();
  return {
    protocol,
    url,
    apiUrl: v["api-url"] ?? defaultApiUrl(protocol, url),
    token: v.token || null,
    ca: v.ca || null,
    conversationId: normalizeId(v.conversation ?? v.conversation_id),
    parentId: normalizeId(v.parent ?? v.parent_id),
    model: v.model || null,
    legacy: v.legacy ?? false,
    json: v.json ?? false,
    prompt: prompt === "" ? null : prompt,
    help: v.help ?? false,
  };
}

/** An id flag: empty and "new" mean none, as on every wire. */
function normalizeId(id: string | undefined): string | null {
  if (id === undefined) return null;
  const trimmed = id.trim();
  return trimmed === "" || trimmed === "new" ? null : trimmed;
}

/** The HTTP base of the conversation API beside a WebSocket or gRPC address. */
function defaultApiUrl(protocol: ClientProtocol, url: string): string {
  if (protocol === "http" || protocol === "sse") return url;
  try {
    const withScheme = url.includes("://") ? url : `grpc://${url}`;
    const u = new URL(withScheme);
    const secure = u.protocol === "wss:" || u.protocol === "grpcs:" || u.protocol === "https:";
    return `${secure ? "https" : "http"}://${u.hostname}:8000`;
  } catch {
    return DEFAULT_URLS.http;
  }
}
