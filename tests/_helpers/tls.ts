/**
 * A throwaway self-signed certificate for `127.0.0.1` and `localhost`, made
 * with the `openssl` command in a temp dir, for tests of HTTPS, WSS and gRPC
 * over TLS.
 *
 * @example
 * ```ts ignore
 * await using tls = await makeTestCertificate();
 * const client = Deno.createHttpClient({ caCerts: [tls.certPem] });
 * ```
 * @module
 */

/** A certificate and its key, as files and as PEM text. */
export interface TestCertificate extends AsyncDisposable {
  /** The temp dir holding both files. */
  dir: string;
  /** Path of the PEM certificate (give it as `TLS_CERT`). */
  certFile: string;
  /** Path of the PEM private key (give it as `TLS_KEY`). */
  keyFile: string;
  certPem: string;
  keyPem: string;
}

/**
 * Generates a self-signed EC leaf certificate valid for a day, with the
 * subject alternative names `IP:127.0.0.1` and `DNS:localhost`; clients trust
 * it by taking the certificate itself as their CA.
 * @throws {Error} with openssl's output when the command fails
 */
export async function makeTestCertificate(): Promise<TestCertificate> {
  const dir = await Deno.makeTempDir({ prefix: "eb-tls-" });
  const certFile = `${dir}/cert.pem`;
  const keyFile = `${dir}/key.pem`;
  const out = await new Deno.Command("openssl", {
    args: [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=IP:127.0.0.1,DNS:localhost",
      // A leaf, not a CA: rustls (Deno's fetch) refuses a CA certificate used as the server's.
      "-addext",
      "basicConstraints=critical,CA:FALSE",
      "-addext",
      "keyUsage=critical,digitalSignature",
      "-addext",
      "extendedKeyUsage=serverAuth",
      "-keyout",
      keyFile,
      "-out",
      certFile,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    await Deno.remove(dir, { recursive: true });
    throw new Error(
      `Cannot generate a test certificate: openssl exited ${out.code}: ${
        new TextDecoder().decode(out.stderr)
      }`,
    );
  }
  return {
    dir,
    certFile,
    keyFile,
    certPem: await Deno.readTextFile(certFile),
    keyPem: await Deno.readTextFile(keyFile),
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
