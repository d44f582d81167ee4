/**
 * The conversation routes and their ChatGPT-like wire shapes: the list, the
 * tree (`mapping` of nodes with `parent`/`children`, and `current_node`), the
 * path to a message, rename and delete.
 * @module
 */

import { AppError, Code } from "../errors.ts";
import type { Engine } from "../engine/types.ts";
import type { CallContext } from "../providers/provider.ts";
import type { Conversation, Message } from "../store/store.ts";
import { wireUsage } from "./http_sse.ts";
import { finishDetails } from "./http_ask.ts";

/** Epoch milliseconds as ChatGPT's float seconds. */
function seconds(ms: number): number {
  return ms / 1000;
}

/** A conversation header on the wire. */
export function wireConversation(c: Conversation): Record<string, unknown> {
  return {
    id: c.id,
    title: c.title,
    create_time: seconds(c.createdAt),
    update_time: seconds(c.updatedAt),
    current_node: c.currentNode,
  };
}

/** A message on the wire, shaped like ChatGPT's. */
export function wireMessage(m: Message): Record<string, unknown> {
  return {
    id: m.id,
    author: { role: m.role },
    content: { content_type: "text", parts: [m.content] },
    status: m.status,
    create_time: seconds(m.createdAt),
    metadata: {
      model_slug: m.model,
      finish_details: m.finishReason ? finishDetails(m.finishReason) : null,
      usage: wireUsage(m.usage),
      parent_id: m.parentId,
    },
  };
}

/** The tree of a conversation as ChatGPT's `mapping`. */
export function wireTree(c: Conversation, messages: Message[]): Record<string, unknown> {
  const mapping: Record<string, { id: string; parent: string | null; children: string[] }> = {};
  const nodes: Record<string, Record<string, unknown>> = {};
  for (const m of messages) {
    mapping[m.id] = { id: m.id, parent: m.parentId, children: [] };
  }
  for (const m of messages) {
    if (m.parentId !== null && mapping[m.parentId]) mapping[m.parentId].children.push(m.id);
  }
  for (const m of messages) nodes[m.id] = { ...mapping[m.id], message: wireMessage(m) };
  return { ...wireConversation(c), mapping: nodes };
}

function parseLimit(value: string | null): number | undefined {
  if (value === null || value === "") return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 1000) {
    throw new AppError(
      Code.InvalidArgument,
      `Cannot list conversations: limit must be a whole number from 1 to 1000, got ${
        JSON.stringify(value)
      }`,
    );
  }
  return Number(value);
}

function parseBefore(value: string | null): number | undefined {
  if (value === null || value === "") return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) {
    throw new AppError(
      Code.InvalidArgument,
      `Cannot list conversations: before must be a time in seconds (an update_time), got ${
        JSON.stringify(value)
      }`,
    );
  }
  return Math.round(n * 1000);
}

/** `GET /conversations?limit=&before=`: newest first; page with the last item's `update_time`. */
export async function listConversations(
  url: URL,
  ctx: CallContext,
  engine: Engine,
): Promise<Record<string, unknown>> {
  const limit = parseLimit(url.searchParams.get("limit"));
  const before = parseBefore(url.searchParams.get("before"));
  const items = await engine.listConversations(ctx, { limit, before });
  return { items: items.map(wireConversation), limit: limit ?? 50 };
}

/** `GET /conversations/{id}`. */
export async function getConversationTree(
  id: string,
  ctx: CallContext,
  engine: Engine,
): Promise<Record<string, unknown>> {
  const tree = await engine.getConversation(id, ctx);
  return wireTree(tree.conversation, tree.messages);
}

/** `GET /conversations/{id}/messages?parent_id=`: the path root → message. */
export async function getConversationPath(
  id: string,
  url: URL,
  ctx: CallContext,
  engine: Engine,
): Promise<Record<string, unknown>> {
  const parentId = url.searchParams.get("parent_id") || null;
  const messages = await engine.getMessages(id, parentId, ctx);
  return {
    conversation_id: id,
    parent_id: messages.at(-1)?.id ?? null,
    messages: messages.map((m) => ({ ...wireMessage(m), parent: m.parentId })),
  };
}

/**
 * `PATCH /conversations/{id}` with `{"title"}`.
 * @throws {AppError} InvalidArgument when the title is not a non-empty string
 */
export async function renameConversation(
  id: string,
  body: unknown,
  ctx: CallContext,
  engine: Engine,
): Promise<Record<string, unknown>> {
  const title = (body as Record<string, unknown> | null)?.title;
  if (typeof body !== "object" || body === null || typeof title !== "string") {
    throw new AppError(
      Code.InvalidArgument,
      'Cannot rename the conversation: the body must be {"title": "<text>"}',
    );
  }
  if (title.trim() === "" || title.length > 1000) {
    throw new AppError(
      Code.InvalidArgument,
      "Cannot rename the conversation: the title must have 1 to 1000 characters",
    );
  }
  return wireConversation(await engine.renameConversation(id, title.trim(), ctx));
}

/** `DELETE /conversations/{id}`. */
export async function deleteConversation(
  id: string,
  ctx: CallContext,
  engine: Engine,
): Promise<Record<string, unknown>> {
  await engine.deleteConversation(id, ctx);
  return { id, deleted: true };
}
