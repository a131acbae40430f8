/**
 * `client.ts --tls [--ca FILE]` in script mode against a TLS node: it chats when the certificate checks out,
 * and refuses to connect (exit 3, the reason on stderr) when it does not. Certificates are made at run time.
 */
import assert from "node:assert/strict";
import { startTestNode } from "./harness/chat_node.ts";
import { makeTestPki } from "./harness/tls_certs.ts";

const CLIENT = new URL("../client.ts", import.meta.url).pathname;

/** Runs client.ts with `args` and `lines` on stdin, reading only `readable`, to its exit. */
async function runClient(port: number, args: string[], lines: string[], readable: string[] = []) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      ...(readable.length ? [`--allow-read=${readable.join(",")}`] : []),
      CLIENT,
      "--port",
      String(port),
      "--wait",
      "0",
      ...args,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(lines.map((line) => line + "\n").join("")));
  await writer.close();
  const output = await child.output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
}

Deno.test("client.ts --tls --ca: registers and logs in over TLS; a wrong or missing CA refuses to connect", async () => {
  await using pki = await makeTestPki("chat test CA");
  await using other = await makeTestPki("another CA");
  const { cert, key } = await pki.serverCert("server");
  await using node = await startTestNode({ tlsCert: cert, tlsKey: key });

  const ok = await runClient(node.port, ["--ca", pki.caCert], ["register carol secret"], [pki.caCert]);
  assert.equal(ok.code, 0, ok.stderr);
  const id = ok.stdout.match(/registered carol \((\d+)\)/)?.[1];
  assert.ok(id, ok.stdout);
  const login = await runClient(node.port, ["--tls", "--ca", pki.caCert], [`login ${id} secret`], [
    pki.caCert,
  ]);
  assert.equal(login.code, 0, login.stderr);
  assert.match(login.stdout, new RegExp(`logged in as carol \\(${id}\\)`));

  const wrong = await runClient(node.port, ["--tls", "--ca", other.caCert], ["register dave x"], [
    other.caCert,
  ]);
  assert.equal(wrong.code, 3);
  assert.match(
    wrong.stderr,
    /cannot connect to 127\.0\.0\.1:\d+: TLS certificate verification failed \(.*UnknownIssuer.*\) against the CA in /,
  );
  assert.doesNotMatch(wrong.stdout, /registered/);

  const system = await runClient(node.port, ["--tls"], ["register dave x"]);
  assert.equal(system.code, 3);
  assert.match(system.stderr, /TLS certificate verification failed .*pass its certificate with --ca FILE/);

  const missing = await runClient(node.port, ["--ca", `${pki.dir}/nope.crt`], ["register dave x"], [pki.dir]);
  assert.equal(missing.code, 3);
  assert.match(missing.stderr, /cannot read the CA file .*nope\.crt \(--ca\)/);

  const forbidden = await runClient(node.port, ["--ca", pki.caCert], ["register dave x"]);
  assert.equal(forbidden.code, 2, "a missing permission is a usage error, as for --allow-net");
  assert.match(forbidden.stderr, /--allow-read/);
});

Deno.test("client.ts without --tls to a TLS port gets no chat through, and says the connection was lost", async () => {
  await using pki = await makeTestPki("chat test CA");
  const { cert, key } = await pki.serverCert("server");
  await using node = await startTestNode({ tlsCert: cert, tlsKey: key });
  const plain = await runClient(node.port, [], ["register erin x"]);
  assert.equal(plain.code, 3, plain.stderr);
  assert.doesNotMatch(plain.stdout, /registered/);
  assert.match(plain.stderr, /connection to 127\.0\.0\.1:\d+ lost/);
});
