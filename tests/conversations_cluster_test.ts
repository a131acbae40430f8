/**
 * The conversation suite across a cluster: two `main.ts` nodes sharing a MariaDB and a Redis, with nginx in
 * front. The suite's two ports are the two nodes themselves, so that sender and recipient, or a first send
 * and its retry, are on different nodes; one more test goes through nginx.
 */
import assert from "node:assert/strict";
import { MsgId } from "../lib/protocol/msg_id.ts";
import { NginxServer } from "./harness/nginx.ts";
import { twoNodesOnRedisPerFile } from "./harness/two_nodes_on_redis.ts";
import { account, conv, conversationSuite, device, say } from "./conversation_suite.ts";

const startCluster = twoNodesOnRedisPerFile("cluster");

conversationSuite("cluster", startCluster);

Deno.test("cluster: through nginx, both sides see one sequence and read the same history", async () => {
  await using env = await startCluster();
  await using nginx = await NginxServer.start({
    upstreams: env.nodePorts.map((port) => `127.0.0.1:${port}`),
  });
  const [a, b] = [await account(nginx.port), await account(nginx.port)];
  const alice = await device(nginx.port, a);
  const bob = await device(nginx.port, b);
  await using _a = alice.client;
  await using _b = bob.client;
  const name = conv(a.id, b.id);
  for (let i = 1; i <= 4; i++) {
    const ack = await say(i % 2 ? alice : bob, i % 2 ? b.id : a.id, `n${i}`);
    assert.deepEqual([ack.conv, ack.seq], [name, i]);
    const forwarded = await (i % 2 ? bob : alice).client.next((frame) => frame.msg === `n${i}`);
    assert.equal(forwarded.seq, i);
  }
  for (const client of [alice.client, bob.client]) {
    const history = await client.request({ msgid: MsgId.HISTORY, conv: name });
    assert.deepEqual((history.messages as { msg: string }[]).map((m) => m.msg), ["n1", "n2", "n3", "n4"]);
  }
});
