import * as grpc from "@grpc/grpc-js";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { makeTestCertificate } from "../_helpers/tls.ts";
import { collect, startGrpc } from "./grpc_client.ts";

/** One field of a protobuf message: its number and its raw value. */
interface Field {
  no: number;
  value: Uint8Array | bigint;
}

/** Decodes the top level of a protobuf message (enough for reflection answers). */
function decode(buf: Uint8Array): Field[] {
  const fields: Field[] = [];
  let i = 0;
  const varint = (): bigint => {
    let v = 0n;
    for (let shift = 0n;; shift += 7n) {
      const b = buf[i++];
      v |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return v;
    }
  };
  while (i < buf.length) {
    const key = Number(varint());
    const wire = key & 7;
    if (wire === 0) fields.push({ no: key >> 3, value: varint() });
    else if (wire === 2) {
      const len = Number(varint());
      fields.push({ no: key >> 3, value: buf.subarray(i, i + len) });
      i += len;
    } else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else throw new Error(`unexpected wire type ${wire}`);
  }
  return fields;
}

function bytesOf(fields: Field[], no: number): Uint8Array[] {
  return fields.filter((f) => f.no === no).map((f) => f.value as Uint8Array);
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** A length-delimited field holding a string. */
function stringField(no: number, value: string): Uint8Array {
  const bytes = new TextEncoder().encode(value);
  return new Uint8Array([(no << 3) | 2, bytes.length, ...bytes]);
}

/** Sends one reflection request on the v1 service and returns the decoded answer. */
function reflect(client: grpc.Client, request: Uint8Array): Promise<Field[]> {
  const call = client.makeBidiStreamRequest(
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    (b: Uint8Array) => Buffer.from(b),
    (b: Buffer) => new Uint8Array(b),
  );
  const answer = new Promise<Field[]>((resolve, reject) => {
    call.on("data", (b: Uint8Array) => resolve(decode(b)));
    call.on("error", reject);
  });
  call.write(request);
  call.end();
  return answer.finally(() => call.cancel());
}

Deno.test("reflection lists every service and serves their descriptors without protos", async () => {
  await using srv = await startGrpc();
  const client = srv.raw();
  // list_services (field 7) = ""
  const listed = await reflect(client, stringField(7, ""));
  const [list] = bytesOf(listed, 6);
  assert.ok(list, "a list_services_response");
  const names = bytesOf(decode(list), 1).map((s) => text(bytesOf(decode(s), 1)[0]));
  for (const name of ["chat.Chat", "easybackend.v1.Chat", "grpc.health.v1.Health"]) {
    assert.ok(names.includes(name), `${name} in ${names.join(", ")}`);
  }
  // file_containing_symbol (field 4)
  const files = await reflect(client, stringField(4, "easybackend.v1.Chat"));
  const [fdResponse] = bytesOf(files, 4);
  assert.ok(fdResponse, "a file_descriptor_response");
  const descriptors = bytesOf(decode(fdResponse), 1).map(decode);
  const packages = descriptors.map((d) => text(bytesOf(d, 2)[0] ?? new Uint8Array()));
  assert.ok(packages.includes("easybackend.v1"), packages.join(", "));
});

Deno.test("TLS serves gRPC over the configured certificate when TLS_CERT is set", async () => {
  await using tls = await makeTestCertificate();
  await using srv = await startGrpc({ env: { TLS_CERT: tls.certFile, TLS_KEY: tls.keyFile } });
  const creds = grpc.credentials.createSsl(Buffer.from(tls.certPem));
  const r = await collect<{ response: string }>(
    srv.legacy(creds, {
      // Deno's node:tls refuses an IP address as the server name.
      "grpc.ssl_target_name_override": "localhost",
    }).Ask({ prompt: "secure?" }),
  );
  assert.equal(r.error, null);
  assert.match(r.messages.at(-1)!.response, /^<\|end\|>\$/);
  const plain = await collect(
    srv.legacy(grpc.credentials.createInsecure(), { "grpc.initial_reconnect_backoff_ms": 50 })
      .Ask({ prompt: "plain" }, new grpc.Metadata(), { deadline: Date.now() + 1000 }),
  );
  assert.ok(plain.error, "a plaintext client is refused");
});
