/**
 * The original project's in-band text, shared by its gRPC (`chat.Chat/Ask`)
 * and WebSocket (`<|ask|>$…`) protocols: how an id field reads, and the end
 * marker that hands the client its ids. (The failure marker `<|err|>$` is
 * `legacyError` in `wire_errors.ts`, beside the other error tables.)
 * @module
 */

/**
 * An id as the wire protocols send it: empty, blank or `new` (any case)
 * means none.
 * @param id the id field as received
 * @returns the trimmed id, or null
 */
export function wireId(id: string | null | undefined): string | null {
  const v = (id ?? "").trim();
  return v === "" || v.toLowerCase() === "new" ? null : v;
}

/**
 * The end marker `<|end|>$<conversation_id>$<parent_id>`.
 * @param conversationId the conversation of the answer
 * @param messageId the new assistant message: the parent of the next question
 */
export function legacyEnd(conversationId: string, messageId: string): string {
  return `<|end|>$${conversationId}$${messageId}`;
}
