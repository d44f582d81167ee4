/**
 * Turns one running answer into the Responses API's wire forms: the event
 * sequence of a streamed response (UPSTREAMS.md §4), or the final Response
 * object of a non-streamed one.
 * @module
 */

import { AppError, Code } from "../errors.ts";
import type { CallContext, Usage } from "../providers/provider.ts";
import { logOpenAIError } from "./openai_errors.ts";
import {
  outputItem,
  outputItemId,
  outputTextPart,
  responseObject,
  type ResponseState,
  statusOfFinish,
} from "./openai_responses_object.ts";
import { jsonEvent } from "./openai_sse.ts";
import { codeName } from "./wire_errors.ts";

/** What an answer streams, whether from `engine.ask` or `engine.chat`. */
export type AnswerEvent =
  | { type: "delta"; text: string }
  | { type: "done"; model: string; finishReason: string; usage: Usage | null };

/** An answer that has started: its response state, first event and the rest. */
export interface RunningAnswer {
  state: ResponseState;
  first: IteratorResult<AnswerEvent>;
  events: AsyncIterator<AnswerEvent>;
}

function applyDone(state: ResponseState, done: Extract<AnswerEvent, { type: "done" }>): void {
  const { status, incompleteReason } = statusOfFinish(done.finishReason);
  state.status = status;
  state.incompleteReason = incompleteReason;
  state.model = done.model;
  state.usage = done.usage;
}

function endedEarly(): AppError {
  return new AppError(Code.Internal, "Cannot finish the answer: the stream ended without its end");
}

/** Waits for the whole answer and returns the final Response object. */
export async function collectResponse(run: RunningAnswer): Promise<Record<string, unknown>> {
  const { state } = run;
  try {
    for (let next = run.first; !next.done; next = await run.events.next()) {
      const event = next.value;
      if (event.type === "delta") {
        state.text += event.text;
        continue;
      }
      applyDone(state, event);
      return responseObject(state);
    }
    throw endedEarly();
  } finally {
    // Also after the end: the engine's generators then run their `finally`
    // (the answer's log line and metrics, the stream slot).
    await run.events.return?.();
  }
}

/**
 * The streamed event sequence: `response.created`, `response.in_progress`,
 * `response.output_item.added`, `response.content_part.added`, the
 * `response.output_text.delta`s, `response.output_text.done`,
 * `response.content_part.done`, `response.output_item.done`, then
 * `response.completed` (or `response.incomplete`). A failure ends it with
 * `response.failed` carrying `{code, message}`, never with a completion.
 * Each event has both an `event:` line and its `type`, and an increasing
 * `sequence_number`.
 */
export async function* streamResponse(
  run: RunningAnswer,
  ctx: CallContext,
): AsyncGenerator<string, void, undefined> {
  const { state } = run;
  let sequence = 0;
  function emit(type: string, fields: Record<string, unknown>): string {
    return jsonEvent({ type, sequence_number: sequence++, ...fields }, type);
  }
  const at = { "item_id": outputItemId(state.id), "output_index": 0, "content_index": 0 };
  try {
    yield emit("response.created", { response: responseObject(state) });
    yield emit("response.in_progress", { response: responseObject(state) });
    yield emit("response.output_item.added", { output_index: 0, item: outputItem(state, false) });
    yield emit("response.content_part.added", { ...at, part: outputTextPart("") });
    for (let next = run.first; !next.done; next = await run.events.next()) {
      const event = next.value;
      if (event.type === "delta") {
        if (event.text === "") continue;
        state.text += event.text;
        yield emit("response.output_text.delta", { ...at, delta: event.text, logprobs: [] });
        continue;
      }
      applyDone(state, event);
      yield emit("response.output_text.done", { ...at, text: state.text, logprobs: [] });
      yield emit("response.content_part.done", { ...at, part: outputTextPart(state.text) });
      yield emit("response.output_item.done", { output_index: 0, item: outputItem(state, true) });
      const last = state.status === "completed" ? "response.completed" : "response.incomplete";
      yield emit(last, { response: responseObject(state) });
      return;
    }
    throw endedEarly();
  } catch (err) {
    const error = logOpenAIError(err, ctx);
    state.status = "failed";
    state.error = { code: error.reason ?? codeName(error.code), message: error.message };
    yield emit("response.failed", { response: responseObject(state) });
  } finally {
    // Also after the end: the engine's generators then run their `finally`
    // (the answer's log line and metrics, the stream slot).
    await run.events.return?.();
  }
}
