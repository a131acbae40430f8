import assert from "node:assert/strict";
import { dirname } from "node:path";
import mysql from "mysql2/promise";
import { ServerProcess } from "./harness/chat_node.ts";
import { freePort } from "./harness/free_port.ts";
import { MariaDbServer } from "./harness/mariadb.ts";
import { NginxServer } from "./harness/nginx.ts";
import { ping, RedisServer } from "./harness/redis.ts";
import { assertServedBy, RedisCluster } from "./harness/redis_cluster.ts";

async function assertRefused(port: number): Promise<void> {
  await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port }), Deno.errors.ConnectionRefused);
}

async function assertGone(path: string): Promise<void> {
  await assert.rejects(Deno.stat(path), Deno.errors.NotFound);
}

/**
 * The temp folder of the server on `port`: the one with this prefix whose `file` mentions the port (other test
 * runs may have folders with the same prefix at the same time).
 */
async function serverDir(prefix: string, file: string, port: number): Promise<string> {
  // Where Deno.makeTempDir puts folders, without reading TMPDIR (no --allow-env needed).
  const probe = await Deno.makeTempDir();
  await Deno.remove(probe);
  const tmp = dirname(probe);
  for await (const entry of Deno.readDir(tmp)) {
    if (!entry.isDirectory || !entry.name.startsWith(prefix)) continue;
    const text = await Deno.readTextFile(`${tmp}/${entry.name}/${file}`).catch(() => "");
    if (new RegExp(`\\b${port}\\b`).test(text)) return `${tmp}/${entry.name}`;
  }
  throw new Error(`no ${prefix}* folder in ${tmp} with ${file} mentioning port ${port}`);
}

async function selectOne(url: string): Promise<unknown> {
  const conn = await mysql.createConnection(url);
  try {
    const [rows] = await conn.query("SELECT 1 AS one");
    return rows;
  } finally {
    await conn.end();
  }
}

Deno.test("freePort() returns a port that can be listened on", () => {
  const port = freePort();
  assert.ok(port > 1024 && port < 65536, `port ${port}`);
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  listener.close();
});

Deno.test("MariaDbServer.start() four times at once: each server initialises and answers", async () => {
  // They once shared /tmp for temporary tables, where two initialisations removed each other's files.
  const started = await Promise.allSettled(Array.from({ length: 4 }, () => MariaDbServer.start()));
  try {
    for (const result of started) {
      assert.equal(result.status, "fulfilled", result.status === "rejected" ? String(result.reason) : "");
      assert.deepEqual(await selectOne(result.value.url), [{ one: 1 }]);
    }
  } finally {
    await Promise.all(started.map((result) => result.status === "fulfilled" && result.value.close()));
  }
});

Deno.test("MariaDbServer round-trips emoji in utf8mb4, survives stop/restart, and close leaves nothing", async () => {
  const server = await MariaDbServer.start();
  let dir = "";
  try {
    dir = await serverDir("chat-mariadb-", "mariadbd.log", server.port);
    assert.equal(server.url, `mysql://root@127.0.0.1:${server.port}/chat`);
    assert.notEqual(server.port, 3306);
    assert.deepEqual(await selectOne(server.url), [{ one: 1 }]);

    const url = await server.createDatabase("harness_emoji");
    assert.equal(url, `mysql://root@127.0.0.1:${server.port}/harness_emoji`);
    await assert.rejects(server.createDatabase("harness_emoji"), /exists/);
    await assert.rejects(server.createDatabase("bad`name"), TypeError);

    const text = "héllo 👋🏽 世界 🚀";
    const conn = await mysql.createConnection({ uri: url, charset: "utf8mb4" });
    try {
      await conn.query("CREATE TABLE t (id INT PRIMARY KEY, body VARCHAR(100)) DEFAULT CHARSET=utf8mb4");
      await conn.execute("INSERT INTO t (id, body) VALUES (?, ?)", [1, text]);
      const [rows] = await conn.execute("SELECT body FROM t WHERE id = ?", [1]);
      assert.deepEqual(rows, [{ body: text }]);
    } finally {
      await conn.end();
    }

    await server.stop();
    await assertRefused(server.port);
    await assert.rejects(selectOne(url));
    await server.restart();
    const again = await mysql.createConnection(url);
    try {
      const [rows] = await again.execute("SELECT body FROM t WHERE id = ?", [1]);
      assert.deepEqual(rows, [{ body: text }], "data survives a restart");
    } finally {
      await again.end();
    }
    await server.restart();
    assert.deepEqual(await selectOne(server.url), [{ one: 1 }], "restart while running");
  } finally {
    await server.close();
  }
  await server.close();
  await assertRefused(server.port);
  await assertGone(dir);
  await assert.rejects(server.restart(), /closed/);
});

Deno.test("RedisServer answers a raw PING, survives stop/restart, and close leaves nothing", async () => {
  await using server = await RedisServer.start();
  const dir = await serverDir("chat-redis-", "redis.log", server.port);
  assert.equal(server.url, `redis://127.0.0.1:${server.port}`);
  assert.notEqual(server.port, 6379);
  await ping(server.port);

  await server.stop();
  await assertRefused(server.port);
  await server.restart();
  await ping(server.port);

  await server.close();
  await server.close();
  await assertRefused(server.port);
  await assertGone(dir);
});

/** redis-cli against the node on `port` alone (no `-c`: a MOVED comes back as the answer). */
async function redisCli(port: number, ...args: string[]): Promise<string> {
  const output = await new Deno.Command("redis-cli", {
    args: ["-h", "127.0.0.1", "-p", String(port), ...args],
    stdin: "null",
  }).output();
  return new TextDecoder().decode(output.stdout).trim();
}

Deno.test("RedisCluster.reshardThrough() moves a slot, the slots before it and their keys with redis-cli; reshard() rejects with what the tool refused", async () => {
  await using cluster = await RedisCluster.start();
  // On a new cluster slot 2 is its master's third: the tool takes a master's slots from the first.
  assert.equal(await cluster.keySlot("k2603"), 2);
  const from = await cluster.masterOf(2);
  const to = (await cluster.masters()).find((port) => port !== from)!;
  assert.equal(await redisCli(from, "set", "k2603", "moved along", "px", "600000"), "OK");

  assert.equal(await cluster.reshardCost(2), 3);
  assert.deepEqual(await cluster.reshardThrough(2, to), [0, 1, 2]);
  await assertServedBy(cluster, [0, 1, 2], to);
  assert.equal(await redisCli(to, "get", "k2603"), "moved along");
  assert.ok(Number(await redisCli(to, "pttl", "k2603")) > 0, "the key keeps its expiry");
  // Asked at once after the move (the tool's check may first find nodes that have not heard of it yet).
  await assert.rejects(cluster.reshard(to, to, 1), /target node as source node/);
});

/** Sends `message` through the proxy on `port`; "ok" when it comes back unchanged. */
async function echoThrough(port: number, message: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(new TextEncoder().encode(message));
    const buffer = new Uint8Array(100);
    let got = "";
    while (got.length < message.length) {
      const n = await conn.read(buffer);
      if (n === null) break;
      got += new TextDecoder().decode(buffer.subarray(0, n));
    }
    return got === message ? "ok" : `got ${JSON.stringify(got)}`;
  } finally {
    conn.close();
  }
}

Deno.test("NginxServer proxies TCP to a live upstream past a dead one, and close leaves nothing", async () => {
  const echo = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = (async () => {
    for await (const conn of echo) {
      conn.readable.pipeTo(conn.writable).catch(() => {});
    }
  })();
  const dead = `127.0.0.1:${freePort()}`;
  const server = await NginxServer.start({
    upstreams: [dead, `127.0.0.1:${(echo.addr as Deno.NetAddr).port}`],
  });
  let dir = "";
  try {
    dir = await serverDir("chat-nginx-", "nginx.conf", server.port);
    assert.notEqual(server.port, 80);
    // Several connections, so least_conn sends some towards the dead node and nginx must move them on.
    for (let i = 0; i < 4; i++) assert.equal(await echoThrough(server.port, `through nginx ✓ ${i}\n`), "ok");
  } finally {
    await server.close();
    echo.close();
    await serving;
  }
  await server.close();
  await assertRefused(server.port);
  await assertGone(dir);
});

// The soak bench lost chat frames through nginx: a client that half-closed never read what its node wrote
// after seeing the end of input, because nginx closed both sides at the client's FIN (proxy_half_close off).
Deno.test("NginxServer passes a client's half-close through: what the upstream writes afterwards arrives", async () => {
  const upstream = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = (async () => {
    for await (const conn of upstream) {
      (async () => {
        const buffer = new Uint8Array(64);
        while (await conn.read(buffer) !== null);
        // Like a node storing a frame while it ends the session: a write after the client's FIN.
        await new Promise((resolve) => setTimeout(resolve, 100));
        await conn.write(new TextEncoder().encode("late frame\n"));
        conn.close();
      })().catch(() => {});
    }
  })();
  const server = await NginxServer.start({
    upstreams: [`127.0.0.1:${(upstream.addr as Deno.NetAddr).port}`],
  });
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    await conn.write(new TextEncoder().encode("bye\n"));
    await conn.closeWrite();
    const received = await new Response(conn.readable).text();
    assert.equal(received, "late frame\n");
  } finally {
    await server.close();
    upstream.close();
    await serving;
  }
});

Deno.test("NginxServer.start() rejects a malformed upstream", async () => {
  await assert.rejects(NginxServer.start({ upstreams: ["127.0.0.1:1; evil"] }), TypeError);
  await assert.rejects(NginxServer.start({ upstreams: [] }), TypeError);
});

Deno.test("ServerProcess.start(): a node that exits before listening fails with the end of its log, which may be gone later", async () => {
  const dir = await Deno.makeTempDir();
  try {
    using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    await assert.rejects(
      () =>
        ServerProcess.start(
          ["--port", String(taken.addr.port), "--db", ":memory:"],
          `${dir}/node.log`,
        ),
      (error: Error) =>
        /exited before listening/.test(error.message) &&
        error.message.includes(`127.0.0.1:${taken.addr.port} is already in use`),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
