/**
 * The original project's `chat.Chat/Ask`, byte-compatible: reply pieces as
 * they arrive, then `<|end|>$<conversation_id>$<parent_id>`; a failure sends
 * one `<|err|>$<reason>` and ends the call OK, as the original did. Only a
 * missing or wrong token is a real status (UNAUTHENTICATED).
 * @module
 */

import { AppError, Code } from "../errors.ts";
import type { CallContext } from "../providers/provider.ts";
import {
  callError,
  type GrpcRuntime,
  type GrpcStreamCall,
  logFailure,
  openCall,
  toGrpcStatus,
  writeMessage,
} from "./grpc_call.ts";
import { legacyEnd, wireId } from "./legacy_wire.ts";
import { legacyError } from "./wire_errors.ts";

/** `chat.askrequest`. */
export interface LegacyAskRequest {
  prompt: string;
  conversationId: string;
  parentId: string;
}

/** `chat.askresponse`. */
export interface LegacyAskResponse {
  response: string;
}

/** Serves one legacy `Ask` call. */
export async function legacyAsk(
  call: GrpcStreamCall<LegacyAskRequest, LegacyAskResponse>,
  rt: GrpcRuntime,
): Promise<void> {
  let ctx: CallContext | null = null;
  let release = () => {};
  try {
    ({ ctx, release } = await openCall(call, rt, "chat.Chat/Ask"));
  } catch (err) {
    const e = AppError.from(err);
    logFailure(null, rt, e);
    call.emit("error", toGrpcStatus(e));
    return;
  }
  const started = performance.now();
  try {
    const req = call.request;
    const events = rt.deps.engine.ask({
      prompt: req.prompt ?? "",
      conversationId: wireId(req.conversationId),
      parentId: wireId(req.parentId),
    }, ctx);
    for await (const ev of events) {
      if (ev.type === "delta") {
        await writeMessage(call, { response: ev.text }, ctx.signal);
      } else if (ev.type === "done") {
        await writeMessage(
          call,
          { response: legacyEnd(ev.conversationId, ev.messageId) },
          ctx.signal,
        );
        ctx.logger.info("call done", {
          conversation: ev.conversationId,
          durationMs: Math.round(performance.now() - started),
          tokens: ev.usage?.totalTokens,
        });
      }
    }
    call.end();
  } catch (err) {
    const e = callError(err, ctx.signal);
    logFailure(ctx, rt, e);
    if (e.code !== Code.Canceled) call.write({ response: legacyError(e) });
    call.end();
  } finally {
    release();
  }
}
