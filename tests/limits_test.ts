/**
 * A node at its own limits (issue 14): `--max-connections` reached, file descriptors exhausted, `--max-memory`
 * reached. Each refuses new connections cleanly, is logged once per interval with a count, and the node keeps
 * serving the sessions it has.
 */
import assert from "node:assert/strict";
import { LocalBus } from "../lib/bus/local_bus.ts";
import { ChatService } from "../lib/service/chat_service.ts";
import { hashPassword } from "../lib/service/password.ts";
import { SqliteStore } from "../lib/store/sqlite_store.ts";
import { ServerProcess } from "./harness/chat_node.ts";
import { eventually } from "./harness/eventually.ts";
import { freePort } from "./harness/free_port.ts";
import { RecordingConnection, RecordingLogger } from "./harness/service_fakes.ts";
import { makeTempDir, removeTempDir } from "./harness/temp_dir.ts";
import { type Reply, TestClient } from "./harness/test_client.ts";
import { uniqueName } from "./protocol_suite.ts";

/** The JSON log lines of `server` with this event. */
async function logged(server: ServerProcess, event: string): Promise<Record<string, unknown>[]> {
  const text = await Deno.readTextFile(server.logFile);
  return text.split("\n").filter((line) => line.startsWith("{")).map((line) => JSON.parse(line))
    .filter((entry) => entry.event === event);
}

/** Registers two users over `client` (REG needs no login), so no extra connection counts against a cap. */
async function twoUsers(client: TestClient): Promise<[number, number]> {
  const ids = [];
  for (const name of [uniqueName(), uniqueName()]) {
    const reply = await client.request({ msgid: 4, name, password: "pw" });
    assert.equal(reply.errno, 0, JSON.stringify(reply));
    ids.push(reply.id as number);
  }
  return ids as [number, number];
}

/** `from` sends `to` a chat; resolves with the frame `to` receives. */
async function chat(from: TestClient, to: TestClient, toId: number, msg: string): Promise<Reply> {
  const ack = await from.request({ msgid: 6, toid: toId, msg });
  assert.equal(ack.errno, 0, JSON.stringify(ack));
  return await to.next((frame) => frame.msgid === 6 && frame.msg === msg);
}

/** Alice and Bob logged in on two connections; a third connection only pings. */
async function chattingPair(port: number) {
  const alice = await TestClient.connect(port);
  const [aliceId, bobId] = await twoUsers(alice);
  assert.equal((await alice.request({ msgid: 1, id: aliceId, password: "pw" })).errno, 0);
  const bob = await TestClient.connect(port);
  assert.equal((await bob.request({ msgid: 1, id: bobId, password: "pw" })).errno, 0);
  return { alice, bob, aliceId, bobId };
}

Deno.test("--max-connections: the 4th..10th connections get errno 11 and are closed, logged once per interval with the count", async () => {
  const dir = await makeTempDir("limits-conn-");
  try {
    await using server = await ServerProcess.start(
      ["--port", "0", "--db", ":memory:", "--log-format", "json", "--max-connections", "3"],
      `${dir}/node.log`,
    );
    const { alice, bob, bobId } = await chattingPair(server.port);
    await using third = await TestClient.connect(server.port);
    assert.equal((await third.request({ msgid: 13 })).msgid, 14);

    const extras = await Promise.all(Array.from({ length: 7 }, () => TestClient.connect(server.port)));
    for (const extra of extras) {
      const refused = await extra.next();
      assert.deepEqual(
        [refused.msgid, refused.errno, refused.errmsg],
        [12, 11, "server busy: too many connections; try again later"],
      );
      await extra.closed;
    }
    assert.equal((await chat(alice, bob, bobId, "still here")).msg, "still here");

    const event = "connections refused: too many connections";
    // One line at once, then one at the end of the interval for the other six.
    const lines = await eventually(async () => {
      const lines = await logged(server, event);
      return lines.length >= 2 && lines;
    }, { what: "the interval's refusal count in the log", timeoutMs: 15_000 });
    assert.deepEqual(lines.map((line) => [line.level, line.count, line.max_connections]), [
      ["warn", 1, 3],
      ["warn", 6, 3],
    ]);
    alice.close();
    bob.close();
  } finally {
    await removeTempDir(dir);
  }
});

Deno.test("file descriptors exhausted: the node keeps running, logs accept failures once per interval, and accepts again after clients close", async () => {
  const dir = await makeTempDir("limits-fd-");
  try {
    await using server = await ServerProcess.start(
      ["--port", "0", "--db", ":memory:", "--log-format", "json"],
      `${dir}/node.log`,
      {},
      { openFiles: 64 },
    );
    const { alice, bob, aliceId, bobId } = await chattingPair(server.port);
    // More than 64 descriptors' worth: the kernel completes them (the listen backlog), the node cannot accept them all.
    const flood: Deno.TcpConn[] = [];
    for (let i = 0; i < 100; i++) {
      flood.push(await Deno.connect({ hostname: "127.0.0.1", port: server.port }));
    }
    const first = await eventually(async () => (await logged(server, "accept failed"))[0] ?? false, {
      what: "an accept failure in the log",
      timeoutMs: 10_000,
    });
    assert.equal(first.level, "error");
    assert.match(String(first.error), /Too many open files/);
    assert.equal(first.count, 1);
    // Logged in users still chat while the node cannot take new connections.
    assert.equal((await chat(alice, bob, bobId, "during the flood")).msg, "during the flood");
    const summary = await eventually(
      async () => (await logged(server, "accept failed")).find((line) => Number(line.count) > 1) ?? false,
      { what: "the interval's accept failure count", timeoutMs: 15_000 },
    );
    const lines = await logged(server, "accept failed");
    assert.ok(lines.length < lines.reduce((sum, line) => sum + Number(line.count), 0), JSON.stringify(lines));
    assert.ok(Number(summary.retry_ms) <= 1000, "the backoff is bounded");

    for (const conn of flood) conn.close();
    // Once the flood's descriptors are free, new connections are served again.
    const later = await eventually(async () => {
      const client = await TestClient.connect(server.port);
      try {
        return (await client.request({ msgid: 13 }, 1000)).msgid === 14 && client;
      } catch (error) {
        client.close();
        throw error;
      }
    }, { what: "a new connection served after the flood", timeoutMs: 15_000 });
    later.close();
    assert.equal((await chat(bob, alice, aliceId, "after the flood")).msg, "after the flood");
    alice.close();
    bob.close();
    assert.equal((await server.stop("SIGTERM")).code, 0, "no crash: a clean stop");
  } finally {
    await removeTempDir(dir);
  }
});

Deno.test("--max-memory below the RSS: new connections get errno 11 and are closed, logged once, shown in /metrics", async () => {
  const dir = await makeTempDir("limits-mem-");
  try {
    const metricsPort = freePort();
    await using server = await ServerProcess.start(
      [
        "--port",
        "0",
        "--db",
        ":memory:",
        "--log-format",
        "json",
        "--max-memory",
        "1",
        "--metrics-port",
        String(metricsPort),
      ],
      `${dir}/node.log`,
    );
    for (let i = 0; i < 3; i++) {
      await using client = await TestClient.connect(server.port);
      const refused = await client.next();
      assert.deepEqual(
        [refused.msgid, refused.errno, refused.errmsg],
        [12, 11, "server busy: memory limit reached; try again later"],
      );
      await client.closed;
    }
    const lines = await logged(server, "connections refused: memory limit reached");
    assert.equal(lines.length, 1, JSON.stringify(lines));
    assert.deepEqual([lines[0].level, lines[0].count, lines[0].max_memory_mib], ["warn", 1, 1]);
    assert.ok(Number(lines[0].rss_mib) >= 1);
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    assert.match(metrics, /^chat_max_memory_bytes 1048576$/m);
    assert.match(metrics, /^chat_memory_limit_reached 1$/m);
    assert.match(metrics, /^chat_connections_refused_total\{reason="max_memory"\} 3$/m);
    assert.match(metrics, /^chat_accept_failures_total 0$/m);
  } finally {
    await removeTempDir(dir);
  }
});

Deno.test("ChatService at the memory bound refuses new connections; logged-in sessions keep chatting; accepted again below it", async () => {
  const store = SqliteStore.open(":memory:");
  await store.migrate();
  const bus = new LocalBus("n1");
  const log = new RecordingLogger();
  const memoryBound = { reached: false, rss: 300 * 1024 * 1024, maxBytes: 256 * 1024 * 1024 };
  const service = new ChatService({ store, bus, log, memoryBound });
  try {
    const hash = await hashPassword("pw");
    const [aliceId, bobId] = [
      await store.createUser(uniqueName(), hash),
      await store.createUser(uniqueName(), hash),
    ];
    const open = async (remote: string, ...frames: Record<string, unknown>[]) => {
      const connection = new RecordingConnection(remote);
      service.onOpen(connection);
      for (const frame of frames) await service.onFrame(connection, JSON.stringify(frame));
      return connection;
    };
    const alice = await open("10.0.0.1:1", { msgid: 1, v: 2, cid: 1, id: aliceId, password: "pw" });
    const bob = await open("10.0.0.2:1", { msgid: 1, v: 2, cid: 1, id: bobId, password: "pw" });
    memoryBound.reached = true;
    const refused = [await open("10.0.0.3:1"), await open("10.0.0.4:1", { msgid: 13, v: 2 })];
    for (const connection of refused) {
      assert.deepEqual(connection.frames().map((frame) => [frame.msgid, frame.errno]), [[12, 11]]);
      assert.equal(connection.isClosed, true, "closed after the refusal");
    }
    await service.onFrame(
      alice,
      JSON.stringify({ msgid: 6, v: 2, cid: 2, toid: bobId, msg: "at the bound" }),
    );
    const ack = alice.frames().find((frame) => frame.cid === 2);
    assert.deepEqual([ack?.msgid, ack?.errno], [11, 0], JSON.stringify(ack));
    await eventually(() => bob.frames().some((frame) => frame.msgid === 6 && frame.msg === "at the bound"), {
      what: "bob receives alice's chat",
    });
    const lines = log.entries.filter((entry) => entry.event === "connections refused: memory limit reached");
    assert.deepEqual(lines.map((entry) => [entry.level, entry.fields.count, entry.fields.rss_mib]), [[
      "warn",
      1,
      300,
    ]]);

    memoryBound.reached = false;
    const welcome = await open("10.0.0.5:1", { msgid: 13, v: 2 });
    assert.deepEqual(welcome.frames().map((frame) => frame.msgid), [14]);
  } finally {
    await service.endAllLogins();
    await bus.close();
    await store.close();
  }
});
