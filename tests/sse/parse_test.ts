import assert from "node:assert/strict";
import { parseSSE, SSEDecoder, type SSEEvent } from "../../lib/sse/parse.ts";
import { encodeSSE } from "../../lib/sse/encode.ts";

const enc = new TextEncoder();

function bytesStream(chunks: (string | Uint8Array)[]): ReadableStream<Uint8Array> {
  return ReadableStream.from(chunks.map((c) => typeof c === "string" ? enc.encode(c) : c));
}

function parseAll(chunks: (string | Uint8Array)[]): Promise<SSEEvent[]> {
  return Array.fromAsync(parseSSE(bytesStream(chunks)));
}

function msg(data: string, event = "message", id = ""): SSEEvent {
  return { event, data, id };
}

const TABLE: { name: string; chunks: (string | Uint8Array)[]; want: SSEEvent[] }[] = [
  { name: "LF line endings", chunks: ["data: a\n\ndata: b\n\n"], want: [msg("a"), msg("b")] },
  {
    name: "CRLF line endings",
    chunks: ["data: a\r\n\r\ndata: b\r\n\r\n"],
    want: [msg("a"), msg("b")],
  },
  { name: "lone CR line endings", chunks: ["data: a\r\rdata: b\r\r"], want: [msg("a"), msg("b")] },
  {
    name: "mixed line endings",
    chunks: ["data: a\r\ndata: b\rdata: c\n\r\n"],
    want: [msg("a\nb\nc")],
  },
  { name: "CRLF split across chunks", chunks: ["data: a\r", "\n\r", "\n"], want: [msg("a")] },
  { name: "blank line split across chunks", chunks: ["data: a\n", "\n"], want: [msg("a")] },
  { name: "CR then CR across chunks is two breaks", chunks: ["data: a\r", "\r"], want: [msg("a")] },
  { name: "no space after the colon", chunks: ["data:{}\n\n"], want: [msg("{}")] },
  { name: "only one space is dropped", chunks: ["data:  x\n\n"], want: [msg(" x")] },
  {
    name: "split at the first colon only",
    chunks: ["data: a:b: c\n\n"],
    want: [msg("a:b: c")],
  },
  {
    name: "comments ignored",
    chunks: [": keep-alive\n\n: hi\ndata: a\n: mid\n\n"],
    want: [msg("a")],
  },
  {
    name: "event type set and reset",
    chunks: ["event: delta\ndata: a\n\ndata: b\n\n"],
    want: [msg("a", "delta"), msg("b")],
  },
  { name: "empty event name means message", chunks: ["event:\ndata: a\n\n"], want: [msg("a")] },
  {
    name: "id persists across events",
    chunks: ["id: 7\ndata: a\n\ndata: b\n\nid\ndata: c\n\n"],
    want: [msg("a", "message", "7"), msg("b", "message", "7"), msg("c")],
  },
  {
    name: "id with NUL ignored",
    chunks: ["id: 1\ndata: a\n\nid: x\0y\ndata: b\n\n"],
    want: [msg("a", "message", "1"), msg("b", "message", "1")],
  },
  {
    name: "retry and unknown fields ignored",
    chunks: ["retry: 100\nfoo: bar\nretry: x\ndata: a\n\n"],
    want: [msg("a")],
  },
  {
    name: "multi-line data joined with LF",
    chunks: ['data: {"a":\ndata: 1}\n\n'],
    want: [msg('{"a":\n1}')],
  },
  { name: "no data, no dispatch", chunks: ["event: ping\n\n\n\n"], want: [] },
  { name: "a bare data field gives empty data", chunks: ["data\n\n"], want: [msg("")] },
  {
    name: "empty data line dispatches empty data",
    chunks: ["data:\n\n"],
    want: [msg("")],
  },
  {
    name: "two empty data lines give one LF",
    chunks: ["data:\ndata:\n\n"],
    want: [msg("\n")],
  },
  { name: "unterminated event discarded", chunks: ["data: a\n\ndata: b\n"], want: [msg("a")] },
  { name: "unterminated line discarded", chunks: ["data: a\n\ndata: b"], want: [msg("a")] },
  { name: "leading BOM stripped", chunks: ["\uFEFFdata: a\n\n"], want: [msg("a")] },
  {
    name: "only one BOM stripped",
    chunks: ["\uFEFF\uFEFFdata: a\n\n"],
    want: [],
  },
  {
    name: "U+2028 and U+0085 are not line breaks",
    chunks: ['data: {"t":"a\u2028b\u0085c\fd"}\n\n'],
    want: [msg('{"t":"a\u2028b\u0085c\fd"}')],
  },
  {
    name: "UTF-8 character split across chunks",
    chunks: [
      new Uint8Array([0x64, 0x61, 0x74, 0x61, 0x3a, 0x20, 0xe2]),
      new Uint8Array([0x82]),
      new Uint8Array([0xac, 0x0a, 0x0a]),
    ],
    want: [msg("€")],
  },
  {
    name: "invalid bytes become U+FFFD",
    chunks: [new Uint8Array([0x64, 0x61, 0x74, 0x61, 0x3a, 0xff, 0x0a, 0x0a])],
    want: [msg("\uFFFD")],
  },
  {
    name: "many events in one write",
    chunks: ["data: 1\n\ndata: 2\n\ndata: 3\n\ndata: 4\n\n"],
    want: [msg("1"), msg("2"), msg("3"), msg("4")],
  },
  {
    name: "field name split across chunks",
    chunks: ["da", "ta: a", "b\n", "\n"],
    want: [msg("ab")],
  },
  { name: "empty chunks tolerated", chunks: ["", "data: a\n", "", "\n", ""], want: [msg("a")] },
];

for (const c of TABLE) {
  Deno.test(`parseSSE yields the right events when given ${c.name}`, async () => {
    assert.deepEqual(await parseAll(c.chunks), c.want);
  });
}

Deno.test("parseSSE yields the same events when the input is fed one byte at a time", async () => {
  const text = "\uFEFF: hello\r\nevent: delta\r\nid: 9\r\ndata: h\u00e9llo \u20ac \u{1F600}\r\n" +
    "data: two\r\n\r\ndata:x\r\r";
  const bytes = enc.encode(text);
  const oneByOne = Array.from(bytes, (b) => new Uint8Array([b]));
  const want = [msg("h\u00e9llo \u20ac \u{1F600}\ntwo", "delta", "9"), msg("x", "message", "9")];
  assert.deepEqual(await parseAll(oneByOne), want);
  assert.deepEqual(await parseAll([bytes]), want);
});

Deno.test("parseSSE gives the same result for every split point of a stream", async () => {
  const bytes = enc.encode("event: a\r\ndata: \u00e9\r\n\r\ndata: b\rdata: c\r\r: x\n");
  const want = [msg("\u00e9", "a"), msg("b\nc")];
  for (let i = 0; i <= bytes.length; i++) {
    assert.deepEqual(await parseAll([bytes.slice(0, i), bytes.slice(i)]), want, `split at ${i}`);
  }
});

Deno.test("parseSSE round-trips events written by encodeSSE", async () => {
  const events: SSEEvent[] = [
    { event: "delta", data: '{"text":"a"}', id: "" },
    { event: "message", data: "line one\nline two\n\nafter a blank", id: "" },
    { event: "done", data: "", id: "42" },
    { event: "message", data: " leading space and \u2028 and trailing ", id: "42" },
  ];
  const text = events.map((e) =>
    encodeSSE({
      event: e.event === "message" ? undefined : e.event,
      data: e.data,
      id: e.id === "" ? undefined : e.id,
    })
  ).join("");
  assert.deepEqual(await parseAll([text]), events);
});

Deno.test("parseSSE cancels the body when the consumer stops early", async () => {
  let canceled = false;
  let pulls = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulls++;
      controller.enqueue(enc.encode(`data: ${pulls}\n\n`));
    },
    cancel() {
      canceled = true;
    },
  }, { highWaterMark: 0 });
  const seen: string[] = [];
  for await (const event of parseSSE(body)) {
    seen.push(event.data);
    if (seen.length === 3) break;
  }
  assert.deepEqual(seen, ["1", "2", "3"]);
  assert.equal(canceled, true);
  assert.ok(pulls <= 5, `pulled ${pulls} chunks for 3 events`);
});

Deno.test("parseSSE rethrows when the body errors mid-stream", async () => {
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent++ === 0) controller.enqueue(enc.encode("data: a\n\n"));
      else controller.error(new Error("connection reset"));
    },
  });
  const seen: string[] = [];
  await assert.rejects(async () => {
    for await (const event of parseSSE(body)) seen.push(event.data);
  }, /connection reset/);
  assert.deepEqual(seen, ["a"]);
});

Deno.test("parseSSE reads a real fetch body and releases it when the consumer breaks", async () => {
  let canceled!: () => void;
  const sawCancel = new Promise<void>((resolve) => canceled = resolve);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => {
    let n = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        await new Promise((r) => setTimeout(r, 5));
        controller.enqueue(enc.encode(`data: ${n++}\r`));
        controller.enqueue(enc.encode(`\n\r\n`));
      },
      cancel() {
        canceled();
      },
    });
    return new Response(body, { headers: { "content-type": "text/event-stream" } });
  });
  try {
    const res = await fetch(`http://127.0.0.1:${server.addr.port}/`);
    const got: string[] = [];
    for await (const event of parseSSE(res.body!)) {
      got.push(event.data);
      if (got.length === 2) break;
    }
    assert.deepEqual(got, ["0", "1"]);
    await sawCancel;
  } finally {
    await server.shutdown();
  }
});

Deno.test("SSEDecoder gives parseSSE's events for every table case and every split point", async () => {
  const decodeAll = (chunks: (string | Uint8Array)[]) => {
    const decoder = new SSEDecoder();
    const out: SSEEvent[] = [];
    // One reused buffer, as a connection's read buffer is.
    const buffer = new Uint8Array(1 << 16);
    for (const c of chunks) {
      const bytes = typeof c === "string" ? enc.encode(c) : c;
      buffer.set(bytes);
      out.push(...(decoder.push(buffer.subarray(0, bytes.length)) ?? []));
      buffer.fill(0x78, 0, bytes.length);
    }
    return out;
  };
  for (const c of TABLE) assert.deepEqual(decodeAll(c.chunks), await parseAll(c.chunks), c.name);
  const bytes = enc.encode("event: a\r\ndata: \u00e9\r\n\r\ndata: b\rdata: c\r\r: x\n");
  for (let i = 0; i <= bytes.length; i++) {
    assert.deepEqual(
      decodeAll([bytes.slice(0, i), bytes.slice(i)]),
      [msg("\u00e9", "a"), msg("b\nc")],
      `split at ${i}`,
    );
  }
});
