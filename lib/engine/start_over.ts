/**
 * A stateful upstream (the ChatGPT web backend) may forget a conversation
 * that our tree still has: it then refuses the upstream parent ids with
 * `FailedPrecondition`. The client's ids are fine and the whole path is in the
 * request anyway, so the call is made once more as a new upstream
 * conversation, and the answer's new upstream ids carry the branch on.
 * @module
 */

import { AppError, Code } from "../errors.ts";
import type { CallContext, ChatEvent, ChatRequest, Provider } from "../providers/provider.ts";

/** Whether an error says the upstream no longer knows the parent's conversation. */
function upstreamForgot(err: unknown): boolean {
  return err instanceof AppError && err.code === Code.FailedPrecondition;
}

/**
 * Streams one answer from a stateful provider; when the upstream refuses the
 * parent's upstream ids before anything was streamed, tries once more with
 * no upstream parent (the provider then sends the whole path).
 * @param provider the provider
 * @param req the call; `req.messages` holds the whole path, cut to the budget
 * @param ctx the call's context
 */
export async function* streamOrStartOver(
  provider: Provider,
  req: ChatRequest,
  ctx: CallContext,
): AsyncGenerator<ChatEvent> {
  let streamed = false;
  try {
    for await (const event of provider.stream(req, ctx)) {
      streamed = true;
      yield event;
    }
    return;
  } catch (err) {
    if (streamed || !req.upstreamParent || !upstreamForgot(err) || ctx.signal.aborted) throw err;
    ctx.logger.info("upstream conversation gone: starting a new one with the whole path", {
      messages: req.messages.length,
    });
  }
  yield* provider.stream({ ...req, upstreamParent: undefined }, ctx);
}
