/**
 * gRPC load clients (@grpc/grpc-js): the original `chat.Chat/Ask` and the
 * typed `easybackend.v1.Chat/Ask`. Workers share a few channels, as a real
 * client multiplexes streams over HTTP/2.
 * @module
 */

import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { fileURLToPath } from "node:url";
import type { AskOnce, ClientTarget, LoadClient } from "./clients_http.ts";

/** Streams per channel before another channel is opened. */
const STREAMS_PER_CHANNEL = 32;

type StreamCall = grpc.ClientReadableStream<Record<string, unknown>>;
type AskFn = (req: Record<string, unknown>) => StreamCall;

function loadPackage(): grpc.GrpcObject {
  const protoDir = fileURLToPath(new URL("../proto/", import.meta.url));
  const def = protoLoader.loadSync(["chat.proto", "easybackend/v1/chat.proto"], {
    includeDirs: [protoDir],
    keepCase: false,
    longs: Number,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  return grpc.loadPackageDefinition(def);
}

function grpcClient(
  t: ClientTarget,
  concurrency: number,
  pick: (pkg: grpc.GrpcObject) => grpc.ServiceClientConstructor,
  request: Record<string, unknown>,
  onData: (msg: Record<string, unknown>) => string | "end" | Error,
): LoadClient {
  const Ctor = pick(loadPackage());
  const count = Math.max(1, Math.ceil(concurrency / STREAMS_PER_CHANNEL));
  const clients = Array.from(
    { length: count },
    () => new Ctor(`${t.host}:${t.port}`, grpc.credentials.createInsecure()),
  );
  let next = 0;
  return {
    worker() {
      const client = clients[next++ % clients.length];
      const askFn = (client as unknown as { Ask: AskFn }).Ask.bind(client);
      const ask: AskOnce = (probe, signal) =>
        new Promise<void>((resolve, reject) => {
          const call = askFn(request);
          let settled = false;
          const settle = (err: Error | null) => {
            if (settled) return;
            settled = true;
            signal.removeEventListener("abort", onAbort);
            if (err) reject(err);
            else resolve();
          };
          const onAbort = () => {
            call.cancel();
            settle(new Error("timeout"));
          };
          signal.addEventListener("abort", onAbort, { once: true });
          call.on("data", (msg: Record<string, unknown>) => {
            const out = onData(msg);
            if (out === "end") {
              probe.done();
              settle(null);
            } else if (out instanceof Error) settle(out);
            else if (out !== "") probe.text(out);
          });
          call.on("error", (err: Error) => settle(err));
          call.on("end", () => settle(new Error("stream ended without its end mark")));
        });
      return Promise.resolve({ ask, close() {} });
    },
    close() {
      for (const c of clients) c.close();
    },
  };
}

/** `chat.Chat/Ask`: text pieces, then `<|end|>$…`; the shape rides in the prompt. */
export function grpcLegacy(t: ClientTarget, concurrency: number): LoadClient {
  return grpcClient(
    t,
    concurrency,
    (pkg) => (pkg.chat as grpc.GrpcObject).Chat as grpc.ServiceClientConstructor,
    { prompt: t.shape, conversationId: "", parentId: "" },
    (msg) => {
      const text = String(msg.response ?? "");
      if (text.startsWith("<|end|>")) return "end";
      if (text.startsWith("<|err|>")) return new Error("legacy error message");
      return text;
    },
  );
}

/** `easybackend.v1.Chat/Ask`: Start, Delta …, Done. */
export function grpcTyped(t: ClientTarget, concurrency: number): LoadClient {
  return grpcClient(
    t,
    concurrency,
    (pkg) =>
      ((pkg.easybackend as grpc.GrpcObject).v1 as grpc.GrpcObject)
        .Chat as grpc.ServiceClientConstructor,
    { prompt: t.shape, conversationId: "new", parentId: "", model: t.shape },
    (msg) => {
      if (msg.event === "delta") return String((msg.delta as { text?: string }).text ?? "");
      if (msg.event === "done") return "end";
      return "";
    },
  );
}
