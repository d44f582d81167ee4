/**
 * The messages between the store's proxy (`sqlite_client.ts`, on the event
 * loop) and its worker (`sqlite_worker.ts`, which owns the sqlite connection).
 * Everything crosses by structured clone; an AppError crosses as its fields.
 * @module
 */

import { AppError, Code, type Reason } from "../errors.ts";
import type { LogFields } from "../log.ts";

/** The store methods the worker runs (all of ConversationStore but `close`). */
export type StoreMethod =
  | "createConversation"
  | "getConversation"
  | "appendMessage"
  | "startTurn"
  | "finishMessage"
  | "saveDraft"
  | "getMessage"
  | "path"
  | "messages"
  | "list"
  | "rename"
  | "delete";

/** Proxy → worker. */
export type ToWorker =
  | { type: "open"; dataDir: string; busyTimeoutMs?: number }
  | { type: "call"; id: number; method: StoreMethod; args: unknown[] }
  | { type: "close"; id: number }
  /** Calls made in one turn of the proxy's event loop, sent as one message. */
  | { type: "calls"; calls: { id: number; method: StoreMethod; args: unknown[] }[] };

/** An error as it crosses the thread boundary. */
export interface WireError {
  code: Code;
  message: string;
  reason?: Reason;
  retryable: boolean;
  /** The cause, for the log only. */
  cause?: unknown;
}

/** Worker → proxy. */
export type FromWorker =
  | { type: "opened" }
  | { type: "result"; id: number; value: unknown }
  | { type: "failed"; id: number; error: WireError }
  /** `startTurn`'s `durable`: null once on disk, else why not. */
  | { type: "durable"; id: number; error: WireError | null }
  | { type: "log"; level: "debug" | "info" | "warn" | "error"; msg: string; fields?: LogFields }
  /** Answers ready in one turn of the worker's event loop, sent as one message. */
  | { type: "many"; messages: FromWorker[] };

/** An error's cloneable form (an AppError keeps its code, message and reason). */
export function toWire(err: unknown): WireError {
  const e = AppError.from(err);
  return {
    code: e.code,
    message: e.message,
    reason: e.reason,
    retryable: e.retryable,
    cause: e.cause instanceof Error ? e.cause : e.cause === undefined ? undefined : String(e.cause),
  };
}

/** The AppError again, on the proxy's side. */
export function fromWire(w: WireError): AppError {
  return new AppError(w.code ?? Code.Internal, w.message, {
    reason: w.reason,
    retryable: w.retryable,
    cause: w.cause,
  });
}
