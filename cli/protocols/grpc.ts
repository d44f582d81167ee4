/**
 * The gRPC client. By default it asks the typed `easybackend.v1.Chat` service
 * (typed events, real status codes, `GetMessages` and `ListConversations`);
 * with `legacy` it asks the original `chat.Chat/Ask`, whose stream ends with
 * `<|end|>$cid$pid` or `<|err|>$reason`. Ctrl-C cancels the call, which the
 * server sees as `cancelled` and which stops the upstream call.
 * @module
 */

import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { Buffer } from "node:buffer";
import { fileURLToPath } from "node:url";
import { AppError, Code } from "../../lib/errors.ts";
import type { AnswerEvent, AskRequest, ChatClient, HistoryMessage } from "../client.ts";
import { canceled, serverFailure, unreachable } from "../failure.ts";
import { parseLegacyFrame } from "../legacy.ts";
import { AsyncQueue } from "./queue.ts";

/** Options of {@link createGrpcClient}. */
export interface GrpcClientOptions {
  /** `host:port`, or with a scheme: `grpcs://` / `https://` mean TLS. */
  url: string;
  token: string | null;
  /** PEM text of a certificate authority to trust; implies TLS. */
  caPem?: string | null;
  /** Ask the original `chat.Chat/Ask` instead of the typed service. */
  legacy?: boolean;
}

const PROTO_DIR = fileURLToPath(new URL("../../proto/", import.meta.url));

type Stub = grpc.Client & Record<string, (...args: unknown[]) => unknown>;

/** The address and transport security of a `--url`. */
export function grpcTarget(url: string, caPem?: string | null): { address: string; tls: boolean } {
  const m = /^([a-z]+):\/\/(.*?)\/*$/i.exec(url);
  const scheme = m?.[1].toLowerCase() ?? "";
  const address = m ? m[2] : url;
  return { address, tls: scheme === "grpcs" || scheme === "https" || Boolean(caPem) };
}

/** A {@link ChatClient} over gRPC. */
export function createGrpcClient(options: GrpcClientOptions): ChatClient {
  const defs = protoLoader.loadSync(["chat.proto", "easybackend/v1/chat.proto"], {
    includeDirs: [PROTO_DIR],
    keepCase: true,
    longs: Number,
    defaults: true,
    oneofs: true,
  });
  // deno-lint-ignore no-explicit-any
  const pkg = grpc.loadPackageDefinition(defs) as any;
  const { address, tls } = grpcTarget(options.url, options.caPem);
  const creds = tls
    ? grpc.credentials.createSsl(
      options.caPem ? Buffer.from(options.caPem) : null,
    )
    : grpc.credentials.createInsecure();
  const typed: Stub = new pkg.easybackend.v1.Chat(address, creds);
  const legacy: Stub | null = options.legacy ? new pkg.chat.Chat(address, creds) : null;

  function metadata(): grpc.Metadata {
    const md = new grpc.Metadata();
    if (options.token) md.set("authorization", `Bearer ${options.token}`);
    return md;
  }

  function failure(err: grpc.ServiceError): AppError {
    if (err.code === grpc.status.UNAVAILABLE && !/shut|upstream/i.test(err.details ?? "")) {
      return unreachable(address, err);
    }
    return serverFailure(err.code as number as Code, err.details ?? "", {
      status: grpc.status[err.code] ?? String(err.code),
    });
  }

  function unary<T>(method: string, request: unknown): Promise<T> {
    return new Promise((resolve, reject) => {
      typed[method](request, metadata(), (err: grpc.ServiceError | null, res: T) => {
        if (err) reject(failure(err));
        else resolve(res);
      });
    });
  }

  return {
    protocol: "grpc",
    async *ask(req: AskRequest, signal: AbortSignal): AsyncGenerator<AnswerEvent> {
      const request = {
        prompt: req.prompt,
        "conversation_id": req.conversationId ?? "",
        "parent_id": req.parentId ?? "",
        model: req.model ?? "",
      };
      const stub = legacy ?? typed;
      const call = stub.Ask(request, metadata()) as grpc.ClientReadableStream<
        Record<string, unknown>
      >;
      const queue = new AsyncQueue<Record<string, unknown>>();
      call.on("data", (m: Record<string, unknown>) => queue.push(m));
      call.on("error", (err: grpc.ServiceError) => {
        queue.fail(signal.aborted ? canceled() : failure(err));
      });
      call.on("end", () => queue.end());
      const onAbort = () => call.cancel();
      signal.addEventListener("abort", onAbort, { once: true });
      try {
        for await (const message of queue) {
          const event = legacy ? fromLegacy(message) : fromTyped(message);
          if (event === null) continue;
          yield event;
          if (event.type === "done") return;
        }
        if (signal.aborted) throw canceled();
        throw new AppError(Code.Unavailable, "Cannot finish the answer: the stream ended early");
      } finally {
        signal.removeEventListener("abort", onAbort);
        call.cancel();
      }
    },
    async history(cid: string, pid: string | null): Promise<HistoryMessage[]> {
      const res = await unary<{ messages: Record<string, unknown>[] }>("GetMessages", {
        "conversation_id": cid,
        "message_id": pid ?? "",
      });
      return res.messages.map((m) => ({
        id: String(m.id),
        role: String(m.role),
        content: String(m.content),
      }));
    },
    async list() {
      const res = await unary<{ conversations: Record<string, unknown>[] }>(
        "ListConversations",
        { limit: 0, before: 0 },
      );
      return res.conversations.map((c) => ({
        id: String(c.id),
        title: String(c.title),
        updatedAt: c.updated_at ? new Date(Number(c.updated_at)).toISOString() : null,
      }));
    },
    close() {
      typed.close();
      legacy?.close();
      return Promise.resolve();
    },
  };
}

function fromTyped(message: Record<string, unknown>): AnswerEvent | null {
  const kind = message.event;
  if (kind === "delta") {
    const delta = message.delta as { text: string };
    return { type: "delta", text: delta.text };
  }
  if (kind === "done") {
    const done = message.done as Record<string, unknown>;
    return {
      type: "done",
      conversationId: String(done.conversation_id),
      parentId: String(done.message_id),
      model: done.model ? String(done.model) : null,
      usage: done.usage ?? null,
    };
  }
  return null;
}

function fromLegacy(message: Record<string, unknown>): AnswerEvent | null {
  const frame = parseLegacyFrame(String(message.response ?? ""));
  if (frame.type === "error") {
    throw new AppError(Code.Unknown, frame.reason || "Cannot finish the answer: the server failed");
  }
  if (frame.type === "end") {
    return {
      type: "done",
      conversationId: frame.conversationId,
      parentId: frame.parentId,
      model: null,
      usage: null,
    };
  }
  return frame.text === "" ? null : { type: "delta", text: frame.text };
}
