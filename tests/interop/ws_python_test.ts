import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { EchoProvider } from "../../lib/providers/echo/client.ts";
import { silentLogger } from "../../lib/log.ts";
import { Authenticator } from "../../lib/transports/auth.ts";
import { startWs } from "../transports/ws_client.ts";
import { makeTestCertificate } from "../_helpers/tls.ts";

const SCRIPT = fileURLToPath(new URL("./ws_client.py", import.meta.url));
const TOKEN = "py-token";

/** Debian's python3 (with apt's python3-websockets) when present, else the one on PATH. */
async function python(): Promise<string> {
  try {
    await Deno.stat("/usr/bin/python3");
    return "/usr/bin/python3";
  } catch {
    return "python3";
  }
}

Deno.test("python websockets client talks both protocols when it sends a bearer header", async () => {
  await runPythonClient({});
});

Deno.test("python websockets client talks both protocols over WSS when TLS is on", async () => {
  await using tls = await makeTestCertificate();
  await runPythonClient({ TLS_CERT: tls.certFile, TLS_KEY: tls.keyFile }, tls.certFile);
});

async function runPythonClient(env: Record<string, string>, caFile?: string): Promise<void> {
  const h = await startWs(new EchoProvider({ delayMs: 15 }), {
    env: { AUTH_TOKENS: TOKEN, ...env },
  });
  try {
    const url = caFile ? h.url.replace("ws:", "wss:") : h.url;
    const out = await new Deno.Command(await python(), {
      args: [SCRIPT, `${url}/`, TOKEN, ...(caFile ? [caFile] : [])],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    const ids = JSON.parse(new TextDecoder().decode(out.stdout).trim());
    // The server's tree matches what the client saw: two turns and a branch from the first answer.
    const ctx = {
      signal: new AbortController().signal,
      requestId: "t",
      principal: await principalOf(TOKEN),
      logger: silentLogger,
    };
    const main = await h.engine.getMessages(ids.conversation_id, ids.second_parent, ctx);
    assert.deepEqual(main.map((m) => m.role), ["user", "assistant", "user", "assistant"]);
    const branch = await h.engine.getMessages(ids.conversation_id, ids.branch_parent, ctx);
    assert.equal(branch[1].id, ids.first_parent);
    assert.equal(branch[2].content, "branch ✨");
    assert.equal(main[0].content, "cost: $3 and $$\nnext line: 你好 🚀");
  } finally {
    await h.close();
  }
}

function principalOf(token: string): Promise<string> {
  return new Authenticator([token]).principal(token);
}
