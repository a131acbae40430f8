/**
 * The social suite across a cluster: two `main.ts` nodes sharing a MariaDB and a Redis; the suite puts
 * the actor and the user it concerns on different nodes. Then what only a cluster can show: changes made
 * at once on two nodes, decided by the store's transactions.
 */
import assert from "node:assert/strict";
import { MsgId } from "../lib/protocol/msg_id.ts";
import { twoNodesOnRedisPerFile } from "./harness/two_nodes_on_redis.ts";
import type { Reply } from "./harness/test_client.ts";
import { account, device } from "./conversation_suite.ts";
import { groupEvent, groupOf, ok, rolesSeenBy, socialSuite } from "./social_suite.ts";

const startCluster = twoNodesOnRedisPerFile("social_cluster");

socialSuite("cluster", startCluster);

Deno.test("cluster: accept and decline of one request at once from two devices on two nodes: one errno 0, one 17, and the state is the winner's", async () => {
  await using env = await startCluster();
  const [p1, p2] = env.ports;
  const b = await account(p1);
  const phone = await device(p1, b, "phone");
  const laptop = await device(p2, b, "laptop");
  await using _p = phone.client;
  await using _l = laptop.client;
  for (let round = 0; round < 4; round++) {
    const a = await account(p1);
    const requester = await device(round % 2 ? p1 : p2, a);
    await using _r = requester.client;
    ok(await requester.client.request({ msgid: MsgId.FRIEND_REQUEST, friendid: b.id }));
    await Promise.all([phone, laptop].map((d) => d.client.nextOf(MsgId.FRIEND_REQUEST)));
    const [accepted, declined] = await Promise.all([
      phone.client.request({ msgid: MsgId.FRIEND_REPLY, id: a.id, accept: true }),
      laptop.client.request({ msgid: MsgId.FRIEND_REPLY, id: a.id, accept: false }),
    ]);
    assert.deepEqual(
      [accepted.errno, declined.errno].toSorted(),
      [0, 17],
      JSON.stringify([accepted, declined]),
    );
    const winner = accepted.errno === 0;
    const reply = await requester.client.nextOf(MsgId.FRIEND_REPLY);
    assert.equal(reply.accept, winner, "the requester hears the winner's answer");
    // A chat from b after the answers: by the time it arrives, any second FRIEND_REPLY would have too.
    ok(await phone.client.request({ msgid: MsgId.ONE_CHAT, toid: a.id, msg: `after ${round}` }));
    await requester.client.next((frame) => frame.msg === `after ${round}`);
    assert.deepEqual(requester.client.pending.filter((f) => f.msgid === MsgId.FRIEND_REPLY), []);
    const fresh = await device(p2, a, "fresh");
    assert.deepEqual((fresh.login.friends as Reply[]).map((f) => f.id), winner ? [b.id] : []);
    fresh.client.close();
    await fresh.client.closed;
  }
});

Deno.test("cluster: two admins kicking each other at once are both refused with errno 15; nothing changes", async () => {
  await using env = await startCluster();
  const [p1, p2] = env.ports;
  const [o, x, y] = [await account(p1), await account(p1), await account(p2)];
  const owner = await device(p1, o);
  const xd = await device(p1, x);
  const yd = await device(p2, y);
  await using _o = owner.client;
  await using _x = xd.client;
  await using _y = yd.client;
  const groupid = await groupOf(owner, xd, yd);
  for (const admin of [x, y]) {
    ok(await owner.client.request({ msgid: MsgId.SET_ROLE, groupid, userid: admin.id, role: "admin" }));
    await groupEvent(yd.client, groupid, "role", admin.id);
  }
  const replies = await Promise.all([
    xd.client.request({ msgid: MsgId.KICK, groupid, userid: y.id }),
    yd.client.request({ msgid: MsgId.KICK, groupid, userid: x.id }),
  ]);
  assert.deepEqual(replies.map((reply) => reply.errno), [15, 15]);
  assert.deepEqual(await rolesSeenBy(p2, o, groupid), {
    [o.id]: "creator",
    [x.id]: "admin",
    [y.id]: "admin",
  });
});

Deno.test("cluster: the creator kicking admin A while A kicks member C, at once: the end state is one of a serial order", async () => {
  await using env = await startCluster();
  const [p1, p2] = env.ports;
  for (let round = 0; round < 4; round++) {
    const [o, a, c] = [await account(p1), await account(p2), await account(p1)];
    const owner = await device(p1, o);
    const admin = await device(p2, a);
    const member = await device(p1, c);
    await using _o = owner.client;
    await using _a = admin.client;
    await using _c = member.client;
    const groupid = await groupOf(owner, admin, member);
    ok(await owner.client.request({ msgid: MsgId.SET_ROLE, groupid, userid: a.id, role: "admin" }));
    await groupEvent(admin.client, groupid, "role");
    const [byCreator, byAdmin] = await Promise.all([
      owner.client.request({ msgid: MsgId.KICK, groupid, userid: a.id }),
      admin.client.request({ msgid: MsgId.KICK, groupid, userid: c.id }),
    ]);
    assert.equal(byCreator.errno, 0, JSON.stringify(byCreator));
    const roles = await rolesSeenBy(p2, o, groupid);
    if (byAdmin.errno === 0) {
      // A kicked C first, then the creator kicked A.
      assert.deepEqual(roles, { [o.id]: "creator" }, "A's kick came first");
    } else {
      // The creator kicked A first: A was no member any more.
      assert.equal(byAdmin.errno, 8, JSON.stringify(byAdmin));
      assert.deepEqual(roles, { [o.id]: "creator", [c.id]: "normal" }, "the creator's kick came first");
    }
  }
});
