/**
 * The HTTP/1.1 upstream client against real loopback servers: `Deno.serve`
 * (plain and TLS) for the normal cases, and a raw `Deno.listen` server that
 * writes hand-made bytes for framing, keep-alive and fault cases.
 */

import assert from "node:assert/strict";
import { Http1Client, type Http1Response } from "../../lib/providers/http1.ts";
import { makeTestCertificate } from "../_helpers/tls.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A `Deno.serve` on loopback that records the client ports it saw. */
function serve(handler: (req: Request) => Response | Promise<Response>, tls?: {
  cert: string;
  key: string;
}) {
  const ports: number[] = [];
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen() {},
    ...tls,
  }, (req, info) => {
    ports.push(info.remoteAddr.port);
    return handler(req);
  });
  const scheme = tls ? "https" : "http";
  return {
    url: `${scheme}://127.0.0.1:${server.addr.port}`,
    ports,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

/** Reads one request head (and a Content-Length body) from a raw socket; null at EOF. */
async function readRequest(conn: Deno.Conn): Promise<string | null> {
  let text = "";
  const buf = new Uint8Array(4096);
  for (;;) {
    const end = text.indexOf("\r\n\r\n");
    if (end >= 0) {
      const m = /content-length: (\d+)/i.exec(text.slice(0, end));
      if (text.length >= end + 4 + Number(m?.[1] ?? 0)) return text;
    }
    const n = await conn.read(buf).catch(() => null);
    if (n === null) return null;
    text += dec.decode(buf.subarray(0, n));
  }
}

/** A raw TCP server; `script(conn, index)` runs per accepted connection, which is closed after. */
function rawServer(script: (conn: Deno.Conn, index: number) => Promise<void>) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const handlers: Promise<void>[] = [];
  const conns = new Set<Deno.Conn>();
  let done = false;
  const accepting = (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      handlers.push(
        script(conn, handlers.length).catch(() => {}).finally(() => {
          conns.delete(conn);
          try {
            conn.close();
          } catch { /* closed by the script */ }
        }),
      );
    }
  })();
  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    accepted: () => handlers.length,
    async [Symbol.asyncDispose]() {
      if (done) return;
      done = true;
      listener.close();
      await accepting.catch(() => {});
      for (const c of conns) {
        try {
          c.close();
        } catch { /* already closed */ }
      }
      await Promise.all(handlers);
    },
  };
}

/** Writes text one byte per write, each flushed on its own. */
async function writeByteByByte(conn: Deno.Conn, text: string) {
  for (const b of enc.encode(text)) {
    await conn.write(Uint8Array.of(b));
    await new Promise((r) => setTimeout(r, 0));
  }
}

/** The whole body through `read`, with a small array to exercise partial copies. */
async function readAll(res: Http1Response, size = 7): Promise<string> {
  const into = new Uint8Array(size);
  let out = "";
  for (let n; (n = await res.read(into)) !== null;) out += dec.decode(into.subarray(0, n));
  return out;
}

async function rejectsRead(p: Promise<unknown>, fragment: string) {
  await assert.rejects(p, (e: Error) => {
    assert.ok(e instanceof Error, String(e));
    assert.match(e.message, /^Cannot (read the upstream response|connect to the upstream)/);
    assert.ok(e.message.includes(fragment), e.message);
    return true;
  });
}

Deno.test("http1 client sends Host with port, the query, identity encoding and a length", async () => {
  let url = "";
  let headers = new Headers();
  let body = "";
  await using s = serve(async (req) => {
    url = req.url;
    headers = req.headers;
    body = await req.text();
    return new Response("héllo", { headers: { "x-a": "1" } });
  });
  using client = new Http1Client();
  const res = await client.request(`${s.url}/v1/chat?x=1&y=2`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: '{"q":"é"}',
  });
  assert.equal(res.status, 200);
  assert.equal(res.ok, true);
  assert.equal(res.headers.get("X-A"), "1");
  assert.equal(await res.text(), "héllo");
  assert.equal(new URL(url).pathname + new URL(url).search, "/v1/chat?x=1&y=2");
  assert.equal(headers.get("host"), new URL(s.url).host);
  assert.equal(headers.get("accept-encoding"), "identity");
  assert.equal(headers.get("content-type"), "application/json");
  assert.equal(body, '{"q":"é"}');
});

Deno.test("http1 client writes the head and body in one write", async () => {
  let first = "";
  await using s = rawServer(async (conn) => {
    const buf = new Uint8Array(65536);
    const n = await conn.read(buf);
    first = dec.decode(buf.subarray(0, n ?? 0));
    await conn.write(enc.encode("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"));
  });
  using client = new Http1Client();
  const res = await client.request(`${s.url}/p`, {
    method: "POST",
    headers: { "x-k": "v" },
    body: enc.encode("0123456789"),
  });
  assert.equal(await res.read(new Uint8Array(8)), null);
  assert.match(first, /^POST \/p HTTP\/1\.1\r\nHost: 127\.0\.0\.1:\d+\r\nx-k: v\r\n/);
  assert.match(first, /Content-Length: 10\r\n/);
  assert.ok(first.endsWith("\r\n\r\n0123456789"), first);
});

Deno.test("http1 client reuses a kept-alive connection when the body was read to its end", async () => {
  await using s = serve(() => new Response("ok"));
  using client = new Http1Client();
  for (let i = 0; i < 3; i++) {
    const res = await client.request(s.url, { method: "GET", headers: {} });
    assert.equal(await readAll(res), "ok");
  }
  assert.equal(new Set(s.ports).size, 1);
});

Deno.test("http1 client speaks https with extra CA certificates", async () => {
  await using cert = await makeTestCertificate();
  await using s = serve(() => new Response("secure"), { cert: cert.certPem, key: cert.keyPem });
  using client = new Http1Client({ caCerts: [cert.certPem] });
  for (let i = 0; i < 2; i++) {
    const res = await client.request(`${s.url}/x`, { method: "GET", headers: {} });
    assert.equal(await res.text(), "secure");
  }
  assert.equal(new Set(s.ports).size, 1);
});

Deno.test("http1 client decodes chunked framing split at every byte and reuses the connection", async () => {
  await using s = rawServer(async (conn) => {
    for (let i = 0; i < 2; i++) {
      if ((await readRequest(conn)) === null) return;
      await writeByteByByte(
        conn,
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
          "5;ext=1\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nx-trailer: t\r\n\r\n",
      );
    }
  });
  using client = new Http1Client();
  for (let i = 0; i < 2; i++) {
    const res = await client.request(s.url, { method: "GET", headers: {} });
    assert.equal(res.headers.get("transfer-encoding"), "chunked");
    assert.equal(await readAll(res, 3), "hello 0123456789");
  }
  assert.equal(s.accepted(), 1);
});

Deno.test("http1 client reads until close when neither length nor chunked, and does not reuse", async () => {
  await using s = rawServer(async (conn) => {
    await readRequest(conn);
    await conn.write(enc.encode("HTTP/1.1 200 OK\r\n\r\nuntil "));
    await conn.write(enc.encode("the end"));
  });
  using client = new Http1Client();
  for (let i = 0; i < 2; i++) {
    const res = await client.request(s.url, { method: "GET", headers: {} });
    assert.equal(await readAll(res), "until the end");
  }
  assert.equal(s.accepted(), 2);
});

Deno.test("http1 client skips 1xx, joins repeated headers and reads no body for HEAD, 204, 304", async () => {
  await using s = rawServer(async (conn) => {
    const heads = [
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" +
      "HTTP/1.1 200 OK\r\nX-R: a\r\nx-r: b\r\nContent-Length: 2\r\n\r\nok",
      "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", // HEAD
      "HTTP/1.1 204 No Content\r\n\r\n",
      "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nlast",
    ];
    for (const head of heads) {
      if ((await readRequest(conn)) === null) return;
      await conn.write(enc.encode(head));
    }
  });
  using client = new Http1Client();
  const first = await client.request(s.url, { method: "GET", headers: {} });
  assert.equal(first.status, 200);
  assert.equal(first.headers.get("x-r"), "a, b");
  assert.equal(await readAll(first), "ok");
  for (const [method, status] of [["HEAD", 200], ["GET", 204], ["GET", 304]] as const) {
    const res = await client.request(s.url, { method, headers: {} });
    assert.equal(res.status, status);
    assert.equal(await res.read(new Uint8Array(16)), null);
  }
  const last = await client.request(s.url, { method: "GET", headers: {} });
  assert.equal(await last.text(), "last");
  assert.equal(s.accepted(), 1);
});

Deno.test("http1 client rejects a refused connection and malformed responses with clear messages", async () => {
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (closed.addr as Deno.NetAddr).port;
  closed.close();
  using client = new Http1Client({ maxHeaderBytes: 1024 });
  await rejectsRead(
    client.request(`http://127.0.0.1:${port}/`, { method: "GET", headers: {} }),
    "Cannot connect to the upstream",
  );
  const cases: [string, string][] = [
    ["HTTP/1.1 OK\r\n\r\n", "malformed status line"],
    ["HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "malformed header line"],
    ["HTTP/1.1 200 OK\r\nX-Big: " + "a".repeat(2000) + "\r\n\r\n", "over 1024 bytes"],
    ["HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", "invalid content-length"],
  ];
  for (const [bytes, fragment] of cases) {
    await using s = rawServer(async (conn) => {
      await readRequest(conn);
      await conn.write(enc.encode(bytes));
    });
    await rejectsRead(client.request(s.url, { method: "GET", headers: {} }), fragment);
  }
});

Deno.test("http1 client throws on a short body and on bad chunk sizes", async () => {
  const cases: [string, string][] = [
    ["HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "5 bytes before its content-length"],
    ["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "invalid chunk size"],
    ["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", "ended inside a chunk"],
    ["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX", "missing line end"],
  ];
  using client = new Http1Client();
  for (const [bytes, fragment] of cases) {
    await using s = rawServer(async (conn) => {
      await readRequest(conn);
      await conn.write(enc.encode(bytes));
    });
    const res = await client.request(s.url, { method: "GET", headers: {} });
    await rejectsRead(readAll(res), fragment);
  }
});

const OK2 = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

Deno.test("http1 client retries once on a fresh connection when a kept-alive one closes as it sends", async () => {
  await using s = rawServer(async (conn, index) => {
    await readRequest(conn);
    await conn.write(enc.encode(OK2));
    // The first connection takes the second request and closes without an answer.
    if (index === 0) await readRequest(conn);
  });
  using client = new Http1Client();
  assert.equal(await (await client.request(s.url, { method: "GET", headers: {} })).text(), "ok");
  assert.equal(await (await client.request(s.url, { method: "GET", headers: {} })).text(), "ok");
  assert.equal(s.accepted(), 2);
});

Deno.test("http1 client drops an idle connection that the server closed", async () => {
  await using s = rawServer(async (conn) => {
    await readRequest(conn);
    await conn.write(enc.encode(OK2));
  });
  using client = new Http1Client();
  assert.equal(await (await client.request(s.url, { method: "GET", headers: {} })).text(), "ok");
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(await (await client.request(s.url, { method: "GET", headers: {} })).text(), "ok");
  assert.equal(s.accepted(), 2);
});

Deno.test("http1 client rejects without a retry when a fresh connection closes without answering", async () => {
  await using s = rawServer(async (conn) => {
    await readRequest(conn);
  });
  using client = new Http1Client();
  await rejectsRead(
    client.request(s.url, { method: "GET", headers: {} }),
    "closed before a response",
  );
  assert.equal(s.accepted(), 1);
});

Deno.test("http1 client rejects with the signal's reason when aborted before the request", async () => {
  await using s = rawServer(async () => {});
  using client = new Http1Client();
  const reason = new Error("gone early");
  await assert.rejects(
    client.request(s.url, { method: "GET", headers: {}, signal: AbortSignal.abort(reason) }),
    (e) => e === reason,
  );
  assert.equal(s.accepted(), 0);
});

Deno.test("http1 client rejects with the signal's reason when aborted during the TLS handshake", async () => {
  let release = () => {};
  const held = new Promise<void>((r) => release = r);
  await using s = rawServer(() => held); // accepts, never speaks TLS
  using client = new Http1Client();
  const ctl = new AbortController();
  const pending = client.request(s.url.replace("http:", "https:"), {
    method: "GET",
    headers: {},
    signal: ctl.signal,
  });
  await new Promise((r) => setTimeout(r, 30));
  ctl.abort(new Error("gone in handshake"));
  await assert.rejects(pending, /gone in handshake/);
  release();
});

Deno.test("http1 client rejects with the signal's reason when aborted while waiting for the head", async () => {
  let got = () => {};
  const requested = new Promise<void>((r) => got = r);
  await using s = rawServer(async (conn) => {
    await readRequest(conn);
    got();
    await readRequest(conn); // silent until the client closes
  });
  using client = new Http1Client();
  const ctl = new AbortController();
  const pending = client.request(s.url, { method: "GET", headers: {}, signal: ctl.signal });
  await requested;
  ctl.abort(new Error("gone at head"));
  await assert.rejects(pending, /gone at head/);
});

Deno.test("http1 client rejects a body read with the signal's reason and closes the connection", async () => {
  let closedByClient = false;
  await using s = rawServer(async (conn) => {
    await readRequest(conn);
    await conn.write(
      enc.encode("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n"),
    );
    closedByClient = (await readRequest(conn)) === null;
  });
  using client = new Http1Client();
  const ctl = new AbortController();
  const res = await client.request(s.url, { method: "GET", headers: {}, signal: ctl.signal });
  const into = new Uint8Array(16);
  assert.equal(await res.read(into), 3);
  const pending = res.read(into);
  ctl.abort(new Error("gone in body"));
  await assert.rejects(pending, /gone in body/);
  await assert.rejects(res.read(into), /gone in body/);
  await s[Symbol.asyncDispose]();
  assert.equal(closedByClient, true);
});

Deno.test("http1 client leaves no listener on a long-lived signal after many requests", async () => {
  await using s = serve((req) =>
    new URL(req.url).pathname === "/big" ? new Response("x".repeat(100_000)) : new Response("ok")
  );
  using client = new Http1Client();
  const signal = new AbortController().signal;
  let live = 0;
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  signal.addEventListener = ((t: string, l: EventListener, o?: AddEventListenerOptions) => {
    live++;
    add(t, l, o);
  }) as typeof signal.addEventListener;
  signal.removeEventListener = ((t: string, l: EventListener) => {
    live--;
    remove(t, l);
  }) as typeof signal.removeEventListener;
  for (let i = 0; i < 30; i++) {
    const res = await client.request(`${s.url}/${i % 3 === 0 ? "big" : "small"}`, {
      method: "GET",
      headers: {},
      signal,
    });
    if (i % 3 === 0) {
      assert.equal((await res.read(new Uint8Array(10)))! > 0, true);
      await res.cancel();
      await res.cancel();
    } else if (i % 3 === 1) {
      assert.equal(await readAll(res, 1024), "ok");
    } else {
      assert.equal(await res.text(), "ok");
    }
    assert.equal(live, 0);
  }
});

Deno.test("http1 client text() decompresses gzip and deflate; read() refuses an encoded body", async () => {
  async function squeeze(text: string, format: CompressionFormat): Promise<ArrayBuffer> {
    const stream = new Blob([text]).stream().pipeThrough(new CompressionStream(format));
    return await new Response(stream).arrayBuffer();
  }
  const gz = await squeeze("zipped text", "gzip");
  const df = await squeeze("deflated text", "deflate");
  await using s = serve((req) => {
    const deflate = new URL(req.url).pathname === "/d";
    return new Response(deflate ? df : gz, {
      headers: { "content-encoding": deflate ? "deflate" : "gzip" },
    });
  });
  using client = new Http1Client();
  assert.equal(
    await (await client.request(s.url, { method: "GET", headers: {} })).text(),
    "zipped text",
  );
  assert.equal(
    await (await client.request(`${s.url}/d`, { method: "GET", headers: {} })).text(),
    "deflated text",
  );
  const res = await client.request(s.url, { method: "GET", headers: {} });
  await rejectsRead(res.read(new Uint8Array(8)), "content-encoding gzip is not supported");
  await res.cancel();
});

Deno.test("http1 client text() stops at its limit and cancel() keeps the connection out of the pool", async () => {
  await using s = serve(() => new Response("0123456789".repeat(1000)));
  using client = new Http1Client();
  const res = await client.request(s.url, { method: "GET", headers: {} });
  assert.equal(await res.text(25), "0123456789012345678901234");
  const next = await client.request(s.url, { method: "GET", headers: {} });
  assert.equal(await next.read(new Uint8Array(4)), 4);
  await next.cancel();
  assert.equal(await next.read(new Uint8Array(4)), null);
  await (await client.request(s.url, { method: "GET", headers: {} })).text();
  assert.equal(new Set(s.ports).size, 3);
});

Deno.test("http1 client closes idle connections past idleTimeoutMs and beyond maxIdlePerOrigin", async () => {
  await using s = serve(() => new Response("ok"));
  using client = new Http1Client({ idleTimeoutMs: 20, maxIdlePerOrigin: 1 });
  await (await client.request(s.url, { method: "GET", headers: {} })).text();
  await new Promise((r) => setTimeout(r, 40));
  await (await client.request(s.url, { method: "GET", headers: {} })).text();
  assert.equal(new Set(s.ports).size, 2);
  // Two at once: both go back, one is kept; the next two use it and one new connection.
  const pair = () =>
    Promise.all(
      [0, 1].map(async () => (await client.request(s.url, { method: "GET", headers: {} })).text()),
    );
  await pair();
  const before = new Set(s.ports).size;
  await pair();
  assert.equal(new Set(s.ports).size, before + 1);
});

Deno.test("http1 client serves requests after close()", async () => {
  await using s = serve(() => new Response("ok"));
  using client = new Http1Client();
  await (await client.request(s.url, { method: "GET", headers: {} })).text();
  client.close();
  assert.equal(await (await client.request(s.url, { method: "GET", headers: {} })).text(), "ok");
  assert.equal(new Set(s.ports).size, 2);
});

Deno.test("http1 client grows its buffer for a head bigger than the buffer but within the limit", async () => {
  const big = "v".repeat(3000);
  await using s = rawServer(async (conn) => {
    await readRequest(conn);
    await writeByteByByte(conn, "HTTP/1.1 200 OK\r\nX-Big: " + big.slice(0, 10));
    await conn.write(enc.encode(big.slice(10) + "\r\nContent-Length: 2\r\n\r\nok"));
  });
  using client = new Http1Client({ bufferSize: 1024, maxHeaderBytes: 4096 });
  const res = await client.request(s.url, { method: "GET", headers: {} });
  assert.equal(res.headers.get("x-big"), big);
  assert.equal(await res.text(), "ok");
});

Deno.test("http1 client release() reads a late body end in the background and reuses the connection", async () => {
  await using s = rawServer(async (conn) => {
    for (;;) {
      if (await readRequest(conn) === null) return;
      // The answer's last event, then the chunked end a moment later.
      await conn.write(
        enc.encode("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n"),
      );
      await new Promise((r) => setTimeout(r, 30));
      await conn.write(enc.encode("0\r\n\r\n"));
    }
  });
  using client = new Http1Client();
  for (let i = 0; i < 3; i++) {
    const res = await client.request(s.url, { method: "GET", headers: {} });
    const into = new Uint8Array(16);
    assert.equal(dec.decode(into.subarray(0, (await res.read(into))!)), "hello");
    res.release();
    await new Promise((r) => setTimeout(r, 80));
  }
  assert.equal(s.accepted(), 1, "one connection served the three requests");
});

Deno.test("http1 client release() closes a connection whose body does not end in time", async () => {
  let closedAt = 0;
  await using s = rawServer(async (conn) => {
    await readRequest(conn);
    await conn.write(
      enc.encode("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n"),
    );
    // Never ends the body: the read returns when the client closes the connection.
    await conn.read(new Uint8Array(16)).catch(() => null);
    closedAt = Date.now();
  });
  using client = new Http1Client();
  const res = await client.request(s.url, { method: "GET", headers: {} });
  assert.equal(await res.read(new Uint8Array(16)), 5);
  const started = Date.now();
  res.release();
  for (let i = 0; i < 50 && closedAt === 0; i++) await new Promise((r) => setTimeout(r, 100));
  const waited = closedAt - started;
  assert.ok(waited >= 1500 && waited < 4000, `closed after ${waited} ms`);
  const next = await client.request(s.url, { method: "GET", headers: {} });
  await next.cancel();
  assert.equal(s.accepted(), 2, "the next request needed a new connection");
});

/** The whole body through `readView`. */
async function readAllViews(res: Http1Response): Promise<string> {
  let out = "";
  for (let v; (v = await res.readView()) !== null;) out += dec.decode(v);
  return out;
}

Deno.test("http1 client readView() decodes chunked framing in place, split at every byte or not", async () => {
  const body = "5;ext=1\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nx-trailer: t\r\n\r\n";
  await using s = rawServer(async (conn) => {
    for (let i = 0; i < 3; i++) {
      if ((await readRequest(conn)) === null) return;
      const head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
      if (i === 0) await writeByteByByte(conn, head + body);
      else if (i === 1) await conn.write(enc.encode(head + body));
      else await conn.write(enc.encode("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nlength"));
    }
  });
  using client = new Http1Client();
  for (const want of ["hello 0123456789", "hello 0123456789", "length"]) {
    const res = await client.request(s.url, { method: "GET", headers: {} });
    assert.equal(await readAllViews(res), want);
  }
  assert.equal(s.accepted(), 1, "the connection was reused after each body");
});

Deno.test("http1 client readView() gives the body's last bytes as a copy the next request cannot overwrite", async () => {
  await using s = rawServer(async (conn) => {
    for (const text of ["first", "other"]) {
      if ((await readRequest(conn)) === null) return;
      await conn.write(enc.encode(`HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n${text}`));
    }
  });
  using client = new Http1Client();
  const res = await client.request(s.url, { method: "GET", headers: {} });
  const last = await res.readView();
  assert.equal(await res.readView(), null);
  const res2 = await client.request(s.url, { method: "GET", headers: {} });
  assert.equal(await readAllViews(res2), "other");
  assert.equal(dec.decode(last!), "first");
  assert.equal(s.accepted(), 1);
});
