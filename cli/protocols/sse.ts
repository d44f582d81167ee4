/**
 * The streaming HTTP client: `POST /ask/{conversation_id}` with
 * `"stream": true`, read as Server-Sent Events (`delta`, then one `done` or one
 * `error`). Cancel aborts the request, so the server stops the upstream call.
 * @module
 */

import { AppError, Code } from "../../lib/errors.ts";
import { parseSSE } from "../../lib/sse/parse.ts";
import type { AnswerEvent, AskRequest, ChatClient } from "../client.ts";
import { answerFailure, canceled } from "../failure.ts";
import { askBody, askPath, type HttpClientOptions } from "./http.ts";
import { RestApi } from "./rest.ts";

/** A {@link ChatClient} over HTTP Server-Sent Events. */
export function createSseClient(options: HttpClientOptions): ChatClient {
  const api = new RestApi({
    baseUrl: options.url,
    token: options.token,
    httpClient: options.httpClient,
  });
  return {
    protocol: "sse",
    async *ask(req: AskRequest, signal: AbortSignal): AsyncGenerator<AnswerEvent> {
      try {
        const res = await api.request(askPath(req), {
          method: "POST",
          body: askBody(req, true),
          accept: "text/event-stream",
          signal,
        });
        if (!res.body) throw new AppError(Code.Internal, "Cannot read the answer: no body");
        for await (const event of parseSSE(res.body)) {
          const answer = toAnswerEvent(event.event, event.data);
          if (answer === null) continue;
          yield answer;
          if (answer.type === "done") return;
        }
      } catch (err) {
        if (signal.aborted) throw canceled();
        throw err;
      }
      throw new AppError(Code.Unavailable, "Cannot finish the answer: the stream ended early");
    },
    history: (cid, pid) => api.history(cid, pid),
    list: () => api.list(),
    close: () => Promise.resolve(),
  };
}

/**
 * One SSE event of `/ask` as an answer event; null for events this client
 * does not know (ignored, so the server may add some).
 * @throws {AppError} the server's failure on `event: error`
 */
export function toAnswerEvent(event: string, data: string): AnswerEvent | null {
  if (event === "delta") {
    const text = JSON.parse(data).text;
    return typeof text === "string" ? { type: "delta", text } : null;
  }
  if (event === "done") {
    const d = JSON.parse(data);
    return {
      type: "done",
      conversationId: String(d.conversation_id),
      parentId: String(d.parent_id),
      model: typeof d.model === "string" ? d.model : null,
      usage: d.usage ?? null,
    };
  }
  if (event === "error") {
    let d: Record<string, unknown> = {};
    try {
      const parsed = JSON.parse(data);
      if (typeof parsed === "object" && parsed !== null) d = parsed;
    } catch {
      // A malformed error event is still an error.
    }
    throw answerFailure(d);
  }
  return null;
}
