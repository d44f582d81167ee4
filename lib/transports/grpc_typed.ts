/**
 * The typed service `easybackend.v1.Chat`: `Ask` streams typed events, and the
 * conversation calls. Every failure is a real gRPC status from the AppError.
 * @module
 */

import { AppError, Code } from "../errors.ts";
import type { AskEvent } from "../engine/types.ts";
import type { CallContext } from "../providers/provider.ts";
import {
  callError,
  type GrpcCallback,
  type GrpcRuntime,
  type GrpcServerCall,
  type GrpcStreamCall,
  logFailure,
  openCall,
  toGrpcStatus,
  track,
  writeMessage,
} from "./grpc_call.ts";
import { wireId } from "./legacy_wire.ts";
import {
  type AskEventMessage,
  type ConversationMessage,
  toAskEventMessage,
  toConversationMessage,
  toMessageMessages,
} from "./grpc_typed_messages.ts";

/** `easybackend.v1.AskRequest`. */
export interface AskRequest {
  prompt: string;
  conversationId: string;
  parentId: string;
  model: string;
  instructions: string;
}

type Unary<Res> = (
  call: GrpcServerCall<Record<string, unknown>>,
  callback: GrpcCallback<Res>,
) => void;

/** The handlers of `easybackend.v1.Chat`, keyed by method name. */
export function typedChatService(rt: GrpcRuntime): {
  Ask: (call: GrpcStreamCall<AskRequest, AskEventMessage>) => void;
  ListConversations: Unary<{ conversations: ConversationMessage[] }>;
  GetConversation: Unary<unknown>;
  GetMessages: Unary<unknown>;
  RenameConversation: Unary<ConversationMessage>;
  DeleteConversation: Unary<Record<string, never>>;
} {
  const engine = rt.deps.engine;
  return {
    Ask: (call) => track(rt, () => typedAsk(call, rt)),
    ListConversations: unary(rt, "ListConversations", async (req, ctx) => {
      const limit = Number(req.limit ?? 0);
      const before = Number(req.before ?? 0);
      const list = await engine.listConversations(ctx, {
        limit: limit > 0 ? limit : undefined,
        before: before > 0 ? before : undefined,
      });
      return { conversations: list.map(toConversationMessage) };
    }),
    GetConversation: unary(rt, "GetConversation", async (req, ctx) => {
      const tree = await engine.getConversation(requiredId(req.conversationId), ctx);
      return {
        conversation: toConversationMessage(tree.conversation),
        messages: toMessageMessages(tree.messages, true),
      };
    }),
    GetMessages: unary(rt, "GetMessages", async (req, ctx) => {
      const path = await engine.getMessages(
        requiredId(req.conversationId),
        wireId(String(req.messageId ?? "")),
        ctx,
      );
      return { messages: toMessageMessages(path, false) };
    }),
    RenameConversation: unary(rt, "RenameConversation", async (req, ctx) => {
      const conv = await engine.renameConversation(
        requiredId(req.conversationId),
        String(req.title ?? ""),
        ctx,
      );
      return toConversationMessage(conv);
    }),
    DeleteConversation: unary(rt, "DeleteConversation", async (req, ctx) => {
      await engine.deleteConversation(requiredId(req.conversationId), ctx);
      return {};
    }),
  };
}

function requiredId(value: unknown): string {
  const id = typeof value === "string" ? value.trim() : "";
  if (id === "") {
    throw new AppError(Code.InvalidArgument, "Cannot read the request: conversation_id is empty");
  }
  return id;
}

/** Wraps a unary body: opens the call, answers its value or its status. */
function unary<Res>(
  rt: GrpcRuntime,
  method: string,
  body: (req: Record<string, unknown>, ctx: CallContext) => Promise<Res>,
): Unary<Res> {
  return (call, callback) =>
    track(rt, async () => {
      let ctx: CallContext | null = null;
      let release = () => {};
      try {
        ({ ctx, release } = await openCall(call, rt, `easybackend.v1.Chat/${method}`));
        callback(null, await body(call.request, ctx));
      } catch (err) {
        const e = callError(err, ctx?.signal);
        logFailure(ctx, rt, e);
        callback(toGrpcStatus(e));
      } finally {
        release();
      }
    });
}

/** Serves one typed `Ask`: Start, Delta pieces, Done, or a gRPC status. */
async function typedAsk(
  call: GrpcStreamCall<AskRequest, AskEventMessage>,
  rt: GrpcRuntime,
): Promise<void> {
  let ctx: CallContext | null = null;
  let release = () => {};
  const started = performance.now();
  try {
    ({ ctx, release } = await openCall(call, rt, "easybackend.v1.Chat/Ask"));
    const req = call.request;
    const events: AsyncIterable<AskEvent> = rt.deps.engine.ask({
      prompt: req.prompt ?? "",
      conversationId: wireId(req.conversationId),
      parentId: wireId(req.parentId),
      model: req.model || null,
      instructions: req.instructions || null,
    }, ctx);
    for await (const ev of events) {
      await writeMessage(call, toAskEventMessage(ev), ctx.signal);
      if (ev.type === "done") {
        ctx.logger.info("call done", {
          conversation: ev.conversationId,
          durationMs: Math.round(performance.now() - started),
          tokens: ev.usage?.totalTokens,
        });
      }
    }
    call.end();
  } catch (err) {
    const e = callError(err, ctx?.signal);
    logFailure(ctx, rt, e);
    call.emit("error", toGrpcStatus(e));
  } finally {
    release();
  }
}
