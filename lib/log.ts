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
  return new JsonLogger(
    {
      min: RANK[options.level ?? "info"],
      write: options.write ?? writeStdout,
      now: options.now ?? (() => new Date()),
    },
    null,
    {},
  );
}

/** Where a logger's lines go, shared by it and its children. */
interface Sink {
  min: number;
  write: (line: string) => void;
  now: () => Date;
}

/**
 * A logger whose child is one object that points at its parent: a call keeps
 * one or two children alive for as long as it runs (thousands at once), and
 * the fields are merged only when a line is written.
 */
class JsonLogger implements Logger {
  readonly #sink: Sink;
  readonly #parent: JsonLogger | null;
  readonly #fields: LogFields;

  constructor(sink: Sink, parent: JsonLogger | null, fields: LogFields) {
    this.#sink = sink;
    this.#parent = parent;
    this.#fields = fields;
  }

  debug(msg: string, fields?: LogFields): void {
    this.#emit("debug", msg, fields);
  }

  info(msg: string, fields?: LogFields): void {
    this.#emit("info", msg, fields);
  }

  warn(msg: string, fields?: LogFields): void {
    this.#emit("warn", msg, fields);
  }

  error(msg: string, fields?: LogFields): void {
    this.#emit("error", msg, fields);
  }

  child(fields: LogFields): Logger {
    return new JsonLogger(this.#sink, this, fields);
  }

  #addFields(line: LogFields): void {
    if (this.#parent !== null) this.#parent.#addFields(line);
    Object.assign(line, this.#fields);
  }

  #emit(level: LogLevel, msg: string, fields?: LogFields): void {
    if (RANK[level] < this.#sink.min) return;
    const line: LogFields = { time: this.#sink.now().toISOString(), level, msg };
    this.#addFields(line);
    if (fields) Object.assign(line, fields);
    if (line.err !== undefined) line.err = describeError(line.err);
    this.#sink.write(JSON.stringify(line));
  }
}

/** A logger that drops everything, for tests and tools. */
export const silentLogger: Logger = createLogger({ level: "error", write: () => {} });
