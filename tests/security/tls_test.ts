/**
 * TLS_CERT / TLS_KEY: `main.ts` serves HTTPS, WSS and gRPC over TLS from the
 * same two files. Clients that trust the throwaway certificate get answers
 * (with AUTH_TOKENS on, so the token travels encrypted); clients that do not
 * trust it, or speak plain text, get nothing.
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import * as grpc from "@grpc/grpc-js";
import { makeTestCertificate } from "../_helpers/tls.ts";
import { askOver } from "./_clients.ts";
import { startSecureServer } from "./_server.ts";

const TOKEN = "tok-tls-0123456789";

/** A WSS ask from a Deno child that trusts the certificate (`--cert`), as Deno's WebSocket has no per-socket CA option. */
async function wssAsk(url: string, certFile: string): Promise<{ code: number; out: string }> {
  const script = `
    const ws = new WebSocket(${JSON.stringify(url)});
    const frames = [];
    const timer = setTimeout(() => { console.log("timeout"); Deno.exit(3); }, 10000);
    ws.onerror = () => { console.log("error"); Deno.exit(2); };
    ws.onopen = () => ws.send(JSON.stringify({ type: "ask", id: "t1", prompt: "over wss" }));
    ws.onmessage = (e) => {
      const f = JSON.parse(e.data);
      frames.push(f);
      if (f.type === "done" || f.type === "error") {
        clearTimeout(timer);
        console.log(JSON.stringify(frames));
        ws.close();
      }
    };`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--cert", certFile, script],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, out: dec.decode(out.stdout) + dec.decode(out.stderr) };
}

Deno.test("HTTPS, WSS and gRPC over TLS answer clients that trust the certificate, from the same files", async () => {
  await using cert = await makeTestCertificate();
  await using s = await startSecureServer({
    env: { TLS_CERT: cert.certFile, TLS_KEY: cert.keyFile, AUTH_TOKENS: TOKEN },
  });
  const logs = s.server.logs().filter((l) => l.includes('"msg":"listening"'));
  assert.equal(logs.length, 3);
  for (const line of logs) assert.equal(JSON.parse(line).tls, true);
  const https = s.server.httpUrl.replace(/^http:/, "https:");

  // HTTPS, with a client that trusts the certificate.
  const client = Deno.createHttpClient({ caCerts: [cert.certPem] });
  try {
    const res = await fetch(`${https}/ask/new`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ prompt: "over https" }),
      client,
    });
    assert.equal(res.status, 200);
    assert.match((await res.json()).message, /over https/);
    // Without the token, TLS or not, nothing.
    const anonymous = await fetch(`${https}/conversations`, { client });
    assert.equal(anonymous.status, 401);
    await anonymous.body?.cancel();
  } finally {
    client.close();
  }
  // A client that does not trust it, and a plain-text client, get nothing.
  await assert.rejects(fetch(`${https}/healthz`));
  await assert.rejects(fetch(`${s.server.httpUrl}/healthz`));

  // WSS.
  const wss = await wssAsk(`wss://127.0.0.1:${s.server.wsPort}/?token=${TOKEN}`, cert.certFile);
  assert.equal(wss.code, 0, wss.out);
  const frames = JSON.parse(wss.out.trim().split("\n").at(-1)!);
  assert.equal(frames.at(-1).type, "done", wss.out);
  assert.match(
    frames.filter((f: { type: string }) => f.type === "delta").map((f: { text: string }) => f.text)
      .join(""),
    /over wss/,
  );

  // gRPC over TLS, legacy and typed, with credentials that trust the certificate.
  const tlsTarget = {
    ...s.target,
    grpcCreds: grpc.credentials.createSsl(Buffer.from(cert.certPem)),
    // Deno's node:tls takes no IP address as the server name: check the certificate's DNS name.
    grpcOptions: { "grpc.ssl_target_name_override": "localhost" },
  };
  for (const protocol of ["grpc-legacy", "grpc-typed"] as const) {
    const r = await askOver(tlsTarget, protocol, { token: TOKEN, prompt: `over ${protocol}` });
    assert.ok(r.ok, `${protocol}: ${r.seen.join("\n")}`);
    assert.match(r.text, new RegExp(`over ${protocol}`));
  }
  // Plain text to the TLS gRPC port fails.
  const plain = await askOver(s.target, "grpc-typed", { token: TOKEN, prompt: "plain" });
  assert.equal(plain.ok, false);
  assert.equal(plain.status, grpc.status.UNAVAILABLE);
  assert.equal(s.count("user"), 4);
});
