/**
 * One WebSocket connection: reads frames, runs asks on the engine (several
 * JSON asks at once, legacy asks one after another), writes the answers with
 * backpressure, and aborts every ask it started when the socket closes.
 * @module
 */

import type { AskEvent, AskInput, Engine } from "../engine/types.ts";
import { abortReason, AppError, Code } from "../errors.ts";
import type { Logger } from "../log.ts";
import { createCallContext } from "./context.ts";
import { legacyEnd } from "./legacy_wire.ts";
import { legacyError } from "./wire_errors.ts";
import {
  deltaFrame,
  doneFrame,
  errorFrame,
  parseJsonFrame,
  parseLegacyAsk,
  type StartedIds,
} from "./ws_frames.ts";

/** Options of {@link WsSession}. */
export interface WsSessionOptions {
  socket: WebSocket;
  engine: Engine;
  /** The connection's logger. */
  logger: Logger;
  /** The owner principal of the connection's token. */
  principal: string;
  /** Largest accepted frame, in bytes. */
  maxFrameBytes: number;
  /** Bytes the socket may buffer before the session stops pulling answers. */
  highWaterMark: number;
  /** Aborts every running ask (the server's grace period is over). */
  stop: AbortSignal;
  /** Whether the server refuses new asks (it is shutting down). */
  draining: () => boolean;
}

/** How one ask's events become frames: JSON or legacy. */
interface AskWriter {
  delta(text: string): string;
  /** The request id goes in JSON frames only: legacy frames stay as the original's. */
  done(event: Extract<AskEvent, { type: "done" }>, requestId: string): string;
  /** `started`: the ids of an answer that began, so a JSON client can continue from its partial reply. */
  error(err: AppError, requestId: string, started?: StartedIds): string;
}

const DRAIN_POLL_MS = 10;
const decoder = new TextDecoder("utf-8", { fatal: true });

/** One connected client. */
export class WsSession {
  #o: WsSessionOptions;
  /** JSON asks in flight, by client id. */
  #asks = new Map<string, AbortController>();
  #tasks = new Set<Promise<void>>();
  #legacyQueue: Promise<void> = Promise.resolve();
  #gone = new AbortController();

  /** @param options the socket, engine and limits */
  constructor(options: WsSessionOptions) {
    this.#o = options;
    options.socket.binaryType = "arraybuffer";
    options.socket.addEventListener("message", (e) => this.#onMessage(e.data));
    options.socket.addEventListener("close", () => {
      this.#gone.abort(
        new AppError(Code.Canceled, "Cannot finish the answer: the client closed the socket"),
      );
    });
  }

  /** How many asks are running. */
  get running(): number {
    return this.#tasks.size;
  }

  /** Resolves once no ask is running. */
  async idle(): Promise<void> {
    while (this.#tasks.size > 0) await Promise.allSettled([...this.#tasks]);
  }

  /** Closes the socket (when still open) with a code and reason. */
  close(code: number, reason: string): void {
    const s = this.#o.socket;
    if (s.readyState === WebSocket.OPEN || s.readyState === WebSocket.CONNECTING) {
      s.close(code, reason);
    }
  }

  #onMessage(data: unknown): void {
    const bytes = typeof data === "string" ? utf8Length(data) : (data as ArrayBuffer).byteLength;
    if (bytes > this.#o.maxFrameBytes) {
      const err = new AppError(Code.ResourceExhausted, "Cannot accept the frame: it is too large", {
        reason: "payload_too_large",
      });
      this.#send(
        isJsonFrame(data as string | ArrayBuffer) ? errorFrame(null, err) : legacyError(err),
      );
      return;
    }
    let text: string;
    try {
      text = typeof data === "string" ? data : decoder.decode(data as ArrayBuffer);
    } catch {
      this.#send(legacyError(invalid("Cannot read the frame: it is not UTF-8 text")));
      return;
    }
    if (isJsonFrame(text)) this.#onJson(text);
    else this.#onLegacy(text);
  }

  #onLegacy(text: string): void {
    const parsed = parseLegacyAsk(text);
    if (!parsed.ok) {
      this.#send(legacyError(parsed.error));
      return;
    }
    const writer: AskWriter = {
      delta: (t) => t,
      done: (ev) => legacyEnd(ev.conversationId, ev.messageId),
      error: (err) => legacyError(err),
    };
    // Legacy frames carry no id, so their answers must not interleave.
    const run = this.#legacyQueue.then(() =>
      this.#runAsk(parsed.value, new AbortController(), writer, null)
    );
    this.#legacyQueue = run;
    this.#track(run);
  }

  #onJson(text: string): void {
    const frame = parseJsonFrame(text);
    if (frame.type === "invalid") {
      this.#send(errorFrame(frame.id, frame.error));
      return;
    }
    if (frame.type === "cancel") {
      // A cancel racing the end of its ask is harmless: nothing to do.
      this.#asks.get(frame.id)?.abort(
        new AppError(Code.Canceled, "Cannot finish the answer: the client canceled it"),
      );
      return;
    }
    const id = frame.id;
    if (this.#asks.has(id)) {
      this.#send(errorFrame(
        id,
        new AppError(Code.AlreadyExists, `Cannot start the ask: id ${id} is already in flight`),
      ));
      return;
    }
    const controller = new AbortController();
    this.#asks.set(id, controller);
    const writer: AskWriter = {
      delta: (t) => deltaFrame(id, t),
      done: (ev, requestId) => doneFrame(id, ev, requestId),
      error: (err, requestId, started) => errorFrame(id, err, requestId, started),
    };
    const run = this.#runAsk(frame, controller, writer, id).finally(() => {
      this.#asks.delete(id);
    });
    this.#track(run);
  }

  #track(task: Promise<void>): void {
    this.#tasks.add(task);
    task.finally(() => this.#tasks.delete(task));
  }

  async #runAsk(
    input: AskInput,
    controller: AbortController,
    writer: AskWriter,
    askId: string | null,
  ): Promise<void> {
    if (this.#gone.signal.aborted) return;
    const ctx = createCallContext({
      protocol: "ws",
      principal: this.#o.principal,
      logger: this.#o.logger,
      signals: [controller.signal, this.#gone.signal, this.#o.stop],
    });
    const log = askId === null ? ctx.logger : ctx.logger.child({ askId });
    const started = performance.now();
    const fields: Record<string, unknown> = {};
    try {
      if (this.#o.draining()) {
        throw new AppError(Code.Unavailable, "Cannot start the ask: the server is shutting down", {
          reason: "shutting_down",
        });
      }
      const request: AskInput = {
        conversationId: input.conversationId,
        parentId: input.parentId,
        prompt: input.prompt,
        model: input.model,
      };
      for await (const ev of this.#o.engine.ask(request, ctx)) {
        if (ev.type === "start") {
          fields.conversationId = ev.conversationId;
          fields.messageId = ev.messageId;
        } else if (ev.type === "delta") {
          if (fields.firstTokenMs === undefined) {
            fields.firstTokenMs = Math.round(performance.now() - started);
          }
          if (ev.text !== "") this.#send(writer.delta(ev.text));
          await this.#drain(ctx.signal);
        } else {
          fields.model = ev.model;
          fields.promptTokens = ev.usage?.promptTokens;
          fields.completionTokens = ev.usage?.completionTokens;
          this.#send(writer.done(ev, ctx.requestId));
        }
      }
      log.info("ask finished", { ...fields, status: "ok", durationMs: ms(started) });
    } catch (e) {
      const err = ctx.signal.aborted ? abortReason(ctx.signal) : AppError.from(e);
      const level = err.code === Code.Internal || err.code === Code.Unknown ? "error" : "info";
      log[level]("ask failed", {
        ...fields,
        status: err.reason ?? Code[err.code],
        durationMs: ms(started),
        err: err.code === Code.Internal ? e : undefined,
      });
      const begun = typeof fields.conversationId === "string"
        ? { conversationId: fields.conversationId, messageId: String(fields.messageId) }
        : undefined;
      this.#send(writer.error(err, ctx.requestId, begun));
    } finally {
      ctx.dispose();
    }
  }

  /** Waits while the socket holds more than the high-water mark of unsent bytes. */
  async #drain(signal: AbortSignal): Promise<void> {
    const s = this.#o.socket;
    while (
      s.bufferedAmount > this.#o.highWaterMark && !signal.aborted &&
      s.readyState === WebSocket.OPEN
    ) {
      await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_MS));
    }
  }

  #send(frame: string): void {
    const s = this.#o.socket;
    if (s.readyState !== WebSocket.OPEN) return;
    try {
      s.send(frame);
    } catch (err) {
      this.#o.logger.debug("cannot send a frame", { err });
    }
  }
}

function invalid(message: string): AppError {
  return new AppError(Code.InvalidArgument, message);
}

/**
 * Whether a frame is a JSON frame: its first non-blank character is `{`. A
 * binary frame counts by its first non-blank byte, so one too large to decode
 * still gets its error in the protocol it speaks.
 */
function isJsonFrame(data: string | ArrayBuffer): boolean {
  if (typeof data === "string") return /^\s*\{/.test(data);
  for (const byte of new Uint8Array(data)) {
    if (byte !== 0x20 && byte !== 0x09 && byte !== 0x0a && byte !== 0x0d) return byte === 0x7b;
  }
  return false;
}

/** UTF-8 byte length of a string, without encoding it. */
function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

function ms(started: number): number {
  return Math.round(performance.now() - started);
}
