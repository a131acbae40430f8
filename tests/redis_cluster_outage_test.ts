/**
 * What RedisBus logs when its Redis Cluster loses nodes (`lib/bus/redis_cluster_watch.ts`), on a cluster of
 * its own (three masters, a replica each): a dead replica is not worth a warning; a dead master is named
 * once per client, and the recovery (its replica took over) is logged with the masters serving now; losing
 * every node is logged as the bus's connection lost.
 *
 * Sanitizers are off: ioredis's cluster client keeps timers (slot refreshes) and redis-parser a module-wide
 * interval, which Deno cannot tell from a leak. The bus is closed before the case ends.
 */

import assert from "node:assert/strict";
import { RedisBus } from "../lib/bus/redis_bus.ts";
import { userChannel } from "../lib/bus/redis_wire.ts";
import { eventually } from "./harness/eventually.ts";
import { RedisCluster } from "./harness/redis_cluster.ts";
import { type LogEntry, RecordingLogger } from "./harness/service_fakes.ts";

const PREFIX = "outage:";

const UNREACHABLE = "bus cluster master unreachable; its slots wait for a failover or its return";
const RECOVERED = "bus cluster recovered: every slot has a reachable master";

function named(log: RecordingLogger, event: string): LogEntry[] {
  return log.entries.filter((entry) => entry.event === event);
}

Deno.test({
  name: "RedisBus on a Redis Cluster logs a lost master by name, its recovery, and the loss of every node",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using cluster = await RedisCluster.start();
    const log = new RecordingLogger();
    const bus = new RedisBus({ url: cluster.url, nodeId: "n1", log, leaseMs: 600, keyPrefix: PREFIX });
    try {
      await bus.start();
      const user = 7;
      assert.equal((await bus.claimDevice(user, "phone", 5)).claimed, true);
      await bus.subscribe(user);
      const master = await cluster.masterOf(await cluster.keySlot(userChannel(PREFIX, user)));
      const otherReplica = (await cluster.replicas()).find((replica) => replica.master !== master)!;

      // A replica serves no slot: its loss changes nothing for the bus and is not logged.
      await cluster.kill(otherReplica.port);
      await cluster.kill(master);
      // The bus works again once the replica of the dead master took over.
      await eventually(async () => (await bus.claimDevice(user, "tablet", 5)).claimed, {
        what: "a claim on the dead master's slot after the failover",
        timeoutMs: 20_000,
        intervalMs: 200,
      });
      await eventually(() => {
        assert.equal(named(log, RECOVERED).length, 2, JSON.stringify(log.entries));
      }, {
        what: "the recovery logged by both clients",
        timeoutMs: 10_000,
      });

      const lost = named(log, UNREACHABLE);
      assert.deepEqual(lost.map((entry) => entry.level), ["warn", "warn"], JSON.stringify(lost));
      assert.deepEqual(lost.map((entry) => entry.fields.conn).sort(), ["command", "subscriber"]);
      for (const entry of lost) assert.equal(entry.fields.node, `127.0.0.1:${master}`);
      // The node asked may not have heard of the failover yet (gossip): ask until it lists three masters.
      const masters = await eventually(async () => {
        const ports = await cluster.masters();
        return ports.length === 3 && ports.map((port) => `127.0.0.1:${port}`).sort().join(",");
      }, { what: "three masters in CLUSTER NODES after the failover", timeoutMs: 10_000 });
      for (const entry of named(log, RECOVERED)) {
        assert.equal(entry.level, "info");
        assert.equal(entry.fields.lost, `127.0.0.1:${master}`);
        assert.equal(entry.fields.masters, masters);
        assert.ok(typeof entry.fields.downMs === "number" && entry.fields.downMs >= 0);
      }
      const replicaNamed = log.entries.filter((entry) =>
        entry.fields.node === `127.0.0.1:${otherReplica.port}`
      );
      assert.deepEqual(replicaNamed, [], "the dead replica is not logged");
      // Nodes' own "Connection is closed." errors, which name no node, are not logged either.
      assert.deepEqual(named(log, "bus connection error"), []);

      // Every node gone: the clients' outage is logged once each, as one server's would be.
      for (const port of cluster.ports) await cluster.kill(port);
      await eventually(() => named(log, "bus connection lost").length === 2, {
        what: "the loss of the whole cluster logged by both clients",
        timeoutMs: 10_000,
      });
      assert.deepEqual(
        named(log, "bus connection lost").map((entry) => [entry.level, entry.fields.conn]).sort(),
        [["warn", "command"], ["warn", "subscriber"]],
      );
    } finally {
      await bus.close();
    }
  },
});
