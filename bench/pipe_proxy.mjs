// The yardstick of issue 6: a Node proxy that only pipes bytes. It forwards
// each request to the fake upstream and pipes the answer back, parsing,
// storing and re-encoding nothing.
//
//   node bench/pipe_proxy.mjs <upstream port>
//
// It prints one JSON line `{"port": N}` once it listens on 127.0.0.1.
import http from "node:http";

const upstreamPort = Number(process.argv[2]);
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });

const server = http.createServer((req, res) => {
  const up = http.request({
    host: "127.0.0.1",
    port: upstreamPort,
    method: req.method,
    path: req.url,
    headers: req.headers,
    agent,
  }, (upRes) => {
    res.writeHead(upRes.statusCode ?? 502, upRes.headers);
    upRes.pipe(res);
  });
  up.on("error", () => {
    if (!res.headersSent) res.writeHead(502);
    res.end();
  });
  res.on("close", () => {
    if (!res.writableFinished) up.destroy();
  });
  req.pipe(up);
});

server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + "\n");
});
process.on("SIGTERM", () => {
  server.close();
  agent.destroy();
  process.exit(0);
});
