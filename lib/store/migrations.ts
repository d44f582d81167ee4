/**
 * The schema of the sqlite store, as numbered migrations. Each runs once, in
 * the transaction that opens the database, and bumps `schema_version`. Never
 * edit a migration that has shipped: append a new one.
 * @module
 */

import { AppError, Code } from "../errors.ts";
import type { Logger } from "../log.ts";

/** One schema step. */
export interface Migration {
  /** The schema version after this step; 1, 2, 3 … without gaps. */
  version: number;
  /** What it does, for the log. */
  description: string;
  /** The statements, run with `exec`. */
  sql: string;
}

/** Every migration, oldest first. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "conversations and messages",
    sql: `
      CREATE TABLE conversations (
        id           TEXT PRIMARY KEY,
        owner        TEXT NOT NULL,
        title        TEXT NOT NULL DEFAULT '',
        current_node TEXT,
        created_at   INTEGER NOT NULL,
        updated_at   INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX conversations_owner_updated ON conversations (owner, updated_at);

      CREATE TABLE messages (
        id                       TEXT PRIMARY KEY,
        conversation_id          TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
        parent_id                TEXT REFERENCES messages (id) DEFERRABLE INITIALLY DEFERRED,
        role                     TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
        content                  TEXT NOT NULL,
        model                    TEXT,
        status                   TEXT NOT NULL
                                   CHECK (status IN ('complete', 'incomplete', 'in_progress')),
        finish_reason            TEXT,
        prompt_tokens            INTEGER,
        completion_tokens        INTEGER,
        total_tokens             INTEGER,
        upstream_conversation_id TEXT,
        upstream_message_id      TEXT,
        depth                    INTEGER NOT NULL,
        created_at               INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX messages_conversation ON messages (conversation_id, created_at);
      CREATE INDEX messages_parent ON messages (parent_id);
      CREATE INDEX messages_in_progress ON messages (status) WHERE status = 'in_progress';
    `,
  },
  {
    version: 2,
    description: "each message's token count, so context building sums instead of recounting",
    sql: `
      ALTER TABLE messages ADD COLUMN content_tokens INTEGER;
      ALTER TABLE messages ADD COLUMN token_encoding TEXT;
    `,
  },
];

/** The newest schema version this build knows. */
export const LATEST_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;

/** The part of a sqlite connection that migrations use. */
export interface MigrationTarget {
  exec(sql: string): void;
  prepare(sql: string): {
    get(...params: number[]): Record<string, unknown> | undefined;
    run(...params: number[]): unknown;
  };
}

/**
 * Applies the missing migrations in one transaction and records each version.
 * @throws {AppError} FailedPrecondition when the database is newer than this build
 */
export function migrate(db: MigrationTarget, logger: Logger): void {
  db.exec("BEGIN IMMEDIATE");
  try {
    db.exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
    const row = db.prepare("SELECT max(version) AS v FROM schema_version").get() ?? {};
    const current = Number(row.v ?? 0);
    if (current > LATEST_VERSION) {
      throw new AppError(
        Code.FailedPrecondition,
        `Cannot open the database: its schema version ${current} is newer than ${LATEST_VERSION}`,
      );
    }
    for (const m of MIGRATIONS) {
      if (m.version <= current) continue;
      db.exec(m.sql);
      db.prepare("INSERT INTO schema_version (version) VALUES (?)").run(m.version);
      logger.info("store migrated", { version: m.version, description: m.description });
    }
    db.exec("COMMIT");
  } catch (err) {
    db.exec("ROLLBACK");
    throw err;
  }
}
