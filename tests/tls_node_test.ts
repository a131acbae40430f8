/**
 * A TLS node in this process: what a certificate reload does step by step (`ChatNode.reloadTls`, which
 * `main.ts` calls on SIGHUP). Certificates are made at run time.
 */
import assert from "node:assert/strict";
import { Connection } from "../lib/client/connection.ts";
import { AddressInUseError } from "../lib/server.ts";
import { startTestNode } from "./harness/chat_node.ts";
import { eventually } from "./harness/eventually.ts";
import { readUntilClosed } from "./harness/test_client.ts";
import { makeTestPki } from "./harness/tls_certs.ts";

async function ping(port: number, caFile: string): Promise<void> {
  await using connection = await Connection.open({
    hostname: "127.0.0.1",
    port,
    heartbeatMs: 0,
    tls: { caFile },
    onFrame: () => {},
  });
  assert.equal((await connection.request({ msgid: 13 })).msgid, 14);
}

Deno.test("reloadTls(): a bad file is refused and the old certificate kept; a good one is served next", async () => {
  await using first = await makeTestPki("first CA");
  await using second = await makeTestPki("second CA");
  const { cert, key } = await first.serverCert("server");
  await using node = await startTestNode({ tlsCert: cert, tlsKey: key });
  assert.equal(node.tls, true);
  await using open = await Connection.open({
    hostname: "127.0.0.1",
    port: node.port,
    heartbeatMs: 0,
    tls: { caFile: first.caCert },
    onFrame: () => {},
  });

  await Deno.writeTextFile(key, "not a key\n");
  assert.equal(await node.reloadTls(), false, "a bad key is not loaded");
  await ping(node.port, first.caCert);
  await Deno.remove(cert);
  assert.equal(await node.reloadTls(), false, "a missing file is not loaded");
  await ping(node.port, first.caCert);

  const renewed = await second.serverCert("renewed");
  await Deno.copyFile(renewed.cert, cert);
  await Deno.copyFile(renewed.key, key);
  assert.equal(await node.reloadTls(), true);
  await ping(node.port, second.caCert);
  await assert.rejects(() => ping(node.port, first.caCert), /UnknownIssuer/);
  assert.equal((await open.request({ msgid: 13 })).msgid, 14, "the open connection kept its session");
});

Deno.test("reloadTls() on a plain node does nothing", async () => {
  await using node = await startTestNode();
  assert.equal(node.tls, false);
  assert.equal(await node.reloadTls(), false);
});

Deno.test("TLS node: the longest message (8 KiB of UTF-8) and a burst of 200 small frames arrive intact and in order", async () => {
  await using pki = await makeTestPki("chat test CA");
  const { cert, key } = await pki.serverCert("server");
  await using node = await startTestNode({ tlsCert: cert, tlsKey: key });
  const pushed: { msg?: unknown; msgid: number }[] = [];
  const open = (onFrame: (frame: { msgid: number; msg?: unknown }) => void) =>
    Connection.open({
      hostname: "127.0.0.1",
      port: node.port,
      heartbeatMs: 0,
      tls: { caFile: pki.caCert },
      onFrame,
    });
  await using alice = await open(() => {});
  await using bob = await open((frame) => pushed.push(frame));
  const register = async (connection: Connection, name: string) => {
    const reg = await connection.request({ msgid: 4, name, password: "pw" });
    assert.equal((await connection.request({ msgid: 1, id: reg.id, password: "pw" })).errno, 0);
    return reg.id as number;
  };
  await register(alice, "alice");
  const bobId = await register(bob, "bob");
  const long = "é".repeat(4096); // the longest msg (PROTOCOL.md), 8 KiB of UTF-8
  assert.equal((await alice.request({ msgid: 6, toid: bobId, msg: long })).errno, 0);
  const burst = await Promise.all(
    Array.from({ length: 200 }, (_, i) => alice.request({ msgid: 6, toid: bobId, msg: `n${i}` })),
  );
  assert.ok(burst.every((ack) => ack.errno === 0));
  const chats = () => pushed.filter((frame) => frame.msgid === 6);
  await eventually(() => chats().length === 201, { what: "bob's 201 messages" });
  assert.equal(chats()[0].msg, long);
  assert.deepEqual(
    chats().slice(1).map((frame) => frame.msg),
    Array.from({ length: 200 }, (_, i) => `n${i}`),
  );
});

Deno.test("TLS node: a chat port in use is the same AddressInUseError as in plain text", async () => {
  await using pki = await makeTestPki("chat test CA");
  const { cert, key } = await pki.serverCert("server");
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  await assert.rejects(
    () => startTestNode({ tlsCert: cert, tlsKey: key, port: taken.addr.port }),
    (error: Error) => error instanceof AddressInUseError && /choose another --port/.test(error.message),
  );
});

Deno.test("TLS node: a client that stops reading is disconnected at --max-outbound-bytes, as in plain text", async () => {
  await using pki = await makeTestPki("chat test CA");
  const { cert, key } = await pki.serverCert("server");
  await using node = await startTestNode({ tlsCert: cert, tlsKey: key, maxOutboundBytes: 64 * 1024 });
  const caCerts = [await Deno.readTextFile(pki.caCert)];
  await using alice = await Connection.open({
    hostname: "127.0.0.1",
    port: node.port,
    heartbeatMs: 0,
    tls: { caFile: pki.caCert },
    onFrame: () => {},
  });
  const aliceReg = await alice.request({ msgid: 4, name: "alice", password: "pw" });
  assert.equal((await alice.request({ msgid: 1, id: aliceReg.id, password: "pw" })).errno, 0);
  // Bob logs in over raw TLS, then never reads again.
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port: node.port });
  const bob = await Deno.startTls(tcp, { hostname: "127.0.0.1", caCerts });
  const encoder = new TextEncoder();
  await bob.write(
    encoder.encode(JSON.stringify({ msgid: 4, v: 2, cid: 1, name: "bob", password: "pw" }) + "\n"),
  );
  const buffer = new Uint8Array(4096);
  const bobId = Number(
    new TextDecoder().decode(buffer.subarray(0, (await bob.read(buffer))!)).match(/"id":(\d+)/)![1],
  );
  await bob.write(
    encoder.encode(JSON.stringify({ msgid: 1, v: 2, cid: 2, id: bobId, password: "pw" }) + "\n"),
  );
  // 8 MB for bob: more than the kernel's buffers and the 64 KiB bound together.
  const total = 2000;
  const text = "x".repeat(4096);
  for (let start = 0; start < total; start += 200) {
    const acks = await Promise.all(
      Array.from({ length: 200 }, () => alice.request({ msgid: 6, toid: bobId, msg: text }, 30_000)),
    );
    assert.ok(acks.every((ack) => ack.errno === 0));
  }
  const frames = await readUntilClosed(bob);
  const chats = frames.filter((frame) => frame.msgid === 6).length;
  assert.ok(
    chats < total,
    `bob was disconnected before everything was written (${chats} of ${total} arrived)`,
  );
});
