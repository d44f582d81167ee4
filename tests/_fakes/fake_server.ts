/**
 * The plumbing the fake upstreams share: a loopback `Deno.serve` that records
 * every request, answers from a queue of scripts (or the fake's own default
 * behaviour), plays scripted bodies one write per pull with real pauses,
 * resets and stalls, and notices when a client leaves before the end.
 * `openai_upstream.ts` and `chatgpt_web_upstream.ts` add each upstream's
 * routes and wire format on top.
 * @module
 */

/**
 * One piece of a scripted body: text or bytes written as one write, a pause,
 * or a connection reset (the body errors, the client sees a broken stream;
 * Deno's server prints that error to stderr, which is expected).
 */
export type FakeStep = string | Uint8Array | { delayMs: number } | { reset: true };

/** A scripted answer to one request. */
export interface FakeScript {
  /** @default 200 */
  status?: number;
  /** Response headers. @default content-type for the body kind */
  headers?: Record<string, string>;
  /** A JSON body (an error body, a non-streaming answer, a model list). */
  json?: unknown;
  /** A raw text body (an HTML error page, served as text/html unless headers say otherwise). */
  text?: string;
  /** A streamed body; `text/event-stream` unless headers say otherwise. */
  steps?: FakeStep[];
  /**
   * Write every byte of every text step separately, each flushed on its own
   * (about 2 ms per byte: keep such bodies short). @default false
   */
  byteByByte?: boolean;
  /** After the steps, keep the connection open and silent until the client leaves. */
  stall?: boolean;
  /** Wait before answering at all (before the headers). */
  delayMs?: number;
}

/** One request a fake received; `B` is the fake's reading of the body. */
export interface FakeRequest<B> {
  method: string;
  /** The path (no query). */
  path: string;
  /** Lower-case header names. */
  headers: Record<string, string>;
  /** The body as the fake reads it (null when there was none or it did not parse). */
  body: B;
  /** The bearer token sent, or null. */
  key: string | null;
  /** When it arrived, in epoch milliseconds. */
  at: number;
}

/** Options of {@link startFakeServer}. */
export interface FakeServerOptions<B> {
  /** Reads the raw body text into the recorded body. */
  parseBody(raw: string): B;
  /** The answer when no script is queued. */
  defaultScript(req: FakeRequest<B>): FakeScript;
  /** Headers of streamed answers, each unless the script sets it. */
  streamHeaders: Record<string, string>;
}

/** A running fake server. */
export interface FakeServer<B> {
  /** `http://127.0.0.1:<port>`. */
  origin: string;
  /** Every request received, in order. */
  requests: FakeRequest<B>[];
  /** Queues a scripted answer for the next request, whatever its path. */
  next(script: FakeScript): void;
  /** When the fake last saw a client leave before its answer was complete. */
  lastAbortedAt(): number | null;
  /** Stops the server, ending stalled answers. */
  close(): Promise<void>;
}

const encoder = new TextEncoder();

/**
 * Starts a fake on 127.0.0.1 with a free port.
 * @param options how to read bodies, the default answers, the stream headers
 */
export async function startFakeServer<B>(options: FakeServerOptions<B>): Promise<FakeServer<B>> {
  const requests: FakeRequest<B>[] = [];
  const queue: FakeScript[] = [];
  const running = new Set<AbortController>();
  let abortedAt: number | null = null;
  const markAborted = () => void (abortedAt = Date.now());

  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (req, info) => {
      const raw = req.body ? await req.text() : "";
      const recorded: FakeRequest<B> = {
        method: req.method,
        path: new URL(req.url).pathname,
        headers: Object.fromEntries(req.headers),
        body: options.parseBody(raw),
        key: req.headers.get("authorization")?.replace(/^Bearer\s+/i, "") ?? null,
        at: Date.now(),
      };
      requests.push(recorded);
      const script = queue.shift() ?? options.defaultScript(recorded);
      const ac = new AbortController();
      running.add(ac);
      // `info.completed` rejects when the client left before the body was delivered.
      info.completed.then(() => ac.abort(), () => ac.abort());
      ac.signal.addEventListener("abort", () => running.delete(ac), { once: true });
      if (script.delayMs) await pause(script.delayMs, ac.signal);
      return respond(script, options.streamHeaders, ac, markAborted);
    },
  );
  await Promise.resolve();
  return {
    origin: `http://127.0.0.1:${server.addr.port}`,
    requests,
    next: (script) => void queue.push(script),
    lastAbortedAt: () => abortedAt,
    async close() {
      for (const ac of running) ac.abort();
      await server.shutdown();
    },
  };
}

/** Parses JSON, or gives null for an empty or malformed body. */
export function parseJsonOrNull(text: string): unknown {
  if (text === "") return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

function respond(
  script: FakeScript,
  streamHeaders: Record<string, string>,
  ac: AbortController,
  markAborted: () => void,
): Response {
  const status = script.status ?? 200;
  const headers = new Headers(script.headers);
  if (script.steps === undefined) {
    ac.abort();
    if (script.text !== undefined) {
      if (!headers.has("content-type")) headers.set("content-type", "text/html; charset=utf-8");
      return new Response(script.text, { status, headers });
    }
    if (!headers.has("content-type")) headers.set("content-type", "application/json");
    return new Response(JSON.stringify(script.json ?? {}), { status, headers });
  }
  for (const [name, value] of Object.entries(streamHeaders)) {
    if (!headers.has(name)) headers.set(name, value);
  }
  return new Response(stepStream(script, ac, markAborted), { status, headers });
}

type Piece = Uint8Array | { delayMs: number } | { reset: true };

function expand(steps: FakeStep[], byteByByte: boolean): Piece[] {
  const out: Piece[] = [];
  for (const step of steps) {
    if (typeof step === "string" || step instanceof Uint8Array) {
      const bytes = typeof step === "string" ? encoder.encode(step) : step;
      if (byteByByte) { for (const b of bytes) out.push(new Uint8Array([b])); }
      else out.push(bytes);
    } else {
      out.push(step);
    }
  }
  return out;
}

/** The body of a streamed script: pulls one piece per read, so splits and pauses are real. */
function stepStream(
  script: FakeScript,
  ac: AbortController,
  markAborted: () => void,
): ReadableStream<Uint8Array> {
  const pieces = expand(script.steps ?? [], script.byteByByte ?? false);
  let i = 0;
  let complete = false;
  const onClientGone = () => {
    if (!complete) markAborted();
  };
  ac.signal.addEventListener("abort", onClientGone, { once: true });
  const finish = () => {
    complete = true;
    ac.abort();
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      while (i < pieces.length) {
        const piece = pieces[i++];
        if (piece instanceof Uint8Array) {
          controller.enqueue(piece);
          // Let the server flush each write on its own, so reads split where the script says.
          if (script.byteByByte) await pause(0, ac.signal);
          return;
        }
        if ("reset" in piece) {
          finish();
          controller.error(new Error("connection reset by the fake"));
          return;
        }
        await pause(piece.delayMs, ac.signal);
        if (ac.signal.aborted) return;
      }
      if (script.stall) await pause(24 * 3600_000, ac.signal);
      finish();
      try {
        controller.close();
      } catch {
        // already closed by a cancel
      }
    },
    cancel() {
      markAborted();
      ac.abort();
    },
  });
}
