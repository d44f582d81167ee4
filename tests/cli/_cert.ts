/**
 * A throwaway self-signed server certificate for 127.0.0.1, made with
 * `openssl`, marked `CA:FALSE`: rustls (Deno's TLS, also under `node:tls`)
 * rejects a CA certificate used as the server's own (`CaUsedAsEndEntity`).
 * @module
 */

/** Certificate and key files in a temp dir, removed on dispose. */
export interface ServerCertificate extends AsyncDisposable {
  certFile: string;
  keyFile: string;
}

/** Generates the certificate (valid one day, `IP:127.0.0.1` and `DNS:localhost`). */
export async function makeServerCertificate(): Promise<ServerCertificate> {
  const dir = await Deno.makeTempDir({ prefix: "eb-cli-tls-" });
  const certFile = `${dir}/cert.pem`;
  const keyFile = `${dir}/key.pem`;
  const out = await new Deno.Command("openssl", {
    args: [
      ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"],
      ...["-nodes", "-days", "1", "-subj", "/CN=localhost"],
      ...["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
      ...["-addext", "basicConstraints=critical,CA:FALSE"],
      ...["-addext", "keyUsage=digitalSignature", "-addext", "extendedKeyUsage=serverAuth"],
      ...["-keyout", keyFile, "-out", certFile],
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    await Deno.remove(dir, { recursive: true });
    throw new Error(`Cannot generate a test certificate: ${new TextDecoder().decode(out.stderr)}`);
  }
  return {
    certFile,
    keyFile,
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
