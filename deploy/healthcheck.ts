/**
 * The container's health check: GET /healthz on the local HTTP listener, over
 * HTTPS when TLS is configured. Exits 0 when healthy, 1 otherwise. The
 * Dockerfile runs it with `--unsafely-ignore-certificate-errors=127.0.0.1`,
 * since the certificate names the public host, not the loopback address.
 * @module
 */

const port = Deno.env.get("HTTP_PORT") || "8000";
const scheme = Deno.env.get("TLS_CERT") ? "https" : "http";
try {
  const res = await fetch(`${scheme}://127.0.0.1:${port}/healthz`, {
    signal: AbortSignal.timeout(4000),
  });
  await res.body?.cancel();
  Deno.exit(res.ok ? 0 : 1);
} catch {
  Deno.exit(1);
}
