/**
 * A four-method logger writing one JSON object per line. Child loggers carry
 * fields such as the request id and protocol. Never log prompts, replies or keys.
 * @module
 */

/** Log levels, lowest first. */
export type LogLevel = "debug" | "info" | "warn" | "error";

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Extra structured fields of a log line. */
export type LogFields = Record<string, unknown>;

/** The logger every layer receives. */
export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger whose lines carry these fields too. */
  child(fields: LogFields): Logger;
}

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** Lowest level written. @default "info" */
  level?: LogLevel;
  /** Where lines go. @default a writer to stdout */
  write?: (line: string) => void;
  /** The clock. @default () => new Date() */
  now?: () => Date;
}

const encoder = new TextEncoder();

function writeStdout(line: string): void {
  Deno.stdout.writeSync(encoder.encode(line + "\n"));
}

/** Serialises an error cause for a log line: name and message, plus the cause chain. */
export function describeError(err: unknown, depth = 0): unknown {
  if (!(err instanceof Error)) return err === undefined ? undefined : String(err);
  const out: Record<string, unknown> = { name: err.name, message: err.message };
  if ("code" in err && err.code !== undefined) out.code = err.code;
  if (err.cause !== undefined && depth < 3) out.cause = describeError(err.cause, depth + 1);
  return out;
}

/** Creates the root logger. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const min = RANK[options.level ?? "info"];
  const write = options.write ?? writeStdout;
  const now = options.now ?? (() => new Date());
  function make(base: LogFields): Logger {
    function emit(level: LogLevel, msg: string, fields?: LogFields): void {
      if (RANK[level] < min) return;
      const line: LogFields = { time: now().toISOString(), level, msg, ...base, ...fields };
      if (line.err !== undefined) line.err = describeError(line.err);
      write(JSON.stringify(line));
    }
    return {
      debug: (msg, fields) => emit("debug", msg, fields),
      info: (msg, fields) => emit("info", msg, fields),
      warn: (msg, fields) => emit("warn", msg, fields),
      error: (msg, fields) => emit("error", msg, fields),
      child: (fields) => make({ ...base, ...fields }),
    };
  }
  return make({});
}

/** A logger that drops everything, for tests and tools. */
export const silentLogger: Logger = createLogger({ level: "error", write: () => {} });
