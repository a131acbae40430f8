/** Heartbeats, back-pressure, limits, metrics and health of one node. */
import assert from "node:assert/strict";
import { LocalBus } from "../lib/bus/local_bus.ts";
import { ChatService } from "../lib/service/chat_service.ts";
import { hashPassword } from "../lib/service/password.ts";
import { SqliteStore } from "../lib/store/sqlite_store.ts";
import { ServerProcess, startTestNode } from "./harness/chat_node.ts";
import { RecordingConnection, RecordingLogger } from "./harness/service_fakes.ts";
import { readUntilClosed, type Reply, TestClient } from "./harness/test_client.ts";
import { member, registerUser, uniqueName } from "./protocol_suite.ts";

/** A service in this process on an in-memory store, logging into a {@linkcode RecordingLogger}. */
async function inProcessService(options: { idleTimeout?: number } = {}) {
  const store = SqliteStore.open(":memory:");
  await store.migrate();
  const bus = new LocalBus("n1");
  const log = new RecordingLogger();
  const service = new ChatService({ store, bus, log, ...options });
  return {
    store,
    log,
    service,
    /** A connection from `remote`, opened and with `frames` handled in order. */
    async open(remote: string, ...frames: Record<string, unknown>[]) {
      const connection = new RecordingConnection(remote);
      service.onOpen(connection);
      for (const frame of frames) await service.onFrame(connection, JSON.stringify(frame));
      return connection;
    },
    async [Symbol.asyncDispose]() {
      await service.endAllLogins();
      await bus.close();
      await store.close();
    },
  };
}

Deno.test(
  "idle timeout: a silent v2 connection is closed and its friends see it go offline",
  async () => {
    await using node = await startTestNode({ idleTimeout: 1 });
    const alice = await member(node.port);
    const bob = await member(node.port);
    await alice.client.request({ msgid: 7, friendid: bob.id });
    const keepAlive = setInterval(() => alice.client.send({ msgid: 13, v: 2 }), 300);
    try {
      await bob.client.closed;
      assert.deepEqual(await alice.client.nextOf(15), { msgid: 15, id: bob.id, state: "offline" });
      assert.equal(alice.client.isClosed, false, "a connection that pings stays open");
    } finally {
      clearInterval(keepAlive);
      alice.client.close();
    }
  },
);

Deno.test("ChatService.closeIdle() closes v2 connections silent past the timeout, never before", async () => {
  await using fixture = await inProcessService({ idleTimeout: 90 });
  const silent = await fixture.open("127.0.0.1:2", { msgid: 13, v: 2 });
  silent.lastReadAt = 1_000;
  assert.equal(fixture.service.closeIdle(1_000 + 90_000), 0, "silent for exactly the timeout: kept");
  assert.equal(silent.isClosed, false);
  assert.equal(fixture.service.closeIdle(1_000 + 90_001), 1);
  assert.equal(silent.isClosed, true);
});

Deno.test("ChatService.closeIdle() never closes a v1 connection (v1 clients never PING)", async () => {
  await using fixture = await inProcessService({ idleTimeout: 1 });
  const v1 = await fixture.open("127.0.0.1:1", { msgid: 13 });
  const v2 = await fixture.open("127.0.0.1:2", { msgid: 13, v: 2 });
  v1.lastReadAt = v2.lastReadAt = 0;
  assert.equal(fixture.service.closeIdle(3_600_000), 1);
  assert.deepEqual([v1.isClosed, v2.isClosed], [false, true]);
});

Deno.test("a failed login is logged at warn with the user id and remote address, never the password", async () => {
  await using fixture = await inProcessService();
  const id = await fixture.store.createUser(uniqueName(), await hashPassword("the-right-one"));
  const wrong = "not-the-password-7f3a";
  const connection = await fixture.open(
    "10.1.2.3:45678",
    { msgid: 1, v: 2, id, password: wrong },
    { msgid: 1, v: 2, id: 424242, password: wrong },
    { msgid: 1, v: 2, id, password: "the-right-one" },
  );
  assert.deepEqual(connection.frames().map((frame) => frame.errno), [1, 1, 0]);
  const failed = fixture.log.entries.filter((entry) => entry.event === "login failed");
  assert.deepEqual(
    failed.map(({ level, fields }) => [level, fields.user, fields.remote]),
    [["warn", id, "10.1.2.3:45678"], ["warn", 424242, "10.1.2.3:45678"]],
  );
  const guesser = await fixture.open(
    "10.9.9.9:1",
    ...Array.from({ length: 8 }, () => ({ msgid: 1, v: 2, id, password: wrong })),
  );
  assert.deepEqual(guesser.frames().map((frame) => frame.errno), [1, 1, 1, 1, 1, 10, 10, 10]);
  const refused = fixture.log.entries.filter((entry) =>
    entry.event === "login refused: too many failed logins"
  );
  assert.deepEqual(refused.map(({ level, fields }) => [level, fields.user, fields.remote]), [
    ["warn", id, "10.9.9.9:1"],
  ]);
  const everything = JSON.stringify(fixture.log.entries);
  assert.ok(everything.includes('"event":"login"'), "the successful login is logged too");
  for (const password of [wrong, "the-right-one"]) assert.ok(!everything.includes(password), password);
});

Deno.test("the connection cap refuses one more connection with errno 11; a closed one frees its place", async () => {
  await using node = await startTestNode({ maxConnections: 3 });
  // Users made in the store, not over connections that would count against the cap.
  const store = node.service.context.store;
  const hash = await hashPassword("pw");
  const [leaving, watcher] = [
    await store.createUser(uniqueName(), hash),
    await store.createUser(uniqueName(), hash),
  ];
  await store.addFriend(watcher, leaving);
  const clients = await Promise.all([1, 2, 3].map(() => TestClient.connect(node.port)));
  assert.equal((await clients[0].request({ msgid: 1, id: leaving, password: "pw" })).errno, 0);
  assert.equal((await clients[1].request({ msgid: 1, id: watcher, password: "pw" })).errno, 0);
  assert.equal((await clients[2].request({ msgid: 13 })).msgid, 14);
  await using extra = await TestClient.connect(node.port);
  const refused = await extra.next();
  assert.deepEqual([refused.msgid, refused.errno], [12, 11]);
  await extra.closed;
  clients[0].close();
  // The server announces the user offline only after it dropped the connection from its count.
  assert.deepEqual(await clients[1].nextOf(15), { msgid: 15, id: leaving, state: "offline" });
  await using later = await TestClient.connect(node.port);
  assert.equal((await later.request({ msgid: 13 })).msgid, 14);
  for (const client of clients) client.close();
});

Deno.test(
  "a client that never reads is disconnected; every message is delivered or stored offline",
  async () => {
    const dir = await Deno.makeTempDir();
    try {
      await using server = await ServerProcess.start(
        ["--port", "0", "--db", `${dir}/chat.db`, "--max-outbound-bytes", "262144", "--rate-limit", "100000"],
        `${dir}/server.log`,
      );
      const alice = await member(server.port);
      const bobName = uniqueName();
      const bobId = await registerUser(server.port, bobName, "pw");
      // Bob logs in with a raw socket and then stops reading.
      const bob = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
      await bob.write(
        new TextEncoder().encode(JSON.stringify({ msgid: 1, v: 2, id: bobId, password: "pw" }) + "\n"),
      );
      const ack = await firstLine(bob);
      assert.equal(ack.errno, 0, "logged in; from here on Bob reads nothing");
      const rssBefore = await server.rss();
      const total = 10_000;
      const padding = "x".repeat(500);
      for (let i = 0; i < total; i++) {
        await alice.client.send({
          msgid: 6,
          v: 2,
          toid: bobId,
          msg: `${i} ${padding}`,
        });
      }
      for (let i = 0; i < total; i++) assert.equal((await alice.client.nextOf(11, 20_000)).errno, 0);
      const rssAfter = await server.rss();
      assert.ok(rssAfter - rssBefore < 64 * 1024 * 1024, `RSS grew by ${rssAfter - rssBefore} bytes`);

      // What reached Bob's socket before the server gave up on him.
      const lines = await readUntilClosed(bob);
      assert.ok(lines.length < total, "Bob was disconnected before everything was written");
      const live = lines.filter((frame) => frame.msgid === 6).map((frame) =>
        Number((frame.msg as string).split(" ")[0])
      );

      await using again = await TestClient.connect(server.port);
      const login = await again.request({ msgid: 1, id: bobId, password: "pw" }, 20_000);
      const offline: number[] = (login.offlinemsg as Reply[]).map((frame) =>
        Number((frame.msg as string).split(" ")[0])
      );
      while (live.length + offline.length < total) {
        offline.push(Number(((await again.nextOf(6, 10_000)).msg as string).split(" ")[0]));
      }
      assert.deepEqual(
        [...live, ...offline],
        Array.from({ length: total }, (_, i) => i),
        "none lost, none twice",
      );
      alice.client.close();
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

/** The first frame the server sends on a raw connection (read byte by byte, so nothing after it is consumed). */
async function firstLine(conn: Deno.Conn): Promise<Reply> {
  const bytes: number[] = [];
  const one = new Uint8Array(1);
  while (bytes.at(-1) !== 0x0a) {
    if (await conn.read(one) === null) throw new Error("closed before the first frame");
    bytes.push(one[0]);
  }
  return JSON.parse(new TextDecoder().decode(new Uint8Array(bytes)));
}

/** Parses Prometheus text format strictly enough to catch malformed output. */
function parsePrometheus(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    if (line.startsWith("# HELP ") || line.startsWith("# TYPE ")) {
      assert.match(line, /^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$/);
      continue;
    }
    const match = line.match(
      /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[a-zA-Z_][a-zA-Z0-9_]*="[^"]*"(?:,[a-zA-Z_][a-zA-Z0-9_]*="[^"]*")*\})?) (\S+)$/,
    );
    assert.ok(match, `not a sample line: ${line}`);
    assert.ok(!Number.isNaN(Number(match[2])), line);
    samples.set(match[1], Number(match[2]));
  }
  return samples;
}

Deno.test(
  "/metrics parses as Prometheus text and its counters move with traffic; /healthz is 200",
  async () => {
    await using node = await startTestNode({ metricsPort: 0 });
    const scrape = async () =>
      parsePrometheus(await (await fetch(`http://127.0.0.1:${node.metricsPort}/metrics`)).text());
    const before = await scrape();
    const alice = await member(node.port);
    const bob = await member(node.port);
    await alice.client.request({ msgid: 6, toid: bob.id, msg: "counted" });
    await alice.client.request({ msgid: 6, toid: 999_999_999, msg: "nobody" });
    await bob.client.nextOf(6);
    for (const msgid of [99, 1234, -5]) await alice.client.request({ msgid });
    const after = await scrape();
    const delta = (name: string) => (after.get(name) ?? 0) - (before.get(name) ?? 0);
    assert.equal(delta('chat_requests_total{msg="ONE_CHAT"}'), 2);
    assert.equal(delta('chat_requests_total{msg="UNKNOWN"}'), 3, "unknown msgids share one label");
    assert.equal(delta('chat_errors_total{errno="6"}'), 1);
    assert.equal(delta('chat_frames_out_total{msg="ONE_CHAT"}'), 1);
    assert.equal(delta('chat_frames_out_total{msg="ACK"}'), 2);
    assert.equal(delta('chat_frames_out_total{msg="ERROR"}'), 3);
    const labels = [...after.keys()].filter((name) => name.startsWith("chat_requests_total{"));
    assert.ok(labels.every((name) => /^chat_requests_total\{msg="[A-Z_]+"\}$/.test(name)), String(labels));
    assert.equal(after.get("chat_logged_in_users"), 2);
    assert.equal(after.get("chat_connections"), 2);
    assert.equal(delta("chat_delivered_live_total"), 1);
    assert.equal(delta("chat_messages_stored_total"), 1, "the chat to a missing user is not stored");
    assert.ok(delta("chat_message_commits_total") >= 1);
    for (const name of ["chat_cursor_saves_total", "chat_gap_fills_total", "chat_bus_published_total"]) {
      assert.ok(after.has(name), name);
    }
    assert.ok(after.has("chat_event_loop_lag_seconds"));
    const health = await fetch(`http://127.0.0.1:${node.metricsPort}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: "ok", checks: { store: "ok", bus: "ok" } });
    const missing = await fetch(`http://127.0.0.1:${node.metricsPort}/nope`);
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
    alice.client.close();
    bob.client.close();
  },
);

Deno.test("--log-format json writes one JSON object per line with the node id", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const server = await ServerProcess.start(
      ["--port", "0", "--db", ":memory:", "--log-format", "json", "--node-id", "node-a"],
      `${dir}/server.log`,
    );
    const id = await registerUser(server.port, uniqueName(), "secret-password");
    {
      await using client = await TestClient.connect(server.port);
      assert.equal((await client.request({ msgid: 1, id, password: "guessed-password" })).errno, 1);
    }
    assert.equal((await server.stop()).code, 0);
    const lines = (await Deno.readTextFile(`${dir}/server.log`)).trim().split("\n");
    const entries = lines.map((line) => JSON.parse(line));
    assert.ok(entries.every((entry) => entry.node === "node-a" && typeof entry.level === "string"));
    assert.ok(entries.some((entry) => entry.event === "register"));
    const failed = entries.filter((entry) => entry.event === "login failed");
    assert.equal(failed.length, 1);
    assert.equal(failed[0].level, "warn");
    assert.equal(failed[0].user, id);
    assert.match(failed[0].remote, /^127\.0\.0\.1:\d+$/);
    for (const password of ["secret-password", "guessed-password"]) {
      assert.ok(!lines.some((line) => line.includes(password)), `never a password in the logs: ${password}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
