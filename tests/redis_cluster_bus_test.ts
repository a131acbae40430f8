/**
 * RedisBus against a real Redis Cluster (three masters, a replica each) started for this file: the shared
 * bus suite, the URL's parsing and redaction, sharded pub/sub on the shard that owns a user's slot, and a
 * master killed with SIGKILL (its replica takes over; delivery and presence resume).
 *
 * The cluster starts before the first case and stops after the last. Every case gets its own key prefix.
 * Sanitizers are off for the cases with a bus: ioredis's cluster client keeps timers (slot refreshes) and
 * redis-parser a module-wide interval, which Deno cannot tell from a leak. Every bus is closed before its
 * case ends.
 */

import assert from "node:assert/strict";
import { Cluster } from "ioredis";
import type { BusMessage } from "../lib/bus/bus.ts";
import { BusConnectError } from "../lib/bus/errors.ts";
import { RedisBus } from "../lib/bus/redis_bus.ts";
import {
  clusterUrlWithPassword,
  isClusterUrl,
  parseClusterUrl,
  redactClusterUrl,
} from "../lib/bus/redis_cluster_url.ts";
import { devicesKey, userChannel } from "../lib/bus/redis_wire.ts";
import { Logger } from "../lib/log.ts";
import { busSuite, RecordingHandler } from "./bus_suite.ts";
import { eventually } from "./harness/eventually.ts";
import { RedisCluster } from "./harness/redis_cluster.ts";

const LEASE_MS = 600;

let started: RedisCluster | undefined;
let prefixes = 0;

Deno.test.beforeAll(async () => {
  started = await RedisCluster.start();
});

Deno.test.afterAll(async () => {
  await started?.close();
});

/** The cluster of this file (started before the first case). */
function cluster(): RedisCluster {
  if (!started) throw new Error("the Redis Cluster of this file did not start");
  return started;
}

/** A key prefix no other case uses. */
function freshPrefix(): string {
  return `ctest${++prefixes}.${Date.now()}:`;
}

function frame(userId: number, text: string): BusMessage {
  return { userId, frame: JSON.stringify({ msgid: 6, msg: text }) };
}

busSuite(
  "RedisBus on a Redis Cluster",
  () => {
    const keyPrefix = freshPrefix();
    return (nodeId) =>
      Promise.resolve(
        // Silent: one case makes a handler throw on purpose.
        new RedisBus({
          url: cluster().url,
          nodeId,
          log: new Logger({ level: "silent" }),
          leaseMs: LEASE_MS,
          keyPrefix,
        }),
      );
  },
  { sanitize: false },
);

Deno.test("parseClusterUrl reads the seed nodes, the user and the percent-decoded password", () => {
  assert.deepEqual(parseClusterUrl("redis-cluster://h1:7000,10.0.0.2:7001,[::1]:7002"), {
    nodes: [{ host: "h1", port: 7000 }, { host: "10.0.0.2", port: 7001 }, { host: "::1", port: 7002 }],
  });
  assert.deepEqual(parseClusterUrl("redis-cluster://chat:p%40ss@h1:7000/"), {
    nodes: [{ host: "h1", port: 7000 }],
    username: "chat",
    password: "p@ss",
  });
  assert.deepEqual(parseClusterUrl("redis-cluster://:s3cret@h1:7000").password, "s3cret");
  assert.equal(isClusterUrl("redis://h1:7000"), false);
});

Deno.test("parseClusterUrl rejects a bad URL without echoing it", () => {
  for (
    const url of [
      "redis://h1:7000",
      "redis-cluster://",
      "redis-cluster://h1",
      "redis-cluster://h1:0,h2:1",
      "redis-cluster://h1:70000",
      "redis-cluster://:s3cret@h1:7000,,h2:1",
      "redis-cluster://:%zz@h1:7000",
    ]
  ) {
    assert.throws(() => parseClusterUrl(url), (error: Error) => {
      assert.ok(error instanceof TypeError, url);
      assert.ok(!error.message.includes("s3cret") && !error.message.includes("%zz"), error.message);
      return true;
    });
  }
});

Deno.test("redactClusterUrl hides the password; clusterUrlWithPassword sets it", () => {
  assert.equal(
    redactClusterUrl("redis-cluster://chat:s3cret@h1:7000,h2:7001"),
    "redis-cluster://chat:***@h1:7000,h2:7001",
  );
  assert.equal(redactClusterUrl("redis-cluster://h1:7000"), "redis-cluster://h1:7000");
  assert.equal(redactClusterUrl("redis-cluster://s3cret"), "(invalid URL)");
  assert.equal(
    clusterUrlWithPassword("redis-cluster://chat:old@h1:7000,h2:7001", "n@w pass"),
    "redis-cluster://chat:n%40w%20pass@h1:7000,h2:7001",
  );
});

Deno.test({
  name: "RedisBus on a Redis Cluster: a cluster that is down rejects start() with the redacted URL",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    // Port 1 on loopback refuses connections; the password must not show.
    const bus = new RedisBus({
      url: `redis-cluster://:s3cret@127.0.0.1:1`,
      nodeId: "down",
      log: new Logger({ level: "silent" }),
      keyPrefix: freshPrefix(),
    });
    await assert.rejects(bus.start(), (error: Error) => {
      assert.ok(error instanceof BusConnectError);
      assert.ok(error.message.includes("redis-cluster://:***@127.0.0.1:1"), error.message);
      assert.ok(!error.message.includes("s3cret"));
      return true;
    });
  },
});

Deno.test({
  name:
    "RedisBus on a Redis Cluster: frames go over sharded pub/sub; a user's keys and channel share one slot",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const keyPrefix = freshPrefix();
    const [a, b] = ["a", "b"].map((nodeId) =>
      new RedisBus({
        url: cluster().url,
        nodeId,
        log: new Logger({ level: "silent" }),
        leaseMs: LEASE_MS,
        keyPrefix,
      })
    );
    const client = new Cluster(parseClusterUrl(cluster().url).nodes, { lazyConnect: true });
    try {
      const handler = new RecordingHandler();
      b.setHandler(handler);
      await a.start();
      await b.start();
      // Users spread over every shard: each channel is served by the master of its slot.
      const users = Array.from({ length: 12 }, (_, i) => 100 + i);
      for (const user of users) {
        assert.equal((await b.claimDevice(user, "phone", 5)).claimed, true);
        await b.subscribe(user);
      }
      for (const user of users) await a.publish(frame(user, `to ${user}`));
      await eventually(() => handler.messages.length === users.length, { what: "every frame delivered" });
      assert.deepEqual(
        handler.messages.map((message) => message.userId).sort(),
        users.slice().sort(),
      );
      assert.equal(a.counters.publishFailures, 0);
      // The device hash is where the claim put it, and the channel hashes to the same slot (one hash tag).
      await client.connect();
      const slots = new Set<number>();
      for (const user of users) {
        assert.equal(await client.hlen(devicesKey(keyPrefix, user)), 1);
        const [keySlot, channelSlot] = await Promise.all([
          client.cluster("KEYSLOT", devicesKey(keyPrefix, user)),
          client.cluster("KEYSLOT", userChannel(keyPrefix, user)),
        ]);
        assert.equal(keySlot, channelSlot);
        slots.add(Number(keySlot));
      }
      assert.ok(slots.size > 1, "the users' keys spread over several slots");
      // Plain PUBLISH is not what the bus sent: nothing listens to the channel in non-sharded pub/sub.
      assert.deepEqual(await client.pubsub("NUMSUB", userChannel(keyPrefix, users[0])), [
        userChannel(keyPrefix, users[0]),
        0,
      ]);
    } finally {
      client.disconnect();
      await Promise.all([a.close(), b.close()]);
    }
  },
});
