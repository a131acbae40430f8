/**
 * Two `main.ts` nodes over MariaDB and a Redis Cluster (three masters, a replica each), all started here on
 * free ports: login, one-to-one and group chat across nodes, presence, a duplicate login refused across
 * nodes, and a master killed with SIGKILL during chat (its replica takes over, delivery resumes, nothing
 * stored is lost, presence holds). Clients connect straight to a node, so that sender and recipient are on
 * different nodes.
 */
import assert from "node:assert/strict";
import { userChannel } from "../lib/bus/redis_wire.ts";
import { ServerProcess } from "./harness/chat_node.ts";
import { eventually } from "./harness/eventually.ts";
import { MariaDbServer } from "./harness/mariadb.ts";
import { assertServedBy, RedisCluster } from "./harness/redis_cluster.ts";
import { makeTempDir, removeTempDir } from "./harness/temp_dir.ts";
import { type Reply, TestClient } from "./harness/test_client.ts";
import { assertGroupChatAcrossNodes } from "./harness/cross_node_chat.ts";
import { loginAt, newUser } from "./harness/v1_users.ts";

Deno.test({
  name: "cluster over Redis Cluster: two nodes with MariaDB and a Redis Cluster",
  fn: async (t) => {
    const dir = await makeTempDir("chat-redis-cluster-nodes-");
    const [mariadb, redisCluster] = await Promise.all([MariaDbServer.start(), RedisCluster.start()]);
    const nodes: ServerProcess[] = [];
    try {
      for (const name of ["node1", "node2"]) {
        nodes.push(
          await ServerProcess.start([
            "--port",
            "0",
            "--node-id",
            name,
            "--mysql",
            mariadb.url,
            "--redis",
            redisCluster.url,
            "--log-level",
            "warn",
          ], `${dir}/${name}.log`),
        );
      }
      const [node1, node2] = nodes;

      await t.step("one-to-one chat crosses nodes in both directions", async () => {
        const alice = await newUser(node1.port);
        const bob = await newUser(node2.port);
        const [a] = await loginAt(node1.port, alice);
        const [b] = await loginAt(node2.port, bob);
        const ack = await a.request({ msgid: 6, toid: bob.id, msg: "node1 → node2" });
        assert.equal(ack.errno, 0);
        const atBob = await b.nextOf(6);
        assert.deepEqual([atBob.id, atBob.msg, atBob.mid], [alice.id, "node1 → node2", ack.mid]);
        assert.equal((await b.request({ msgid: 6, toid: alice.id, msg: "node2 → node1" })).errno, 0);
        assert.equal((await a.nextOf(6)).msg, "node2 → node1");
        a.close();
        b.close();
      });

      await t.step("group chat reaches members on both nodes", async () => {
        await assertGroupChatAcrossNodes(node1.port, node1.port, node2.port);
      });

      await t.step("a duplicate login on the other node is refused; presence crosses nodes", async () => {
        const alice = await newUser(node1.port);
        const bob = await newUser(node1.port);
        const [a] = await loginAt(node1.port, alice);
        await a.request({ msgid: 7, friendid: bob.id });
        const [b] = await loginAt(node2.port, bob);
        assert.deepEqual(await a.nextOf(15), { msgid: 15, id: bob.id, state: "online" });
        await using again = await TestClient.connect(node1.port);
        const refused = await again.request({ msgid: 1, id: bob.id, password: bob.password });
        assert.equal(refused.errno, 2);
        b.close();
        assert.deepEqual(await a.nextOf(15), { msgid: 15, id: bob.id, state: "offline" });
        a.close();
      });

      await t.step(
        "redis-cli --cluster reshard moves a user's slot to another master: delivery and presence go on",
        async () => {
          const alice = await newUser(node1.port);
          // Of four users, bob is the one whose slot the tool reaches first: the fewest slots move along.
          const users = await Promise.all([1, 2, 3, 4].map(() => newUser(node1.port)));
          const slots = await Promise.all(
            users.map((user) => redisCluster.keySlot(userChannel("chat:", user.id))),
          );
          const costs = await Promise.all(slots.map((slot) => redisCluster.reshardCost(slot)));
          const bob = users[costs.indexOf(Math.min(...costs))];
          const slot = slots[users.indexOf(bob)];
          const [a] = await loginAt(node1.port, alice);
          const [b] = await loginAt(node2.port, bob);
          const from = await redisCluster.masterOf(slot);
          const to = (await redisCluster.masters()).find((port) => port !== from)!;
          assert.equal((await a.request({ msgid: 6, toid: bob.id, msg: "before the move" })).errno, 0);
          assert.equal((await b.nextOf(6)).msg, "before the move");
          const moved = await redisCluster.reshardThrough(slot, to);
          assert.ok(moved.includes(slot), `slot ${slot} not among the ${moved.length} moved`);
          await assertServedBy(redisCluster, moved, to);
          // The device entry moved with the slot: bob is still logged in for the other node.
          await using again = await TestClient.connect(node1.port);
          assert.equal((await again.request({ msgid: 1, id: bob.id, password: bob.password })).errno, 2);
          // The sharded subscriber follows the slot: frames published on the new master reach bob live.
          const sent: string[] = [];
          await eventually(async () => {
            const text = `after the move ${sent.length}`;
            assert.equal((await a.request({ msgid: 6, toid: bob.id, msg: text })).errno, 0);
            sent.push(text);
            const live = await b.nextOf(6, 300).catch(() => undefined);
            return live !== undefined;
          }, { what: "live delivery after the slot moved", timeoutMs: 20_000, intervalMs: 0 });
          a.close();
          b.close();
        },
      );

      await t.step(
        "a master killed with SIGKILL: its replica takes over, delivery resumes, nothing is lost",
        async () => {
          const alice = await newUser(node1.port);
          const bob = await newUser(node1.port);
          const [a] = await loginAt(node1.port, alice);
          const [b] = await loginAt(node2.port, bob);
          assert.equal((await a.request({ msgid: 6, toid: bob.id, msg: "before" })).errno, 0);
          assert.equal((await b.nextOf(6)).msg, "before");
          const slot = await redisCluster.keySlot(userChannel("chat:", bob.id));
          const master = await redisCluster.masterOf(slot);
          await redisCluster.kill(master);
          // Chat goes on while the cluster fails over: every message is stored and acknowledged.
          const sent: string[] = [];
          let live: Reply | undefined;
          await eventually(async () => {
            const text = `during ${sent.length}`;
            const ack = await a.request({ msgid: 6, toid: bob.id, msg: text });
            assert.equal(ack.errno, 0, JSON.stringify(ack));
            sent.push(text);
            // Delivered live once the promoted replica serves bob's channel again.
            live = await b.nextOf(6, 300).catch(() => undefined);
            return live !== undefined;
          }, { what: "live delivery after the failover", timeoutMs: 20_000, intervalMs: 0 });
          assert.notEqual(await redisCluster.masterOf(slot), master);
          // Presence held: bob is still logged in as far as the other node is concerned.
          await using again = await TestClient.connect(node1.port);
          assert.equal((await again.request({ msgid: 1, id: bob.id, password: bob.password })).errno, 2);
          // What missed live delivery is stored: bob's next login on the other node has the rest of it.
          const seenLive = [live, ...b.pending].filter((frame) => frame?.msgid === 6).map((frame) =>
            frame!.msg
          );
          b.close();
          await eventually(async () => {
            const [relogin, login] = await loginAt(node1.port, bob);
            relogin.close();
            const texts = (login.offlinemsg as Reply[]).map((frame) => frame.msg as string);
            return sent.every((text) => texts.includes(text) || seenLive.includes(text));
          }, { what: "bob's login after the failover", timeoutMs: 10_000, intervalMs: 200 });
          a.close();
        },
      );
    } finally {
      await Promise.all(nodes.map((node) => node.stop("SIGKILL")));
      await redisCluster.close();
      await mariadb.close();
      await removeTempDir(dir);
    }
  },
});
