/**
 * Logs and metrics as an Engine decorator, so every protocol is observed the
 * same way: one JSON log line per answer (request id, protocol, conversation,
 * outcome, duration, time to first token, tokens — never the text) and the
 * Prometheus series an operator needs.
 * @module
 */

import { AppError, codeName } from "../errors.ts";
import type { MetricsRegistry } from "../metrics.ts";
import type {
  CallContext,
  CallStats,
  ChatEvent,
  ChatMessage,
  Usage,
} from "../providers/provider.ts";
import { tapStream } from "./tap.ts";
import type { AskEvent, AskInput, Engine } from "./types.ts";

/** The series {@link observeEngine} records into. */
export interface EngineMetrics {
  record(outcome: {
    protocol: string;
    kind: "ask" | "chat";
    code: string;
    reason?: string;
    /** Whether the failure came from the upstream (not from the client or our limits). */
    upstream?: boolean;
    seconds: number;
    ttftSeconds: number | null;
    usage: Usage | null;
  }): void;
  streamsActive(protocol: string, delta: number): void;
}

/** Registers the engine's series in a registry. */
export function engineMetrics(registry: MetricsRegistry): EngineMetrics {
  const answers = registry.counter(
    "easybackend_answers_total",
    "Answers by protocol, kind and outcome code",
  );
  const latency = registry.histogram(
    "easybackend_answer_duration_seconds",
    "Whole answer duration",
  );
  const ttft = registry.histogram(
    "easybackend_time_to_first_token_seconds",
    "Time to the first token",
  );
  const upstreamErrors = registry.counter(
    "easybackend_upstream_errors_total",
    "Answers the upstream failed, by kind (upstream_error, upstream_auth, upstream_timeout, rate_limited …)",
  );
  const tokens = registry.counter(
    "easybackend_tokens_total",
    "Tokens by direction (prompt, completion)",
  );
  const active = registry.gauge("easybackend_active_streams", "Answers streaming now, by protocol");
  return {
    record(o) {
      answers.inc({ protocol: o.protocol, kind: o.kind, code: o.code });
      latency.observe({ protocol: o.protocol }, o.seconds);
      if (o.ttftSeconds !== null) ttft.observe({ protocol: o.protocol }, o.ttftSeconds);
      if (o.upstream) upstreamErrors.inc({ kind: o.reason ?? o.code });
      if (o.usage) {
        tokens.inc({ direction: "prompt" }, o.usage.promptTokens);
        tokens.inc({ direction: "completion" }, o.usage.completionTokens);
      }
    },
    streamsActive(protocol, delta) {
      active.inc({ protocol }, delta);
    },
  };
}

interface Outcome {
  code: string;
  reason?: string;
  upstream?: boolean;
}

function outcomeOf(err: unknown): Outcome {
  const e = AppError.from(err);
  const upstream = e.upstreamStatus !== undefined || e.reason?.startsWith("upstream_") === true;
  return { code: codeName(e.code), reason: e.reason, upstream };
}

/** Wraps an engine so every answer is logged once and counted. */
export function observeEngine(engine: Engine, metrics: EngineMetrics): Engine {
  function observe<T extends AskEvent | ChatEvent>(
    kind: "ask" | "chat",
    ctx: CallContext,
    run: (ctx: CallContext) => AsyncIterable<T>,
  ): AsyncIterable<T> {
    const protocol = ctx.protocol ?? "internal";
    const stats: CallStats = ctx.stats ?? { upstreamAttempts: 0 };
    let started = 0;
    let firstToken: number | null = null;
    let usage: Usage | null = null;
    let conversationId: string | undefined;
    let messageId: string | undefined;
    let outcome: Outcome = { code: "canceled" };
    // One pass-through iterator, not an async generator: this runs for every chunk.
    return tapStream<T>({
      open() {
        started = performance.now();
        metrics.streamsActive(protocol, 1);
        return run({ ...ctx, stats });
      },
      event(ev) {
        if (ev.type === "delta") {
          if (firstToken === null) firstToken = performance.now();
        } else if (ev.type === "start") {
          conversationId = ev.conversationId;
          messageId = ev.messageId;
        } else if (ev.type === "done") {
          usage = ev.usage ?? null;
          if ("messageId" in ev) messageId = ev.messageId;
          // The answer is stored complete: a consumer that stops here is not a cancel.
          outcome = { code: "ok" };
        }
      },
      end(how) {
        if (how.kind === "done") outcome = { code: "ok" };
        else if (how.kind === "error") outcome = outcomeOf(how.error);
        metrics.streamsActive(protocol, -1);
        const seconds = (performance.now() - started) / 1000;
        const ttftSeconds = firstToken === null ? null : (firstToken - started) / 1000;
        metrics.record({ protocol, kind, ...outcome, seconds, ttftSeconds, usage });
        const level = outcome.code === "ok" || outcome.code === "canceled" ? "info" : "warn";
        ctx.logger[level](kind === "ask" ? "answer" : "chat", {
          conversationId,
          messageId,
          status: outcome.code,
          reason: outcome.reason,
          durationMs: Math.round(seconds * 1000),
          ttftMs: ttftSeconds === null ? null : Math.round(ttftSeconds * 1000),
          upstreamAttempts: stats.upstreamAttempts,
          promptTokens: usage?.promptTokens,
          completionTokens: usage?.completionTokens,
        });
      },
    });
  }
  return {
    ...bindAll(engine),
    ask: (input: AskInput, ctx: CallContext) => observe("ask", ctx, (c) => engine.ask(input, c)),
    chat: (req: { model?: string | null; messages: ChatMessage[] }, ctx: CallContext) =>
      observe("chat", ctx, (c) => engine.chat(req, c)),
  };
}

function bindAll(engine: Engine): Engine {
  return {
    ask: engine.ask.bind(engine),
    chat: engine.chat.bind(engine),
    listConversations: engine.listConversations.bind(engine),
    getConversation: engine.getConversation.bind(engine),
    getMessages: engine.getMessages.bind(engine),
    getMessage: engine.getMessage.bind(engine),
    renameConversation: engine.renameConversation.bind(engine),
    deleteConversation: engine.deleteConversation.bind(engine),
    listModels: engine.listModels.bind(engine),
    passThrough: engine.passThrough,
    defaultModel: engine.defaultModel,
  };
}
