/**
 * Configuration: environment variables, each overridden by a kebab-case flag
 * (`HTTP_PORT` → `--http-port`). The only module that reads `Deno.env`.
 * @module
 */

import { parseArgs } from "node:util";
import type { LogLevel } from "./log.ts";

/** The upstream kinds. */
export type ProviderName = "openai" | "chatgpt-web" | "echo";

/** The validated, frozen configuration. */
export interface Config {
  /** Upstream credentials; several form a pool. Never log these. */
  readonly apiKeys: readonly string[];
  readonly provider: ProviderName;
  /** Upstream base URL, without a trailing slash. */
  readonly apiBaseUrl: string;
  readonly model: string;
  readonly systemPrompt: string;
  /** Prompt budget in tokens; 0 means "from the model". */
  readonly contextTokens: number;
  readonly proxy: string | null;
  /**
   * Whether the environment names a proxy the runtime's `fetch` honours
   * (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, any case): then upstream calls
   * stay on `fetch` even without `PROXY`.
   */
  readonly proxyInEnvironment: boolean;
  readonly host: string;
  readonly httpPort: number;
  readonly grpcPort: number;
  readonly wsPort: number;
  readonly dataDir: string;
  /** Client bearer tokens; empty means open. Never log these. */
  readonly authTokens: readonly string[];
  /** PEM text of the certificate chain, when TLS is on. */
  readonly tlsCert: string | null;
  /** PEM text of the private key, when TLS is on. */
  readonly tlsKey: string | null;
  readonly logLevel: LogLevel;
  /** Milliseconds to wait for the first token of an answer. */
  readonly firstTokenTimeoutMs: number;
  /** Milliseconds of upstream silence tolerated between two chunks. */
  readonly idleTimeoutMs: number;
  /** Upstream attempts per call before the first token (1 = no retry). */
  readonly upstreamAttempts: number;
  /** Largest accepted HTTP request body, in bytes. */
  readonly maxBodyBytes: number;
  /** Largest accepted prompt, in characters. */
  readonly maxPromptChars: number;
  /** Milliseconds running answers get to finish on SIGTERM. */
  readonly shutdownGraceMs: number;
  /** Milliseconds between saves of a streaming reply's text so far; 0: only at the end. */
  readonly draftIntervalMs: number;
  /** Requests per minute one client token may make; 0 turns the limit off. */
  readonly rateLimitRpm: number;
  /** Answers one client token may stream at once; 0 turns the limit off. */
  readonly maxStreamsPerToken: number;
  /** Answers the whole server streams at once; 0 turns the limit off. */
  readonly maxStreams: number;
  /** Largest accepted WebSocket frame, in bytes. */
  readonly maxWsFrameBytes: number;
  /** Largest accepted gRPC message, in bytes. */
  readonly maxGrpcMessageBytes: number;
}

/** A bad configuration value: the message names the variable. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

interface Option {
  env: string;
  help: string;
  default?: string;
}

/** Every variable, in the order `--help` prints them. */
export const OPTIONS: readonly Option[] = [
  {
    env: "API_KEY",
    help:
      "upstream credential(s): sk-… keys, a ChatGPT access token (JWT), comma-separated for a pool",
  },
  {
    env: "PROVIDER",
    help: "openai | chatgpt-web | echo (auto: JWT → chatgpt-web, key → openai, none → echo)",
  },
  {
    env: "API_BASE_URL",
    help:
      "upstream base URL (default https://api.openai.com/v1 or https://chatgpt.com/backend-api)",
  },
  { env: "MODEL", help: "default model (default gpt-4o-mini for openai, auto for chatgpt-web)" },
  { env: "SYSTEM_PROMPT", help: "system message of every new conversation", default: "" },
  {
    env: "CONTEXT_TOKENS",
    help: "prompt budget in tokens (default: from the model)",
    default: "0",
  },
  { env: "PROXY", help: "http(s) proxy for upstream calls" },
  { env: "HOST", help: "listen address", default: "0.0.0.0" },
  { env: "HTTP_PORT", help: "HTTP listener (JSON, SSE, OpenAI API)", default: "8000" },
  { env: "GRPC_PORT", help: "gRPC listener", default: "9000" },
  { env: "WS_PORT", help: "WebSocket listener", default: "9001" },
  { env: "DATA_DIR", help: "where the sqlite database lives", default: "./conversations" },
  { env: "AUTH_TOKENS", help: "comma-separated client bearer tokens (empty: open)", default: "" },
  { env: "TLS_CERT", help: "PEM certificate file: HTTPS, WSS and gRPC over TLS" },
  { env: "TLS_KEY", help: "PEM private key file" },
  { env: "LOG_LEVEL", help: "debug | info | warn | error", default: "info" },
  { env: "FIRST_TOKEN_TIMEOUT", help: "seconds to wait for the first token", default: "60" },
  { env: "IDLE_TIMEOUT", help: "seconds of upstream silence tolerated mid-answer", default: "60" },
  { env: "UPSTREAM_ATTEMPTS", help: "upstream attempts before the first token", default: "4" },
  { env: "MAX_BODY_BYTES", help: "largest HTTP request body", default: "1048576" },
  { env: "MAX_PROMPT_CHARS", help: "largest prompt, in characters", default: "100000" },
  {
    env: "SHUTDOWN_GRACE",
    help: "seconds running answers get to finish on SIGTERM",
    default: "10",
  },
  {
    env: "DRAFT_INTERVAL",
    help: "seconds between saves of a streaming reply's text (0: only at the end)",
    default: "2",
  },
  { env: "RATE_LIMIT_RPM", help: "requests per minute per client token (0: off)", default: "120" },
  {
    env: "MAX_STREAMS_PER_TOKEN",
    help: "answers one client token may stream at once (0: off)",
    default: "16",
  },
  { env: "MAX_STREAMS", help: "answers the server streams at once (0: off)", default: "10000" },
  { env: "MAX_WS_FRAME_BYTES", help: "largest WebSocket frame", default: "1048576" },
  { env: "MAX_GRPC_MESSAGE_BYTES", help: "largest gRPC message", default: "4194304" },
];

function flagName(env: string): string {
  return env.toLowerCase().replaceAll("_", "-");
}

/** The `--help` text. */
export function helpText(): string {
  const lines = [
    "EasyBackend: a self-hosted ChatGPT backend (HTTP, gRPC, WebSocket).",
    "",
    "Usage: deno task start [--flag value …]",
    "Every flag may instead be set as the environment variable beside it.",
    "",
  ];
  for (const o of OPTIONS) {
    const flag = `--${flagName(o.env)}`.padEnd(24);
    const def = o.default !== undefined && o.default !== "" ? ` [${o.default}]` : "";
    lines.push(`  ${flag}${o.env.padEnd(20)}${o.help}${def}`);
  }
  lines.push(`  ${"--help".padEnd(44)}this text`);
  return lines.join("\n");
}

/** The result of {@link parseConfig}: a config, or a request for help. */
export type ParsedConfig = { help: true } | { help: false; config: Config };

/** Options of {@link parseConfig}. */
export interface ParseConfigOptions {
  /** Reads a file named by TLS_CERT / TLS_KEY. @default Deno.readTextFileSync */
  readFile?: (path: string) => string;
}

/**
 * Parses flags over environment variables into a validated Config.
 * @param args command-line arguments
 * @param env the environment
 * @throws {ConfigError} naming the variable on a bad value
 */
export function parseConfig(
  args: string[],
  env: Record<string, string | undefined>,
  options: ParseConfigOptions = {},
): ParsedConfig {
  const flags: Record<string, { type: "string" }> = {};
  for (const o of OPTIONS) flags[flagName(o.env)] = { type: "string" };
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: { ...flags, help: { type: "boolean", short: "h" } },
      strict: true,
      allowPositionals: false,
    });
  } catch (err) {
    throw new ConfigError(`Cannot parse the command line: ${(err as Error).message}`);
  }
  if (parsed.values.help) return { help: true };
  const values = parsed.values as Record<string, string | undefined>;
  const raw = (name: string): string | undefined => {
    const v = values[flagName(name)] ?? env[name];
    if (v !== undefined) return v.trim();
    return OPTIONS.find((o) => o.env === name)?.default;
  };
  return {
    help: false,
    config: Object.freeze(build(raw, options.readFile ?? Deno.readTextFileSync)),
  };
}

/** The proxy variables the runtime's `fetch` honours. */
const PROXY_ENV = [
  "HTTPS_PROXY",
  "HTTP_PROXY",
  "ALL_PROXY",
  "https_proxy",
  "http_proxy",
  "all_proxy",
];

function build(
  raw: (name: string) => string | undefined,
  readFile: (p: string) => string,
): Config {
  const apiKeys = splitList(raw("API_KEY"));
  const provider = pickProvider(raw("PROVIDER"), apiKeys);
  if (provider !== "echo" && apiKeys.length === 0) {
    fail("API_KEY", `is required with PROVIDER=${provider}`);
  }
  const apiBaseUrl = url("API_BASE_URL", raw("API_BASE_URL") || defaultBase(provider));
  const proxyRaw = raw("PROXY");
  const tlsCertPath = raw("TLS_CERT") || null;
  const tlsKeyPath = raw("TLS_KEY") || null;
  if ((tlsCertPath === null) !== (tlsKeyPath === null)) {
    fail(tlsCertPath ? "TLS_KEY" : "TLS_CERT", "is required when the other TLS file is set");
  }
  const logLevel = raw("LOG_LEVEL") ?? "info";
  if (!["debug", "info", "warn", "error"].includes(logLevel)) {
    fail("LOG_LEVEL", `must be debug, info, warn or error, got ${JSON.stringify(logLevel)}`);
  }
  const dataDir = raw("DATA_DIR") ?? "";
  if (dataDir === "") fail("DATA_DIR", "must not be empty");
  return {
    apiKeys,
    provider,
    apiBaseUrl: apiBaseUrl.replace(/\/+$/, ""),
    model: raw("MODEL") || defaultModel(provider),
    systemPrompt: raw("SYSTEM_PROMPT") ?? "",
    contextTokens: integer("CONTEXT_TOKENS", raw("CONTEXT_TOKENS"), 0, 10_000_000),
    proxy: proxyRaw ? url("PROXY", proxyRaw, ["http:", "https:"]) : null,
    proxyInEnvironment: PROXY_ENV.some((name) => (raw(name) ?? "") !== ""),
    host: raw("HOST") || "0.0.0.0",
    httpPort: port("HTTP_PORT", raw("HTTP_PORT")),
    grpcPort: port("GRPC_PORT", raw("GRPC_PORT")),
    wsPort: port("WS_PORT", raw("WS_PORT")),
    dataDir,
    authTokens: splitList(raw("AUTH_TOKENS")),
    tlsCert: tlsCertPath ? pem("TLS_CERT", tlsCertPath, readFile) : null,
    tlsKey: tlsKeyPath ? pem("TLS_KEY", tlsKeyPath, readFile) : null,
    logLevel: logLevel as LogLevel,
    firstTokenTimeoutMs: seconds("FIRST_TOKEN_TIMEOUT", raw("FIRST_TOKEN_TIMEOUT")),
    idleTimeoutMs: seconds("IDLE_TIMEOUT", raw("IDLE_TIMEOUT")),
    upstreamAttempts: integer("UPSTREAM_ATTEMPTS", raw("UPSTREAM_ATTEMPTS"), 1, 20),
    maxBodyBytes: integer("MAX_BODY_BYTES", raw("MAX_BODY_BYTES"), 1024, 1 << 30),
    maxPromptChars: integer("MAX_PROMPT_CHARS", raw("MAX_PROMPT_CHARS"), 1, 10_000_000),
    shutdownGraceMs: seconds("SHUTDOWN_GRACE", raw("SHUTDOWN_GRACE"), 0),
    draftIntervalMs: seconds("DRAFT_INTERVAL", raw("DRAFT_INTERVAL"), 0),
    rateLimitRpm: integer("RATE_LIMIT_RPM", raw("RATE_LIMIT_RPM"), 0, 1_000_000),
    maxStreamsPerToken: integer(
      "MAX_STREAMS_PER_TOKEN",
      raw("MAX_STREAMS_PER_TOKEN"),
      0,
      1_000_000,
    ),
    maxStreams: integer("MAX_STREAMS", raw("MAX_STREAMS"), 0, 1_000_000),
    maxWsFrameBytes: integer("MAX_WS_FRAME_BYTES", raw("MAX_WS_FRAME_BYTES"), 1024, 1 << 30),
    maxGrpcMessageBytes: integer(
      "MAX_GRPC_MESSAGE_BYTES",
      raw("MAX_GRPC_MESSAGE_BYTES"),
      1024,
      1 << 30,
    ),
  };
}

function fail(name: string, what: string): never {
  throw new ConfigError(`${name} ${what}`);
}

function splitList(value: string | undefined): string[] {
  return (value ?? "").split(",").map((s) => s.trim()).filter((s) => s !== "");
}

function isJwt(key: string): boolean {
  return /^ey[\w-]+\.[\w-]+\.[\w-]*$/.test(key);
}

function pickProvider(value: string | undefined, keys: string[]): ProviderName {
  const v = (value ?? "").toLowerCase();
  if (v === "" || v === "auto") {
    if (keys.length === 0) return "echo";
    return keys.every(isJwt) ? "chatgpt-web" : "openai";
  }
  if (v === "openai" || v === "chatgpt-web" || v === "echo") return v;
  return fail(
    "PROVIDER",
    `must be openai, chatgpt-web, echo or auto, got ${JSON.stringify(value)}`,
  );
}

function defaultBase(provider: ProviderName): string {
  return provider === "chatgpt-web"
    ? "https://chatgpt.com/backend-api"
    : "https://api.openai.com/v1";
}

function defaultModel(provider: ProviderName): string {
  if (provider === "chatgpt-web") return "auto";
  if (provider === "echo") return "echo";
  return "gpt-4o-mini";
}

function url(name: string, value: string, protocols = ["http:", "https:"]): string {
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    return fail(name, `must be a URL, got ${JSON.stringify(value)}`);
  }
  if (!protocols.includes(parsed.protocol)) {
    fail(
      name,
      `must be an ${protocols.join(" or ").replaceAll(":", "")} URL, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

function integer(name: string, value: string | undefined, min: number, max: number): number {
  const v = value ?? "";
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
    fail(name, `must be a whole number from ${min} to ${max}, got ${JSON.stringify(v)}`);
  }
  return Number(v);
}

function port(name: string, value: string | undefined): number {
  const v = value ?? "";
  if (!/^\d+$/.test(v) || Number(v) > 65535) {
    fail(name, `must be a port number from 0 to 65535, got ${JSON.stringify(v)}`);
  }
  return Number(v);
}

function seconds(name: string, value: string | undefined, min = 0.001): number {
  const v = value ?? "";
  const n = Number(v);
  if (v === "" || !Number.isFinite(n) || n < min || n > 86_400) {
    fail(name, `must be a number of seconds from ${min} to 86400, got ${JSON.stringify(v)}`);
  }
  return Math.round(n * 1000);
}

function pem(name: string, path: string, readFile: (p: string) => string): string {
  let text: string;
  try {
    text = readFile(path);
  } catch (err) {
    return fail(name, `cannot be read from ${JSON.stringify(path)}: ${(err as Error).message}`);
  }
  if (!text.includes("-----BEGIN ")) fail(name, `file ${JSON.stringify(path)} is not PEM`);
  return text;
}

/**
 * Reads the configuration of this process: `Deno.args` over `Deno.env`.
 * @throws {ConfigError} naming the variable on a bad value
 */
export function readConfig(args: string[] = Deno.args): ParsedConfig {
  return parseConfig(args, Deno.env.toObject());
}
