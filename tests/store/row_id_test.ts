import assert from "node:assert/strict";
import { newRowId } from "../../lib/store/row_id.ts";

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

Deno.test("newRowId makes UUIDv7 text whose timestamp is the current millisecond", () => {
  const before = Date.now();
  const id = newRowId();
  const after = Date.now();
  assert.match(id, UUID_V7);
  const ms = parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
  // The id may carry a later millisecond only when an earlier one ran out of counter.
  assert.ok(ms >= before - 1 && ms <= after + 1, `${ms} not within ${before}..${after}`);
});

Deno.test("newRowId makes ids that sort in the order they were made, none twice, even 50 000 in a burst", () => {
  const ids = Array.from({ length: 50_000 }, () => newRowId());
  for (let i = 1; i < ids.length; i++) {
    assert.ok(ids[i - 1] < ids[i], `${ids[i - 1]} !< ${ids[i]}`);
  }
  assert.equal(new Set(ids).size, ids.length);
  for (const id of ids.slice(0, 100)) assert.match(id, UUID_V7);
});

Deno.test("newRowId keeps 62 random bits: ids of one millisecond differ beyond the counter", () => {
  const tails = new Set(Array.from({ length: 1000 }, () => newRowId().slice(19)));
  assert.ok(tails.size > 990);
});
