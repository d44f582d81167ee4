/**
 * The "delta encoding v1" of the ChatGPT web backend: ops `{p, o, v, c?}` that
 * edit one JSON document per channel. `p` (a JSON Pointer) and `o` are sticky:
 * a bare `{"v": "…"}` repeats the previous path and op, normally appending a
 * token to `/message/content/parts/0`.
 * @module
 */

/** One op as it arrives. */
export interface DeltaOp {
  p?: string;
  o?: string;
  v?: unknown;
  c?: number;
}

type Json = Record<string, unknown> | unknown[];

function isContainer(value: unknown): value is Json {
  return typeof value === "object" && value !== null;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return isContainer(value) && !Array.isArray(value);
}

/**
 * Whether a decoded `data` value has the shape of an op: an object without
 * `type` (control envelopes) or `message` (cumulative snapshots) that carries
 * `v`, `o` or `p` (a `remove` may come without `v`).
 */
export function isDeltaOp(value: unknown): value is DeltaOp {
  if (!isPlainObject(value) || "type" in value || "message" in value) return false;
  return "v" in value || "o" in value || "p" in value;
}

function pointerTokens(pointer: string): string[] {
  if (pointer === "") return [];
  return pointer.slice(1).split("/").map((t) => t.replaceAll("~1", "/").replaceAll("~0", "~"));
}

/** Applies one op to `target[key]`. */
function applyAt(target: Json, key: string, op: string, value: unknown): void {
  if (Array.isArray(target)) {
    const index = key === "-" ? target.length : Number(key);
    if (!Number.isInteger(index) || index < 0) return;
    if (op === "add") target.splice(index, 0, value);
    else if (op === "replace") target[index] = value;
    else if (op === "remove") target.splice(index, 1);
    else if (op === "append") target[index] = appended(target[index], value);
    return;
  }
  if (op === "add" || op === "replace") target[key] = value;
  else if (op === "remove") delete target[key];
  else if (op === "append") target[key] = appended(target[key], value);
}

/** `append`: joins strings, extends arrays, merges objects; otherwise sets. */
function appended(current: unknown, value: unknown): unknown {
  if (typeof current === "string" && typeof value === "string") return current + value;
  if (Array.isArray(current)) return current.concat(Array.isArray(value) ? value : [value]);
  if (isPlainObject(current) && isPlainObject(value)) return { ...current, ...value };
  return value;
}

/**
 * Applies one op (already made explicit) to a document and returns the new
 * document (an op at the root may replace it).
 * @param doc the current document of the channel
 * @param path the op's JSON Pointer
 * @param op `add`, `replace`, `append`, `remove` or `patch`
 * @param value the op's value
 */
export function applyOp(doc: unknown, path: string, op: string, value: unknown): unknown {
  if (op === "patch") {
    if (!Array.isArray(value)) return doc;
    let out = doc;
    for (const sub of value) {
      if (!isPlainObject(sub) || typeof sub.p !== "string" || typeof sub.o !== "string") continue;
      out = applyOp(out, sub.p, sub.o, sub.v);
    }
    return out;
  }
  const tokens = pointerTokens(path);
  if (tokens.length === 0) {
    if (op === "add" || op === "replace") return value;
    if (op === "append") return appended(doc, value);
    return op === "remove" ? undefined : doc;
  }
  let target: unknown = doc;
  for (const token of tokens.slice(0, -1)) {
    if (!isContainer(target)) return doc;
    const next: unknown = (target as Record<string, unknown>)[token];
    if (!isContainer(next)) {
      // Create missing parents, as the backend's own decoder tolerates them.
      const created = {};
      (target as Record<string, unknown>)[token] = created;
      target = created;
    } else {
      target = next;
    }
  }
  if (isContainer(target)) applyAt(target, tokens[tokens.length - 1], op, value);
  return doc;
}

/** The documents of one turn, one per channel, and the sticky path and op. */
export class DeltaDocuments {
  #docs = new Map<number, unknown>();
  #channel = 0;
  #path = "";
  #op = "add";

  /** The channel the last op touched. */
  get channel(): number {
    return this.#channel;
  }

  /** The document of the channel the last op touched. */
  get current(): unknown {
    return this.#docs.get(this.#channel);
  }

  /**
   * Applies one op: `c` selects (and at `p: ""` with `add`, installs) the
   * channel's root; a missing `p` or `o` reuses the previous one.
   * @param op the op as it arrived
   */
  apply(op: DeltaOp): void {
    if (typeof op.c === "number") this.#channel = op.c;
    if (typeof op.p === "string") this.#path = op.p;
    if (typeof op.o === "string") this.#op = op.o;
    const doc = this.#docs.get(this.#channel);
    this.#docs.set(this.#channel, applyOp(doc, this.#path, this.#op, op.v));
  }
}
