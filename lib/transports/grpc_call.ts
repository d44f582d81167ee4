/**
 * What every gRPC handler shares: the call's context (token check, cancel and
 * deadline wired into one signal), writes that wait for the stream's `'drain'`,
 * and the one mapping from an error to a gRPC status.
 *
 * The call types here are structural, so that only `grpc.ts` imports
 * `@grpc/grpc-js` (DESIGN.md import rules); grpc-js's call objects fit them.
 * @module
 */

import { abortReason, AppError, Code } from "../errors.ts";
import type { CallContext } from "../providers/provider.ts";
import { type Authenticator, bearerToken } from "./auth.ts";
import { createCallContext, type TransportDeps } from "./context.ts";
import { grpcStatus } from "./wire_errors.ts";

/** A gRPC status as grpc-js takes it: `{ code, details }`. */
export interface GrpcStatus {
  code: number;
  details: string;
}

/** The part of a grpc-js server call every handler uses. */
export interface GrpcServerCall<Req> {
  request: Req;
  metadata: { get(key: string): (string | Uint8Array)[] };
  cancelled: boolean;
  getDeadline(): Date | number;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  off(event: string, listener: (...args: unknown[]) => void): unknown;
  /** Sends the response headers (grpc-js `Metadata`, made by `GrpcRuntime.responseMetadata`). */
  sendMetadata?(metadata: never): void;
}

/** A server-streaming call (grpc-js `ServerWritableStream`). */
export interface GrpcStreamCall<Req, Res> extends GrpcServerCall<Req> {
  write(message: Res): boolean;
  end(): void;
  emit(event: "error", status: GrpcStatus): boolean;
}

/** The callback of a unary call. */
export type GrpcCallback<Res> = (err: GrpcStatus | null, value?: Res) => void;

/** State the gRPC handlers share with the server: deps, tokens, forced stop. */
export interface GrpcRuntime {
  deps: TransportDeps;
  auth: Authenticator;
  /** Fires when the server stops waiting for running calls. */
  force: AbortSignal;
  /** Running calls, so a stop can wait for them to end. */
  running: Set<Promise<unknown>>;
  /** Set once `close` began: new calls are refused. */
  draining: boolean;
  /** Makes response metadata (grpc-js `Metadata`) from text pairs. */
  responseMetadata?: (pairs: Record<string, string>) => unknown;
}

/** The context of one call, and how to let go of its listeners. */
export interface OpenedCall {
  ctx: CallContext;
  /** Removes the call's listeners. */
  release(): void;
}

/**
 * Opens a call: checks the bearer token of the `authorization` metadata and
 * makes a {@link CallContext} whose signal fires when the client cancels, the
 * deadline passes (grpc-js cancels the call) or the server is forced to stop.
 * @throws {AppError} Unauthenticated on a missing or wrong token; Unavailable
 * once shutdown has begun
 */
export async function openCall(
  call: GrpcServerCall<unknown>,
  rt: GrpcRuntime,
  method: string,
): Promise<OpenedCall> {
  if (rt.draining || rt.deps.shutdown.aborted) {
    throw new AppError(Code.Unavailable, "Cannot accept the call: the server is shutting down", {
      reason: "shutting_down",
    });
  }
  const principal = await rt.auth.principal(bearerToken(metadataText(call, "authorization")));
  const cancel = new AbortController();
  const onCancel = () => cancel.abort(new DOMException("client canceled", "AbortError"));
  if (call.cancelled) onCancel();
  else call.on("cancelled", onCancel);
  const ctx = createCallContext({
    protocol: "grpc",
    principal,
    logger: rt.deps.logger.child({ method }),
    signals: [cancel.signal, rt.force],
    requestId: metadataText(call, "x-request-id"),
  });
  // The request id goes back as response metadata (headers, or trailers-only
  // on an immediate error), invisible to clients that do not read it.
  const release = () => {
    call.off("cancelled", onCancel);
    ctx.dispose();
  };
  try {
    const md = rt.responseMetadata?.({ "x-request-id": ctx.requestId });
    if (md !== undefined) call.sendMetadata?.(md as never);
    const deadline = call.getDeadline();
    const ms = deadline instanceof Date ? deadline.getTime() : deadline;
    if (Number.isFinite(ms)) ctx.deadline = ms;
  } catch (err) {
    release();
    throw err;
  }
  return { ctx, release };
}

/** The first text value of a metadata key, or null. */
function metadataText(call: GrpcServerCall<unknown>, key: string): string | null {
  const value = call.metadata.get(key)[0];
  return typeof value === "string" ? value : null;
}

/**
 * Writes one message, and when the stream's buffer is full waits for
 * `'drain'` (or the end of the call) before returning, so the caller pulls
 * the next event only when the client keeps up.
 */
export async function writeMessage<Res>(
  call: GrpcStreamCall<unknown, Res>,
  message: Res,
  signal: AbortSignal,
): Promise<void> {
  if (call.write(message) || signal.aborted) return;
  await new Promise<void>((resolve) => {
    const done = () => {
      call.off("drain", done);
      call.off("close", done);
      signal.removeEventListener("abort", done);
      resolve();
    };
    call.on("drain", done);
    call.on("close", done);
    signal.addEventListener("abort", done);
  });
}

/**
 * The error a call failed with: the signal's reason when the call was
 * aborted (client gone, forced stop), else the error itself.
 */
export function callError(err: unknown, signal: AbortSignal | undefined): AppError {
  return signal?.aborted ? abortReason(signal) : AppError.from(err);
}

/** The gRPC status of an error; `details` is the client-safe message. */
export function toGrpcStatus(err: AppError): GrpcStatus {
  return { code: grpcStatus(err), details: err.message };
}

/** Logs the end of a failed call at a level that fits its code, with the cause. */
export function logFailure(ctx: CallContext | null, rt: GrpcRuntime, err: AppError): void {
  const logger = ctx?.logger ?? rt.deps.logger.child({ protocol: "grpc" });
  const fields = { code: Code[err.code], reason: err.reason, err: err.cause ?? err };
  if (err.code === Code.Internal || err.code === Code.Unknown) logger.error("call failed", fields);
  else logger.info("call failed", fields);
}

/**
 * Runs a handler body as a tracked call, so a forced stop can wait until its
 * final status is written.
 */
export function track(rt: GrpcRuntime, body: () => Promise<void>): void {
  const p = body().catch((err) => {
    rt.deps.logger.error("grpc handler crashed", { err });
  }).finally(() => rt.running.delete(p));
  rt.running.add(p);
}
