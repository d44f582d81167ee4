/**
 * Client authentication: with `AUTH_TOKENS` set, a call must carry one of the
 * tokens, compared in constant time. The principal a token maps to is a hash
 * of it, never the token itself, so the store never holds a token.
 * @module
 */

import { AppError, Code } from "../errors.ts";
import { ANONYMOUS } from "../store/store.ts";

/** Checks bearer tokens and maps them to owner principals. */
export class Authenticator {
  #tokens: Uint8Array[];
  #principals = new Map<string, string>();

  /** @param tokens the accepted client tokens; none means the server is open */
  constructor(tokens: readonly string[]) {
    const enc = new TextEncoder();
    this.#tokens = tokens.map((t) => enc.encode(t));
  }

  /** Whether the server demands a token. */
  get required(): boolean {
    return this.#tokens.length > 0;
  }

  /**
   * The principal of a call: {@link ANONYMOUS} when the server is open, else
   * `tok_<sha-256 prefix>` of the matching token.
   * @throws {AppError} Unauthenticated when the token is missing or wrong
   */
  async principal(token: string | null | undefined): Promise<string> {
    if (!this.required) return ANONYMOUS;
    if (!token) {
      throw new AppError(Code.Unauthenticated, "Cannot authenticate the call: no bearer token");
    }
    const candidate = new TextEncoder().encode(token);
    let match = false;
    for (const t of this.#tokens) match = constantTimeEqual(t, candidate) || match;
    if (!match) {
      throw new AppError(
        Code.Unauthenticated,
        "Cannot authenticate the call: the token is not valid",
      );
    }
    const cached = this.#principals.get(token);
    if (cached) return cached;
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", candidate));
    const hex = Array.from(digest.slice(0, 16), (b) => b.toString(16).padStart(2, "0")).join("");
    const principal = `tok_${hex}`;
    this.#principals.set(token, principal);
    return principal;
  }
}

/** The token of an `Authorization: Bearer …` header value, or null. */
export function bearerToken(header: string | null | undefined): string | null {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  return m ? m[1] : null;
}

function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ (b[i % (b.length || 1)] ?? 0);
  return diff === 0;
}
