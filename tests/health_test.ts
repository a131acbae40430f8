/**
 * `/healthz` follows the node's dependencies: 503 naming the check that failed while Redis (the bus) or
 * MariaDB (the store) is down, 200 again once it is back. Every wait polls against a deadline; nothing
 * asserts on how long a transition took.
 */
import assert from "node:assert/strict";
import { startTestNode } from "./harness/chat_node.ts";
import { MariaDbServer } from "./harness/mariadb.ts";
import { RedisServer } from "./harness/redis.ts";
import { TestClient } from "./harness/test_client.ts";
import { uniqueName } from "./protocol_suite.ts";

/** How long a transition may take before the test gives up (ioredis and the pool retry with backoff). */
const DEADLINE_MS = 30_000;

interface Health {
  status: number;
  body: { status: string; checks: Record<string, string> };
}

async function health(metricsPort: number): Promise<Health> {
  const response = await fetch(`http://127.0.0.1:${metricsPort}/healthz`);
  return { status: response.status, body: await response.json() };
}

/** Polls `/healthz` until it answers `status`; returns that answer, or fails with the last one seen. */
async function healthBecomes(metricsPort: number, status: number): Promise<Health> {
  const deadline = Date.now() + DEADLINE_MS;
  let last: Health | undefined;
  while (Date.now() < deadline) {
    last = await health(metricsPort);
    if (last.status === status) return last;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.fail(`/healthz not ${status} within ${DEADLINE_MS} ms; last: ${JSON.stringify(last)}`);
}

/** Registers a user over a fresh v2 connection, retrying while a dependency is still reconnecting. */
async function canRegister(port: number): Promise<void> {
  await using client = await TestClient.connect(port);
  const deadline = Date.now() + DEADLINE_MS;
  while (true) {
    const reply = await client.request({ msgid: 4, name: uniqueName("h"), password: "pw" });
    if (reply.errno === 0) return;
    assert.equal(reply.errno, 11, JSON.stringify(reply));
    assert.ok(Date.now() < deadline, `REG still refused: ${JSON.stringify(reply)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

const OK = { status: "ok", checks: { store: "ok", bus: "ok" } };

Deno.test("/healthz is 503 naming the bus while Redis is down and 200 once it is back", async () => {
  await using redis = await RedisServer.start();
  await using node = await startTestNode({ redis: redis.url, metricsPort: 0 });
  const port = node.metricsPort!;
  assert.deepEqual(await health(port), { status: 200, body: OK });

  await redis.stop();
  const down = await healthBecomes(port, 503);
  assert.equal(down.body.status, "unavailable");
  assert.equal(down.body.checks.store, "ok", "the store is still fine");
  assert.notEqual(down.body.checks.bus, "ok", "the bus check names the failure");
  assert.equal(typeof down.body.checks.bus, "string");
  assert.match(
    down.body.checks.bus,
    /^RedisBus: cannot connect to redis:\/\/127\.0\.0\.1:\d+/,
    "names the Redis",
  );

  await redis.restart();
  assert.deepEqual((await healthBecomes(port, 200)).body, OK);
  await canRegister(node.port);
});

Deno.test(
  "/healthz is 503 naming the store while MariaDB is down and 200 once it is back",
  async () => {
    await using mariadb = await MariaDbServer.start();
    await using redis = await RedisServer.start();
    const mysql = await mariadb.createDatabase(`health_${crypto.randomUUID().slice(0, 8)}`);
    await using node = await startTestNode({ mysql, redis: redis.url, metricsPort: 0 });
    const port = node.metricsPort!;
    assert.deepEqual(await health(port), { status: 200, body: OK });

    await mariadb.stop();
    const down = await healthBecomes(port, 503);
    assert.equal(down.body.status, "unavailable");
    assert.equal(down.body.checks.bus, "ok", "Redis is still fine");
    assert.notEqual(down.body.checks.store, "ok", "the store check names the failure");
    assert.equal(typeof down.body.checks.store, "string");
    assert.ok(down.body.checks.store.length > 0);

    await mariadb.restart();
    assert.deepEqual((await healthBecomes(port, 200)).body, OK);
    await canRegister(node.port);
  },
);
