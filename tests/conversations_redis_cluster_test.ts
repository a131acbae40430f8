/**
 * The conversation suite across two `main.ts` nodes sharing a MariaDB and a Redis Cluster (three masters, a
 * replica each): the suite's two ports are the two nodes, so that sender and recipient, or a first send and
 * its retry, are on different nodes, and users' channels and presence are spread over three shards. Then a
 * slot migration during chat (`redis-cli --cluster reshard`): what is sent while the slots move arrives once, in
 * order.
 *
 * One MariaDB and one Redis Cluster for the file (`harness/two_nodes_on_redis_cluster.ts`); every case gets a
 * database of its own and starts on an emptied cluster, so that ids, seqs and presence start afresh.
 */
import assert from "node:assert/strict";
import { userChannel } from "../lib/bus/redis_wire.ts";
import { MsgId } from "../lib/protocol/msg_id.ts";
import { eventually } from "./harness/eventually.ts";
import { assertServedBy, type RedisCluster } from "./harness/redis_cluster.ts";
import { twoNodesOnRedisClusterPerFile } from "./harness/two_nodes_on_redis_cluster.ts";
import type { Reply } from "./harness/test_client.ts";
import { type Account, account, conv, conversationSuite, device, say } from "./conversation_suite.ts";

const { start: startEnv, cluster: redisCluster } = twoNodesOnRedisClusterPerFile();

conversationSuite("Redis Cluster", startEnv);

Deno.test("Redis Cluster: messages sent while redis-cli --cluster reshard moves the users' slots to other masters arrive once, in order", async () => {
  await using env = await startEnv();
  const [p1, p2] = env.ports;
  const cluster = redisCluster();
  const [a, b] = await cheapestToMove(
    cluster,
    await Promise.all(Array.from({ length: 8 }, () => account(p1))),
  );
  const alice = await device(p1, a);
  const bob = await device(p2, b);
  await using _a = alice.client;
  await using _b = bob.client;
  const masters = await cluster.masters();
  // Both users' slots move to the next master with `redis-cli --cluster reshard` (their keys with them, and
  // the slots before them in their masters' lists), one master after the other, while alice keeps sending.
  const slots = [
    ...new Set(await Promise.all([a.id, b.id].map((id) => cluster.keySlot(userChannel("chat:", id))))),
  ];
  const origins = new Map<number, number>();
  let moving = true;
  const moves = (async () => {
    try {
      for (const slot of slots) {
        const from = await cluster.masterOf(slot);
        origins.set(slot, from);
        const to = masters[(masters.indexOf(from) + 1) % masters.length];
        const moved = await cluster.reshardThrough(slot, to);
        assert.ok(moved.includes(slot), `slot ${slot} not among the ${moved.length} moved`);
        await assertServedBy(cluster, moved, to);
      }
    } finally {
      moving = false;
    }
  })();
  const sent: string[] = [];
  const acks: Reply[] = [];
  const send = async () => {
    const text = `m${sent.length + 1}`;
    acks.push(await say(alice, b.id, text));
    sent.push(text);
  };
  while (moving || sent.length < 20) await send();
  await moves;
  for (const slot of slots) assert.notEqual(await cluster.masterOf(slot), origins.get(slot));
  // Until bob's node reads the new slot map, its frames miss live delivery; the next one that arrives
  // makes the node fill the hole from the store. Keep sending until one does.
  const received = new Map<string, Reply>();
  const take = (frame: Reply) => {
    assert.ok(!received.has(frame.mid as string), `twice: ${JSON.stringify(frame)}`);
    received.set(frame.mid as string, frame);
  };
  const isChat = (frame: Reply) => frame.msgid === 6 && frame.conv === conv(a.id, b.id);
  await eventually(async () => {
    await send();
    while (true) {
      const frame = await bob.client.next(isChat, 300).catch(() => undefined);
      if (!frame) break;
      take(frame);
    }
    return received.size === sent.length;
  }, { what: `all ${sent.length} messages at bob`, timeoutMs: 30_000, intervalMs: 0 });

  // Once each (checked as they came), every one acknowledged, and by seq in the order sent.
  const bySeq = [...received.values()].sort((x, y) => (x.seq as number) - (y.seq as number));
  assert.deepEqual(bySeq.map((frame) => frame.msg), sent);
  assert.deepEqual(bySeq.map((frame) => frame.mid), acks.map((ack) => ack.mid));
  assert.deepEqual(bySeq.map((frame) => frame.seq), sent.map((_, i) => i + 1));

  // Both log out and in again on the other node: the moved slots hold no stale claim or subscription.
  for (const [user, client, port] of [[a, alice.client, p2], [b, bob.client, p1]] as const) {
    assert.equal((await client.request({ msgid: MsgId.LOGINOUT })).errno, 0);
    const again = await device(port, user);
    again.client.close();
  }
});

/**
 * The two of `users` whose slots come first in their masters' lists: the tool moves a master's slots from
 * the first, so these make it move the fewest (with ids 1 and 2 it moved 9,442 slots and the test took 19 s).
 */
async function cheapestToMove(cluster: RedisCluster, users: Account[]): Promise<[Account, Account]> {
  const costs = new Map<Account, number>();
  for (const user of users) {
    costs.set(user, await cluster.reshardCost(await cluster.keySlot(userChannel("chat:", user.id))));
  }
  const [a, b] = users.toSorted((x, y) => costs.get(x)! - costs.get(y)!);
  return [a, b];
}
