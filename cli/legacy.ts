/**
 * The original project's in-band frames, as the client reads them: text
 * pieces, then `<|end|>$<conversation_id>$<parent_id>`, or `<|err|>$<reason>`
 * (what `--legacy` reads from `chat.Chat/Ask`).
 * @module
 */

/** One legacy frame. */
export type LegacyFrame =
  | { type: "text"; text: string }
  | { type: "end"; conversationId: string; parentId: string }
  | { type: "error"; reason: string };

const END = "<|end|>$";
const ERR = "<|err|>$";

/**
 * Parses one legacy frame. An end marker without both ids is read as text,
 * since a reply may well contain the marker's characters.
 * @param frame the text of one gRPC `response` or WebSocket message
 */
export function parseLegacyFrame(frame: string): LegacyFrame {
  if (frame.startsWith(ERR)) return { type: "error", reason: frame.slice(ERR.length) };
  if (frame.startsWith(END)) {
    const rest = frame.slice(END.length);
    const cut = rest.indexOf("$");
    if (cut > 0 && cut < rest.length - 1) {
      return { type: "end", conversationId: rest.slice(0, cut), parentId: rest.slice(cut + 1) };
    }
  }
  return { type: "text", text: frame };
}
