/**
 * A small stack for the OpenAI-API tests: the real sqlite store in a temp dir,
 * the real engine over a real provider (echo, or the OpenAI provider pointed
 * at the loopback fake), and `handleOpenAI` served on 127.0.0.1, so the
 * official `openai` SDK can talk to it.
 * @module
 */

import OpenAI from "openai";
import { createEngine } from "../../lib/engine/engine.ts";
import type { Engine } from "../../lib/engine/types.ts";
import { silentLogger } from "../../lib/log.ts";
import { EchoProvider } from "../../lib/providers/echo/client.ts";
import { OpenAIProvider } from "../../lib/providers/openai/client.ts";
import { KeyPool } from "../../lib/providers/pool.ts";
import type { Provider } from "../../lib/providers/provider.ts";
import { openSqliteStore } from "../../lib/store/sqlite.ts";
import type { ConversationStore } from "../../lib/store/store.ts";
import { ANONYMOUS } from "../../lib/store/store.ts";
import { createCallContext } from "../../lib/transports/context.ts";
import { handleOpenAI } from "../../lib/transports/openai_api.ts";
import { type OpenAIFake, startOpenAIFake } from "../_fakes/openai_upstream.ts";

/** The upstream key the provider holds; a client must never see it. */
export const UPSTREAM_KEY = "sk-upstream-secret-0001";

/** A running stack. */
export interface OpenAIStack {
  /** Base URL of our server including `/v1`, for the SDK's `baseURL`. */
  baseURL: string;
  engine: Engine;
  /** The fake upstream, when the stack runs the OpenAI provider. */
  fake: OpenAIFake | null;
  /** An SDK client pointed at us (no retries, so failures show at once). */
  client: OpenAI;
  close(): Promise<void>;
}

/** Options of {@link startStack}. */
export interface StackOptions {
  /** "echo" (synthesized formats) or "openai" (the fake upstream). @default "echo" */
  provider?: "echo" | "openai";
  /** Milliseconds between echo words. @default 0 */
  echoDelayMs?: number;
  systemPrompt?: string;
}

/** Starts store, engine, provider and a server that routes `/v1/*` to handleOpenAI. */
export async function startStack(options: StackOptions = {}): Promise<OpenAIStack> {
  const dir = await Deno.makeTempDir({ prefix: "easybackend-openai-" });
  const store: ConversationStore = await openSqliteStore(dir);
  let fake: OpenAIFake | null = null;
  let provider: Provider;
  if (options.provider === "openai") {
    fake = await startOpenAIFake();
    const pool = new KeyPool({
      keys: [UPSTREAM_KEY],
      attempts: 2,
      firstTokenTimeoutMs: 5000,
      idleTimeoutMs: 5000,
      logger: silentLogger,
      baseDelayMs: 1,
      maxDelayMs: 5,
    });
    provider = new OpenAIProvider({
      baseUrl: fake.url,
      model: "gpt-4o-mini",
      pool,
      logger: silentLogger,
    });
  } else {
    provider = new EchoProvider({ delayMs: options.echoDelayMs ?? 0 });
  }
  const engine = createEngine({
    store,
    provider,
    logger: silentLogger,
    systemPrompt: options.systemPrompt,
  });
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (req) => {
      const ctx = createCallContext({
        protocol: "http",
        principal: ANONYMOUS,
        logger: silentLogger,
        signals: [req.signal],
      });
      return handleOpenAI(req, new URL(req.url), ctx, engine) ??
        new Response("not mine", { status: 404 });
    },
  );
  const baseURL = `http://127.0.0.1:${server.addr.port}/v1`;
  const client = new OpenAI({ baseURL, apiKey: "eb-client-token", maxRetries: 0 });
  return {
    baseURL,
    engine,
    fake,
    client,
    async close() {
      await server.shutdown();
      await fake?.close();
      await store.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** The `messages` of a request the fake upstream recorded. */
export function sentMessages(fake: OpenAIFake, index: number): { role: string; content: string }[] {
  const body = fake.requests[index].body as { messages: { role: string; content: string }[] };
  return body.messages.map((m) => ({ role: m.role, content: m.content }));
}
