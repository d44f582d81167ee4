/**
 * Per-client limits as an Engine decorator, so every protocol enforces them the
 * same way: requests per minute per token and concurrent answers per token and
 * in total. A refused call throws ResourceExhausted (reason `rate_limited`,
 * with `retryAfterMs`) before anything is stored.
 * @module
 */

import { whenBodyEnds } from "../streams.ts";
import { AppError, Code } from "../errors.ts";
import type { CallContext, ChatEvent, ChatMessage } from "../providers/provider.ts";
import { ANONYMOUS } from "../store/store.ts";
import { tapStream } from "./tap.ts";
import type { AskEvent, AskInput, Engine } from "./types.ts";

/** Options of {@link limitEngine}. */
export interface LimitOptions {
  /** Requests per minute per client token; 0 is off. Not applied to the anonymous principal. */
  rateLimitRpm: number;
  /** Concurrent answers per client token; 0 is off. Not applied to the anonymous principal. */
  maxStreamsPerToken: number;
  /** Concurrent answers in total; 0 is off. */
  maxStreams: number;
  /** The clock, in epoch ms. @default Date.now */
  now?: () => number;
}

const WINDOW_MS = 60_000;

/** Counts requests per principal in a sliding one-minute window. */
class RateWindow {
  #hits = new Map<string, number[]>();
  constructor(readonly limit: number, readonly now: () => number) {}

  /** Records a hit, or returns how many ms to wait when the limit is reached. */
  take(principal: string): number | null {
    const t = this.now();
    const hits = (this.#hits.get(principal) ?? []).filter((h) => h > t - WINDOW_MS);
    if (hits.length >= this.limit) {
      this.#hits.set(principal, hits);
      return hits[0] + WINDOW_MS - t;
    }
    hits.push(t);
    this.#hits.set(principal, hits);
    return null;
  }
}

/** Wraps an engine so every call passes the limits first. */
export function limitEngine(engine: Engine, options: LimitOptions): Engine {
  const now = options.now ?? Date.now;
  const rate = options.rateLimitRpm > 0 ? new RateWindow(options.rateLimitRpm, now) : null;
  const active = new Map<string, number>();
  let total = 0;

  function admit(ctx: CallContext): void {
    if (ctx.principal === ANONYMOUS || rate === null) return;
    const wait = rate.take(ctx.principal);
    if (wait !== null) {
      throw new AppError(
        Code.ResourceExhausted,
        `Cannot accept the request: more than ${options.rateLimitRpm} requests per minute`,
        { reason: "rate_limited", retryAfterMs: wait },
      );
    }
  }

  function openStream(ctx: CallContext): () => void {
    const mine = active.get(ctx.principal) ?? 0;
    const perToken = ctx.principal !== ANONYMOUS && options.maxStreamsPerToken > 0;
    if (perToken && mine >= options.maxStreamsPerToken) {
      throw new AppError(
        Code.ResourceExhausted,
        `Cannot start the answer: ${options.maxStreamsPerToken} answers of this token are already streaming`,
        { reason: "rate_limited", retryAfterMs: 1000 },
      );
    }
    if (options.maxStreams > 0 && total >= options.maxStreams) {
      throw new AppError(
        Code.ResourceExhausted,
        "Cannot start the answer: the server is at its stream limit",
        {
          reason: "rate_limited",
          retryAfterMs: 1000,
        },
      );
    }
    active.set(ctx.principal, mine + 1);
    total++;
    let closed = false;
    return () => {
      if (closed) return;
      closed = true;
      total--;
      const left = (active.get(ctx.principal) ?? 1) - 1;
      if (left === 0) active.delete(ctx.principal);
      else active.set(ctx.principal, left);
    };
  }

  function guardStream<T>(ctx: CallContext, run: () => AsyncIterable<T>): AsyncIterable<T> {
    let release = () => {};
    return tapStream({
      open() {
        admit(ctx);
        release = openStream(ctx);
        try {
          return run();
        } catch (err) {
          release();
          throw err;
        }
      },
      end: () => release(),
    });
  }

  function guarded<A extends unknown[], R>(fn: (...args: A) => Promise<R>, ctxIndex: number) {
    return (...args: A): Promise<R> => {
      try {
        admit(args[ctxIndex] as CallContext);
      } catch (err) {
        return Promise.reject(err);
      }
      return fn(...args);
    };
  }

  return {
    ask: (input: AskInput, ctx: CallContext): AsyncIterable<AskEvent> =>
      guardStream(ctx, () => engine.ask(input, ctx)),
    chat: (
      req: { model?: string | null; messages: ChatMessage[] },
      ctx: CallContext,
    ): AsyncIterable<ChatEvent> => guardStream(ctx, () => engine.chat(req, ctx)),
    listConversations: guarded(engine.listConversations.bind(engine), 0),
    getConversation: guarded(engine.getConversation.bind(engine), 1),
    getMessages: guarded(engine.getMessages.bind(engine), 2),
    getMessage: guarded(engine.getMessage.bind(engine), 1),
    renameConversation: guarded(engine.renameConversation.bind(engine), 2),
    deleteConversation: guarded(engine.deleteConversation.bind(engine), 1),
    listModels: guarded(engine.listModels.bind(engine), 0),
    passThrough: engine.passThrough && {
      chatCompletions: async (body: Record<string, unknown>, ctx: CallContext) => {
        admit(ctx);
        const release = openStream(ctx);
        try {
          // Counted as a stream until its body ends, fails or is canceled.
          return whenBodyEnds(await engine.passThrough!.chatCompletions(body, ctx), release);
        } catch (err) {
          release();
          throw err;
        }
      },
    },
    defaultModel: engine.defaultModel,
  };
}
