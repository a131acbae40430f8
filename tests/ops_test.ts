/** Heartbeats, back-pressure, limits, metrics and health of one node. */
import assert from "node:assert/strict";
import { ServerProcess, startTestNode } from "./harness/chat_node.ts";
import { readUntilClosed, type Reply, TestClient } from "./harness/test_client.ts";
import { member, registerUser, uniqueName } from "./protocol_suite.ts";

const options = { sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "idle timeout: a silent v2 connection is closed and its friends see it go offline",
  options,
  async () => {
    await using node = await startTestNode({ idleTimeout: 1 });
    const alice = await member(node.port);
    const bob = await member(node.port);
    await alice.client.request({ msgid: 7, friendid: bob.id });
    const started = performance.now();
    const keepAlive = setInterval(() => alice.client.send({ msgid: 13, v: 2 }), 300);
    try {
      await bob.client.closed;
      assert.ok(performance.now() - started >= 900, "not closed before the timeout");
      assert.deepEqual(await alice.client.nextOf(15), { msgid: 15, id: bob.id, state: "offline" });
      assert.equal(alice.client.isClosed, false, "a connection that pings stays open");
    } finally {
      clearInterval(keepAlive);
      alice.client.close();
    }
  },
);

Deno.test("idle timeout does not apply to v1 connections (they never PING)", options, async () => {
  await using node = await startTestNode({ idleTimeout: 1 });
  await using client = await TestClient.connect(node.port);
  await client.send({ msgid: 13 });
  await new Promise((resolve) => setTimeout(resolve, 2200));
  assert.equal(client.isClosed, false);
});

Deno.test("the connection cap refuses one more connection with errno 11", options, async () => {
  await using node = await startTestNode({ maxConnections: 3 });
  const clients = await Promise.all([1, 2, 3].map(() => TestClient.connect(node.port)));
  for (const client of clients) assert.equal((await client.request({ msgid: 13 })).msgid, 14);
  await using extra = await TestClient.connect(node.port);
  const refused = await extra.next();
  assert.deepEqual([refused.msgid, refused.errno], [12, 11]);
  await extra.closed;
  clients[0].close();
  await clients[0].closed;
  await new Promise((resolve) => setTimeout(resolve, 50));
  await using later = await TestClient.connect(node.port);
  assert.equal((await later.request({ msgid: 13 })).msgid, 14);
  for (const client of clients) client.close();
});

Deno.test(
  "a client that never reads is disconnected; every message is delivered or stored offline",
  options,
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
      await new Promise((resolve) => setTimeout(resolve, 300));
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
  options,
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
    const after = await scrape();
    const delta = (name: string) => (after.get(name) ?? 0) - (before.get(name) ?? 0);
    assert.equal(delta('chat_requests_total{msgid="6"}'), 2);
    assert.equal(delta('chat_errors_total{errno="6"}'), 1);
    assert.equal(delta('chat_frames_out_total{msgid="6"}'), 1);
    assert.equal(after.get("chat_logged_in_users"), 2);
    assert.equal(after.get("chat_connections"), 2);
    assert.equal(delta("chat_delivered_live_total"), 1);
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

Deno.test("--log-format json writes one JSON object per line with the node id", options, async () => {
  const dir = await Deno.makeTempDir();
  try {
    const server = await ServerProcess.start(
      ["--port", "0", "--db", ":memory:", "--log-format", "json", "--node-id", "node-a"],
      `${dir}/server.log`,
    );
    await registerUser(server.port, uniqueName(), "secret-password");
    assert.equal((await server.stop()).code, 0);
    const lines = (await Deno.readTextFile(`${dir}/server.log`)).trim().split("\n");
    const entries = lines.map((line) => JSON.parse(line));
    assert.ok(entries.every((entry) => entry.node === "node-a" && typeof entry.level === "string"));
    assert.ok(entries.some((entry) => entry.event === "register"));
    assert.ok(!lines.some((line) => line.includes("secret-password")), "never a password in the logs");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
