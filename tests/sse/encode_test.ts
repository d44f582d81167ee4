import assert from "node:assert/strict";
import { encodeSSE, encodeSSEComment } from "../../lib/sse/encode.ts";

Deno.test("encodeSSE writes only data when no event or id is given", () => {
  assert.equal(encodeSSE({ data: "hi" }), "data: hi\n\n");
});

Deno.test("encodeSSE writes the event name and id before the data", () => {
  assert.equal(
    encodeSSE({ event: "delta", id: "3", data: "x" }),
    "event: delta\nid: 3\ndata: x\n\n",
  );
});

Deno.test("encodeSSE writes one data line per line when data has line breaks", () => {
  assert.equal(encodeSSE({ data: "a\nb\r\nc\rd" }), "data: a\ndata: b\ndata: c\ndata: d\n\n");
});

Deno.test("encodeSSE writes an empty data line when data is empty", () => {
  assert.equal(encodeSSE({ data: "" }), "data: \n\n");
});

Deno.test("encodeSSE keeps U+2028 inside one data line", () => {
  assert.equal(encodeSSE({ data: "a\u2028b" }), "data: a\u2028b\n\n");
});

Deno.test("encodeSSE throws TypeError when the event name or id contains a line break", () => {
  assert.throws(() => encodeSSE({ event: "a\nb", data: "x" }), TypeError);
  assert.throws(() => encodeSSE({ event: "a\rb", data: "x" }), TypeError);
  assert.throws(() => encodeSSE({ id: "1\n2", data: "x" }), TypeError);
  assert.throws(() => encodeSSE({ id: "1\u00002", data: "x" }), TypeError);
});

Deno.test("encodeSSEComment writes a comment line per line of text", () => {
  assert.equal(encodeSSEComment("keep-alive"), ": keep-alive\n\n");
  assert.equal(encodeSSEComment("a\nb"), ": a\n: b\n\n");
  assert.equal(encodeSSEComment(""), ":\n\n");
});
