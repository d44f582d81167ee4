/**
 * The context sent upstream: the path root → parent → new prompt, cut to the
 * token budget. The system message and the new prompt are never dropped; the
 * oldest turns go first, a whole turn (a user message with its answers) at a time.
 * @module
 */

import { AppError, Code } from "../errors.ts";
import type { ChatMessage } from "../providers/provider.ts";
import type { TokenCount } from "../store/store.ts";
import {
  type TokenCounter,
  tokenCounterFor,
  TOKENS_PER_MESSAGE,
  TOKENS_REPLY_PRIMING,
} from "../tokens.ts";

/** A stored message of the history, with its token count when the store has it. */
export interface HistoryMessage extends ChatMessage {
  /** The content's tokens as stored; recounted when absent or of another encoding. */
  tokens?: TokenCount | null;
}

/** Context windows by model-name prefix, most specific first. */
const WINDOWS: readonly [RegExp, number][] = [
  [/^gpt-4\.1/, 1_047_576],
  [/^(gpt-4o|chatgpt-4o|gpt-4\.5|gpt-5|o1|o3|o4)/, 128_000],
  [/^gpt-4-(turbo|\d{4}-preview|vision)/, 128_000],
  [/^gpt-4-32k/, 32_768],
  [/^gpt-4/, 8_192],
  [/^gpt-3\.5-turbo/, 16_385],
];

/** The window assumed for models not in the table. */
export const DEFAULT_WINDOW = 128_000;

/** Most tokens kept back for the reply. */
export const MAX_REPLY_RESERVE = 16_384;

/** The context window of a model, in tokens. */
export function contextWindow(model: string): number {
  const m = model.trim().toLowerCase().replace(/^ft:/, "");
  return WINDOWS.find(([re]) => re.test(m))?.[1] ?? DEFAULT_WINDOW;
}

/**
 * The prompt budget: `contextTokens` when it is set (> 0), else the model's
 * window minus a reserve for the reply of a quarter of the window, at most
 * {@link MAX_REPLY_RESERVE} (gpt-4: 6144, gpt-3.5-turbo: 12289, gpt-4o: 111616).
 */
export function promptBudget(model: string, contextTokens = 0): number {
  if (contextTokens > 0) return contextTokens;
  const window = contextWindow(model);
  return window - Math.min(MAX_REPLY_RESERVE, Math.floor(window / 4));
}

/** Options of {@link buildContext}. */
export interface BuildContextOptions {
  /** The model, for its encoding and window. */
  model: string;
  /** A fixed budget in tokens; 0 or absent: from the model. @default 0 */
  contextTokens?: number;
}

/** The context with its token count. */
export interface BuiltContext {
  messages: ChatMessage[];
  /** Prompt tokens as counted (message overhead and reply priming included). */
  tokens: number;
  /** How many earlier messages were dropped to fit. */
  dropped: number;
  /** The encoding the counts were made with. */
  encoding: string;
  /** The new prompt's content tokens (without the message overhead), to store with it. */
  promptTokens: number;
  /** The system message's content tokens, or null when there is none. */
  systemTokens: number | null;
}

/** The message as the upstream gets it: role and content, nothing of the store. */
function plain(m: HistoryMessage): ChatMessage {
  return m.tokens === undefined ? m : { role: m.role, content: m.content };
}

const roleTokens = new Map<string, number>();

/** One message's content tokens, from the stored count when it fits the encoding. */
function contentTokens(counter: TokenCounter, m: HistoryMessage): number {
  return m.tokens && m.tokens.encoding === counter.encoding
    ? m.tokens.count
    : counter.count(m.content);
}

/** One message's tokens, overhead included, given its content's tokens. */
function withOverhead(counter: TokenCounter, role: string, content: number): number {
  const key = `${counter.encoding}:${role}`;
  let tokens = roleTokens.get(key);
  if (tokens === undefined) roleTokens.set(key, tokens = counter.count(role));
  return TOKENS_PER_MESSAGE + tokens + content;
}

/** One message's tokens, overhead included, from the stored count when it fits the encoding. */
function messageTokens(counter: TokenCounter, m: HistoryMessage): number {
  return withOverhead(counter, m.role, contentTokens(counter, m));
}

/** Groups history into turns: a user message and what follows it up to the next user message. */
function turns(history: readonly HistoryMessage[]): HistoryMessage[][] {
  const out: HistoryMessage[][] = [];
  for (const m of history) {
    if (m.role === "user" || out.length === 0) out.push([m]);
    else out[out.length - 1].push(m);
  }
  return out;
}

/**
 * Builds the context for one ask.
 * @param history the stored path root → parent (system message first, if any)
 * @param prompt the new user message
 * @throws {AppError} InvalidArgument, reason context_length_exceeded, when even the
 *   system message and the prompt exceed the budget
 */
export async function buildContext(
  history: readonly HistoryMessage[],
  prompt: ChatMessage,
  options: BuildContextOptions,
): Promise<BuiltContext> {
  const counter = await tokenCounterFor(options.model);
  const budget = promptBudget(options.model, options.contextTokens ?? 0);
  const system = history.length > 0 && history[0].role === "system" ? history[0] : null;
  const rest = (system ? history.slice(1) : history).filter(
    // An empty reply (cut short before its first word) carries nothing for the model.
    (m) => !(m.role === "assistant" && m.content === ""),
  );
  // The prompt (and system message) are counted once here; the engine stores these counts.
  const systemTokens = system ? contentTokens(counter, system) : null;
  const promptTokens = counter.count(prompt.content);
  const fixedTokens = TOKENS_REPLY_PRIMING + withOverhead(counter, prompt.role, promptTokens) +
    (system ? withOverhead(counter, system.role, systemTokens!) : 0);
  if (fixedTokens > budget) {
    throw new AppError(
      Code.InvalidArgument,
      `Cannot build the context: the prompt${
        system ? " and system message" : ""
      } need ${fixedTokens} tokens, more than the budget of ${budget}`,
      { reason: "context_length_exceeded" },
    );
  }
  // Keep the newest turns that fit, walking back from the prompt.
  const groups = turns(rest);
  let tokens = fixedTokens;
  let first = groups.length;
  while (first > 0) {
    const cost = groups[first - 1].reduce((sum, m) => sum + messageTokens(counter, m), 0);
    if (tokens + cost > budget) break;
    tokens += cost;
    first--;
  }
  const kept = groups.slice(first).flat();
  return {
    messages: [...(system ? [system] : []), ...kept, prompt].map(plain),
    tokens,
    dropped: rest.length - kept.length,
    encoding: counter.encoding,
    promptTokens,
    systemTokens,
  };
}
