/**
 * A TLS node in this process: what a certificate reload does step by step (`ChatNode.reloadTls`, which
 * `main.ts` calls on SIGHUP). Certificates are made at run time.
 */
import assert from "node:assert/strict";
import { Connection } from "../lib/client/connection.ts";
import { startTestNode } from "./harness/chat_node.ts";
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
