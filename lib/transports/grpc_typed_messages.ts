/**
 * Pure conversions from the engine's and store's types to the plain objects
 * proto-loader serialises as `easybackend.v1` messages (camelCase fields,
 * empty strings for absent ids, epoch milliseconds as numbers).
 * @module
 */

import type { AskEvent } from "../engine/types.ts";
import type { Usage } from "../providers/provider.ts";
import type { Conversation, Message } from "../store/store.ts";

/** `easybackend.v1.Usage`. */
export interface UsageMessage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
}

/** `easybackend.v1.AskEvent`: exactly one of the three is set. */
export type AskEventMessage =
  | {
    start: {
      conversationId: string;
      userMessageId: string;
      messageId: string;
      model: string;
    };
  }
  | { delta: { text: string } }
  | {
    done: {
      conversationId: string;
      messageId: string;
      model: string;
      finishReason: string;
      usage: UsageMessage | null;
    };
  };

/** `easybackend.v1.Conversation`. */
export interface ConversationMessage {
  id: string;
  title: string;
  currentNode: string;
  createdAt: number;
  updatedAt: number;
}

/** `easybackend.v1.Message`. */
export interface MessageMessage {
  id: string;
  conversationId: string;
  parentId: string;
  role: string;
  content: string;
  model: string;
  status: string;
  finishReason: string;
  usage: UsageMessage | null;
  depth: number;
  createdAt: number;
  children: string[];
}

/** The wire form of usage, or null when unknown. */
export function toUsageMessage(usage: Usage | null | undefined): UsageMessage | null {
  if (!usage) return null;
  return {
    promptTokens: usage.promptTokens,
    completionTokens: usage.completionTokens,
    totalTokens: usage.totalTokens,
  };
}

/** The wire form of one engine event. */
export function toAskEventMessage(ev: AskEvent): AskEventMessage {
  switch (ev.type) {
    case "start":
      return {
        start: {
          conversationId: ev.conversationId,
          userMessageId: ev.userMessageId,
          messageId: ev.messageId,
          model: ev.model,
        },
      };
    case "delta":
      return { delta: { text: ev.text } };
    case "done":
      return {
        done: {
          conversationId: ev.conversationId,
          messageId: ev.messageId,
          model: ev.model,
          finishReason: ev.finishReason,
          usage: toUsageMessage(ev.usage),
        },
      };
  }
}

/** The wire form of a conversation header. */
export function toConversationMessage(c: Conversation): ConversationMessage {
  return {
    id: c.id,
    title: c.title,
    currentNode: c.currentNode ?? "",
    createdAt: c.createdAt,
    updatedAt: c.updatedAt,
  };
}

/**
 * The wire form of messages; with `withChildren`, each carries the ids of the
 * messages that answer it (the tree's branches), else `children` is empty.
 */
export function toMessageMessages(messages: Message[], withChildren: boolean): MessageMessage[] {
  const children = new Map<string, string[]>();
  if (withChildren) {
    for (const m of messages) {
      if (m.parentId === null) continue;
      const list = children.get(m.parentId) ?? [];
      list.push(m.id);
      children.set(m.parentId, list);
    }
  }
  return messages.map((m) => ({
    id: m.id,
    conversationId: m.conversationId,
    parentId: m.parentId ?? "",
    role: m.role,
    content: m.content,
    model: m.model ?? "",
    status: m.status,
    finishReason: m.finishReason ?? "",
    usage: toUsageMessage(m.usage),
    depth: m.depth,
    createdAt: m.createdAt,
    children: children.get(m.id) ?? [],
  }));
}
