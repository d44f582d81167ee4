import assert from "node:assert/strict";
import { createLogger } from "../lib/log.ts";

function capture(level: "debug" | "info" | "warn" | "error" = "info") {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({
    level,
    write: (line) => lines.push(JSON.parse(line)),
    now: () => new Date(0),
  });
  return { logger, lines };
}

Deno.test("a child's line carries its ancestors' fields, the nearest winning, then the call's own", () => {
  const { logger, lines } = capture();
  const child = logger.child({ requestId: "r1", protocol: "http" }).child({ protocol: "ws", n: 1 });
  child.info("answer", { n: 2, code: "OK" });
  assert.deepEqual(lines, [{
    time: "1970-01-01T00:00:00.000Z",
    level: "info",
    msg: "answer",
    requestId: "r1",
    protocol: "ws",
    n: 2,
    code: "OK",
  }]);
  // The parent is unchanged by its child.
  logger.warn("plain");
  assert.deepEqual(Object.keys(lines[1]), ["time", "level", "msg"]);
});

Deno.test("lines below the level are not written, and an err is described without its stack", () => {
  const { logger, lines } = capture("warn");
  const child = logger.child({ a: 1 });
  child.debug("no");
  child.info("no");
  child.error("failed", { err: new TypeError("bad", { cause: new Error("deeper") }) });
  assert.equal(lines.length, 1);
  assert.deepEqual(lines[0].err, {
    name: "TypeError",
    message: "bad",
    cause: { name: "Error", message: "deeper" },
  });
});
