/**
 * The worker that checkpoints the store's WAL ({@link Checkpointer}), with its
 * own connection to the database file, so that the copying of WAL pages into
 * the database and the fsyncs around it never run on the event loop's thread.
 *
 * Each `checkpoint` message runs a PASSIVE checkpoint (the bulk of the pages,
 * without blocking the writer), then a RESTART one: it waits (the busy
 * timeout) for the writer's open transaction to commit, copies the frames
 * committed meanwhile, and lets the next write start the WAL from its
 * beginning, so the file does not grow under constant writes.
 * @module
 */

/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />

import { DatabaseSync } from "node:sqlite";
import type { CheckpointReply, CheckpointRequest } from "./checkpointer.ts";

let db: DatabaseSync | null = null;

interface CheckpointRow {
  busy: number;
  log: number;
  checkpointed: number;
}

/**
 * Makes the first write after the checkpoint here: the write that restarts
 * the WAL also rewrites its header and fsyncs it (sqlite needs that order),
 * which would otherwise be the event loop's next commit. It writes the
 * database header's `application_id` back with its own value, which changes
 * nothing but dirties one page. If the writer comes first, it restarts the
 * WAL itself, as sqlite always does.
 */
function restartHere(db: DatabaseSync): void {
  try {
    db.exec("BEGIN IMMEDIATE");
  } catch {
    // The lock was taken again past the busy timeout (another process's write):
    // the writer restarts the WAL itself. Not a reason to stop checkpointing.
    return;
  }
  try {
    const { application_id: id } = db.prepare("PRAGMA application_id").get() as {
      application_id: number;
    };
    db.exec(`PRAGMA application_id = ${Math.trunc(Number(id))}`);
    db.exec("COMMIT");
  } catch (err) {
    db.exec("ROLLBACK");
    throw err;
  }
}

function reply(message: CheckpointReply): void {
  self.postMessage(message);
}

self.onmessage = (e: MessageEvent<CheckpointRequest>) => {
  const request = e.data;
  if (request.type === "close") {
    try {
      db?.close();
    } finally {
      db = null;
      reply({ type: "closed" });
    }
    return;
  }
  try {
    if (db === null) {
      db = new DatabaseSync(request.file, { timeout: request.busyTimeoutMs });
      // As the writer's: a commit here (restartHere) syncs only the WAL header it must.
      db.exec("PRAGMA synchronous = NORMAL");
    }
    const started = performance.now();
    db.prepare("PRAGMA wal_checkpoint(PASSIVE)").get();
    const row = db.prepare("PRAGMA wal_checkpoint(RESTART)").get() as unknown as CheckpointRow;
    if (row.busy === 0) restartHere(db);
    reply({
      type: "checkpointed",
      busy: row.busy !== 0,
      frames: row.log,
      copied: row.checkpointed,
      ms: performance.now() - started,
    });
  } catch (err) {
    reply({ type: "failed", error: err instanceof Error ? err.message : String(err) });
  }
};
