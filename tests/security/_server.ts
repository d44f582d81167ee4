/**
 * The security tests' fixture: `main.ts` as a child process in front of the
 * fake OpenAI upstream, plus read-only looks into its sqlite database, so a
 * test can check that a refused request left nothing behind.
 * @module
 */

import { DatabaseSync } from "node:sqlite";
import { type OpenAIFake, startOpenAIFake } from "../_fakes/openai_upstream.ts";
import { type ServerProcess, startServer } from "../_helpers/server_process.ts";
import type { Target } from "./_clients.ts";

/** A distinctive upstream key, grepped for in everything a client or the log saw. */
export const UPSTREAM_KEY = "sk-live-SECRET-upstream-key-7f3a9c1e5b";

/** A running server, its fake upstream, and how to reach and inspect it. */
export interface SecureServer extends AsyncDisposable {
  server: ServerProcess;
  fake: OpenAIFake;
  target: Target;
  /** Rows of one SQL query on the server's database (read-only). */
  query(sql: string, ...params: (string | number)[]): Record<string, unknown>[];
  /** How many messages of a role the database holds. */
  count(role: "user" | "assistant" | "system"): number;
}

/** Options of {@link startSecureServer}. */
export interface SecureServerOptions {
  env?: Record<string, string>;
  /** Hand a fake upstream already started (it is closed on dispose). */
  fake?: OpenAIFake;
}

/** Starts the fake upstream and `main.ts` with the openai provider pointed at it. */
export async function startSecureServer(options: SecureServerOptions = {}): Promise<SecureServer> {
  const fake = options.fake ?? await startOpenAIFake();
  let server: ServerProcess;
  try {
    server = await startServer({
      env: { API_KEY: UPSTREAM_KEY, PROVIDER: "openai", API_BASE_URL: fake.url, ...options.env },
    });
  } catch (err) {
    await fake.close();
    throw err;
  }
  const host = "127.0.0.1";
  const query = (sql: string, ...params: (string | number)[]) => {
    const db = new DatabaseSync(`${server.dataDir}/easybackend.db`, { readOnly: true });
    try {
      return db.prepare(sql).all(...params) as Record<string, unknown>[];
    } finally {
      db.close();
    }
  };
  return {
    server,
    fake,
    target: {
      httpUrl: server.httpUrl,
      wsUrl: `ws://${host}:${server.wsPort}`,
      grpcAddress: `${host}:${server.grpcPort}`,
    },
    query,
    count: (role) => Number(query("SELECT count(*) AS n FROM messages WHERE role = ?", role)[0].n),
    async [Symbol.asyncDispose]() {
      await server.stop();
      await fake.close();
    },
  };
}
