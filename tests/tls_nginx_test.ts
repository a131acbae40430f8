/**
 * The TLS-termination block of the project's `nginx.conf`, uncommented and run: two clients chat through nginx
 * over TLS to a plain node, and a client that trusts another CA is refused. When nginx or its stream module is
 * missing it fails with one line naming the Debian packages, as the other nginx tests do.
 */
import assert from "node:assert/strict";
import { Connection, type Frame } from "../lib/client/connection.ts";
import { startTestNode } from "./harness/chat_node.ts";
import { canConnect } from "./harness/can_connect.ts";
import { eventually } from "./harness/eventually.ts";
import { freePort } from "./harness/free_port.ts";
import { requireFile, requireProgram } from "./harness/required_program.ts";
import { ServiceProcess } from "./harness/service_process.ts";
import { makeTestPki } from "./harness/tls_certs.ts";

const NGINX_CONF = new URL("../nginx.conf", import.meta.url).pathname;

/**
 * `nginx.conf` with its TLS block uncommented, listening on `tlsPort` with `cert` and `key`, the plain server
 * on `plainPort`, and `upstream` as the only node.
 */
function tlsVariant(
  conf: string,
  options: { tlsPort: number; plainPort: number; upstream: string; cert: string; key: string },
): string {
  const begin = conf.indexOf("# BEGIN tls-termination");
  const end = conf.indexOf("# END tls-termination");
  assert.ok(begin > 0 && end > begin, "nginx.conf has its TLS block");
  const block = conf.slice(begin, end).split("\n").slice(1).map((line) => line.replace(/^(\s*)# ?/, "$1"))
    .join("\n");
  const variant = conf.slice(0, begin) + block + conf.slice(end);
  const servers = variant.match(/^\s*server 127\.0\.0\.1:\d+ .*;$/gm) ?? [];
  assert.ok(servers.length > 0, "nginx.conf names its nodes");
  return variant
    .replace(servers.join("\n"), `        server ${options.upstream} max_fails=1 fail_timeout=2s;`)
    .replace("listen 127.0.0.1:8443 ssl", `listen 127.0.0.1:${options.tlsPort} ssl`)
    .replace("listen 127.0.0.1:8000", `listen 127.0.0.1:${options.plainPort}`)
    .replace("/etc/chat/tls/fullchain.pem", options.cert)
    .replace("/etc/chat/tls/privkey.pem", options.key)
    .replace("worker_connections 16384", "worker_connections 1024");
}

Deno.test("nginx.conf's TLS termination: chat through nginx over TLS to a plain node; a wrong CA is refused", async () => {
  const nginx = await requireProgram("nginx", "nginx-light libnginx-mod-stream");
  await requireFile("/usr/lib/nginx/modules/ngx_stream_module.so", "libnginx-mod-stream");
  await using pki = await makeTestPki("chat test CA");
  await using other = await makeTestPki("another CA");
  const { cert, key } = await pki.serverCert("nginx");
  await using node = await startTestNode();
  const tlsPort = freePort();
  const conf = tlsVariant(await Deno.readTextFile(NGINX_CONF), {
    tlsPort,
    plainPort: freePort(),
    upstream: `127.0.0.1:${node.port}`,
    cert,
    key,
  });
  await Deno.mkdir(`${pki.dir}/logs`);
  await Deno.writeTextFile(`${pki.dir}/nginx.conf`, conf);
  const process = await ServiceProcess.spawn(nginx, [
    "-p",
    pki.dir,
    "-c",
    `${pki.dir}/nginx.conf`,
    "-e",
    `${pki.dir}/logs/error.log`,
    "-g",
    "daemon off; master_process off;",
  ], `${pki.dir}/nginx.out`);
  const connections: Connection[] = [];
  try {
    await eventually(() => canConnect(tlsPort), {
      what: `nginx on 127.0.0.1:${tlsPort}`,
      process,
      timeoutMs: 10_000,
    });
    const user = async (name: string) => {
      const pushed: Frame[] = [];
      const connection = await Connection.open({
        hostname: "127.0.0.1",
        port: tlsPort,
        heartbeatMs: 0,
        tls: { caFile: pki.caCert },
        onFrame: (frame) => pushed.push(frame),
      });
      connections.push(connection);
      const reg = await connection.request({ msgid: 4, name, password: "pw" });
      assert.equal((await connection.request({ msgid: 1, id: reg.id, password: "pw" })).errno, 0);
      return { connection, pushed, id: reg.id as number };
    };
    const alice = await user("alice");
    const bob = await user("bob");
    assert.equal((await alice.connection.request({ msgid: 6, toid: bob.id, msg: "through nginx" })).errno, 0);
    const got = await eventually(() => bob.pushed.find((frame) => frame.msgid === 6) ?? false, {
      what: "bob's message through nginx",
    });
    assert.equal(got.msg, "through nginx");
    await assert.rejects(
      () =>
        Connection.open({
          hostname: "127.0.0.1",
          port: tlsPort,
          tls: { caFile: other.caCert },
          onFrame: () => {},
        }),
      /TLS certificate verification failed .*UnknownIssuer/,
    );
  } finally {
    for (const connection of connections) connection.close();
    await process.stop();
  }
});
