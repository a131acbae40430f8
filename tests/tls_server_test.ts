/**
 * The chat port over TLS (`--tls-cert`, `--tls-key`) through a real `main.ts`: chat between two TLS clients,
 * plain text and half handshakes refused without harm to others, a wrong CA refused, SIGHUP reloading the
 * certificate under open connections, and the start errors for bad files. Certificates are made at run time.
 */
import assert from "node:assert/strict";
import { Connection, type Frame } from "../lib/client/connection.ts";
import { ConnectError } from "../lib/client/errors.ts";
import { ServerProcess } from "./harness/chat_node.ts";
import { eventually } from "./harness/eventually.ts";
import { makeTempDir, removeTempDir } from "./harness/temp_dir.ts";
import { TestClient } from "./harness/test_client.ts";
import { makeTestPki, type TestPki } from "./harness/tls_certs.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

/** A TLS server on a free port with a certificate signed by `pki`, plus its files, stopped at the end. */
async function tlsServer(pki: TestPki): Promise<ServerProcess & { cert: string; key: string }> {
  const { cert, key } = await pki.serverCert("chat server");
  const server = await ServerProcess.start(
    ["--port", "0", "--db", ":memory:", "--tls-cert", cert, "--tls-key", key],
    `${pki.dir}/server.log`,
  );
  return Object.assign(server, { cert, key });
}

/** A TLS connection that verifies against `caFile`, keeping the frames that are not replies. */
async function tlsConnect(port: number, caFile: string): Promise<Connection & { pushed: Frame[] }> {
  const pushed: Frame[] = [];
  const connection = await Connection.open({
    hostname: "127.0.0.1",
    port,
    heartbeatMs: 0,
    tls: { caFile },
    onFrame: (frame) => pushed.push(frame),
  });
  return Object.assign(connection, { pushed });
}

/** Registers and logs in `name` over a new TLS connection. */
async function tlsUser(port: number, caFile: string, name: string) {
  const connection = await tlsConnect(port, caFile);
  const reg = await connection.request({ msgid: 4, name, password: `pw-${name}` });
  assert.equal(reg.errno, 0, JSON.stringify(reg));
  const login = await connection.request({ msgid: 1, id: reg.id, password: `pw-${name}` });
  assert.equal(login.errno, 0, JSON.stringify(login));
  return { connection, id: reg.id as number };
}

async function pong(connection: Connection): Promise<void> {
  assert.equal((await connection.request({ msgid: 13 })).msgid, 14);
}

Deno.test("TLS: register, login and ONE_CHAT between two TLS clients through main.ts", async () => {
  await using pki = await makeTestPki("chat test CA");
  await using server = await tlsServer(pki);
  const alice = await tlsUser(server.port, pki.caCert, "alice");
  const bob = await tlsUser(server.port, pki.caCert, "bob");
  try {
    const ack = await alice.connection.request({ msgid: 6, toid: bob.id, msg: "over TLS 🔒" });
    assert.equal(ack.errno, 0, JSON.stringify(ack));
    const received = await eventually(
      () => bob.connection.pushed.find((frame) => frame.msgid === 6) ?? false,
      { what: "bob's ONE_CHAT" },
    );
    assert.equal(received.msg, "over TLS 🔒");
    assert.equal(received.id, alice.id);
  } finally {
    alice.connection.close();
    bob.connection.close();
  }
});

Deno.test("TLS: plain text to the TLS port is closed without a reply, and the server keeps serving", async () => {
  await using pki = await makeTestPki("chat test CA");
  await using server = await tlsServer(pki);
  await using plain = await TestClient.connect(server.port);
  await plain.send({ msgid: 13, v: 2, cid: 1 });
  await plain.closed;
  assert.deepEqual(plain.pending, [], "no chat frame in clear text");
  const tls = await tlsConnect(server.port, pki.caCert);
  await pong(tls);
  tls.close();
});

Deno.test("TLS: a client that trusts another CA is refused with the reason, and never sends chat", async () => {
  await using pki = await makeTestPki("chat test CA");
  await using other = await makeTestPki("some other CA");
  await using server = await tlsServer(pki);
  await assert.rejects(
    () => tlsConnect(server.port, other.caCert),
    (error: Error) =>
      error instanceof ConnectError &&
      /^cannot connect to 127\.0\.0\.1:\d+: TLS certificate verification failed \(.*UnknownIssuer.*\) against the CA in /
        .test(error.message),
  );
  await assert.rejects(
    () => Connection.open({ hostname: "127.0.0.1", port: server.port, tls: {}, onFrame: () => {} }),
    (error: Error) =>
      /TLS certificate verification failed .*; for a server with a private CA, pass its certificate with --ca FILE/
        .test(error.message),
  );
});

Deno.test("TLS: half a ClientHello (then silence, or a close) does not hurt other connections", async () => {
  await using pki = await makeTestPki("chat test CA");
  await using server = await tlsServer(pki);
  const alice = await tlsUser(server.port, pki.caCert, "alice");
  // A TLS record header announcing 512 bytes of handshake, then only the start of a ClientHello.
  const half = new Uint8Array([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 1, 2, 3, 4]);
  const stalled = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  await stalled.write(half);
  const closed = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  await closed.write(half);
  closed.close();
  try {
    await pong(alice.connection);
    const bob = await tlsUser(server.port, pki.caCert, "bob");
    assert.equal((await alice.connection.request({ msgid: 6, toid: bob.id, msg: "still here" })).errno, 0);
    await eventually(() => bob.connection.pushed.some((frame) => frame.msg === "still here"), {
      what: "bob's message while a handshake stalls",
    });
    bob.connection.close();
  } finally {
    stalled.close();
    alice.connection.close();
  }
});

Deno.test("TLS: SIGHUP reloads the certificate; open connections keep chatting, new ones get the new one", async () => {
  await using first = await makeTestPki("first CA");
  await using second = await makeTestPki("second CA");
  const server = await tlsServer(first);
  const alice = await tlsUser(server.port, first.caCert, "alice");
  try {
    // A bad file first: logged, and the old pair kept (tls_node_test.ts checks that step by step).
    await Deno.writeTextFile(server.cert, "-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n");
    Deno.kill(server.pid, "SIGHUP");
    const renewed = await second.serverCert("renewed server");
    await Deno.copyFile(renewed.cert, server.cert);
    await Deno.copyFile(renewed.key, server.key);
    Deno.kill(server.pid, "SIGHUP");
    // The server's log reaches its file only at exit here, so the reload shows by its effect.
    const bob = await eventually(() => tlsUser(server.port, second.caCert, "bob"), {
      what: "a connection that trusts only the second CA",
    });
    await pong(alice.connection);
    assert.equal((await alice.connection.request({ msgid: 6, toid: bob.id, msg: "after reload" })).errno, 0);
    await eventually(() => bob.connection.pushed.some((frame) => frame.msg === "after reload"), {
      what: "bob's message after the reload",
    });
    bob.connection.close();
    await assert.rejects(() => tlsConnect(server.port, first.caCert), /UnknownIssuer/);
  } finally {
    alice.connection.close();
    assert.equal((await server.stop("SIGTERM")).code, 0);
  }
  const log = await Deno.readTextFile(server.logFile);
  assert.match(log, /ERROR .*TLS reload failed; new connections keep the old certificate .*\(--tls-cert\)/);
  assert.match(log, /INFO .*TLS certificate reloaded/);
  assert.ok(log.indexOf("TLS reload failed") < log.indexOf("TLS certificate reloaded"));
});

/** Runs main.ts to its exit with `args` and only the permissions in `permissions`. */
async function start(args: string[], permissions = ["--allow-net", "--allow-read", "--allow-env"]) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...permissions, MAIN, "--port", "0", "--db", ":memory:", ...args],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).output();
  return { code: output.code, stderr: new TextDecoder().decode(output.stderr) };
}

Deno.test("TLS: a missing, bad, mismatched or forbidden file, or only one of the two, stops the start", async () => {
  await using pki = await makeTestPki("chat test CA");
  const one = await pki.serverCert("one");
  const two = await pki.serverCert("two");
  const dir = await makeTempDir("chat-tls-bad-");
  try {
    const missing = await start(["--tls-cert", `${dir}/nope.crt`, "--tls-key", one.key]);
    assert.equal(missing.code, 1);
    assert.equal(
      missing.stderr.trim(),
      `cannot read the TLS certificate ${dir}/nope.crt (--tls-cert): no such file`,
    );

    await Deno.writeTextFile(`${dir}/garbage.pem`, "not a certificate\n");
    const garbage = await start(["--tls-cert", `${dir}/garbage.pem`, "--tls-key", one.key]);
    assert.equal(garbage.code, 1);
    assert.match(
      garbage.stderr,
      /^cannot use the TLS certificate .*garbage\.pem \(--tls-cert\) with the key .* \(--tls-key\): /,
    );

    const mismatched = await start(["--tls-cert", one.cert, "--tls-key", two.key]);
    assert.equal(mismatched.code, 1);
    assert.match(mismatched.stderr, /KeyMismatch/);

    const forbidden = await start(["--tls-cert", one.cert, "--tls-key", one.key], [
      "--allow-net",
      "--allow-env",
      "--allow-read=./data,./sql",
    ]);
    assert.equal(forbidden.code, 1);
    assert.match(
      forbidden.stderr,
      new RegExp(`this process may not read it\\. Add --allow-read=${one.cert} `),
    );

    const alone = await start(["--tls-cert", one.cert]);
    assert.equal(alone.code, 2);
    assert.match(alone.stderr, /^--tls-cert needs --tls-key \(CHAT_TLS_KEY\): give both files or neither/);
  } finally {
    await removeTempDir(dir);
  }
});
