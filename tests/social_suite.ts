/**
 * Friends by request, blocking and group roles over real TCP (PROTOCOL.md "Friends and blocking" and
 * "Groups", msgids 21–29, errnos 15–17): every rule and every refusal, against whatever runs behind a
 * {@linkcode SocialEnv}: one embedded node, a node on MariaDB, or two nodes sharing MariaDB and Redis (then
 * the actor and the user it concerns are on different nodes).
 *
 * Absence ("nothing was pushed") is shown with a barrier where one exists: a later frame from the same
 * sender over the same path arrives after anything sent before it, so what came before it is all there is.
 */
import assert from "node:assert/strict";
import { MsgId } from "../lib/protocol/msg_id.ts";
import { type Reply, TestClient } from "./harness/test_client.ts";
import { type Account, account, conv, type Device, device } from "./conversation_suite.ts";
import { uniqueName, v1Login, wentOffline } from "./protocol_suite.ts";

/** What the suite runs against. */
export interface SocialEnv extends AsyncDisposable {
  /** Where clients connect: two nodes when the environment has two, else the same port twice. */
  readonly ports: readonly [number, number];
}

export function ok(reply: Reply, what = ""): Reply {
  assert.equal(reply.errno, 0, `${what} ${JSON.stringify(reply)}`);
  return reply;
}

/** Asserts `request` is refused with `errno` in an ACK (its errmsg matching `message` when given). */
export async function refused(
  client: TestClient,
  request: Record<string, unknown>,
  errno: number,
  message?: RegExp,
): Promise<Reply> {
  const reply = await client.request(request);
  assert.equal(reply.msgid, MsgId.ACK, JSON.stringify(reply));
  assert.equal(reply.errno, errno, `${JSON.stringify(request)} → ${JSON.stringify(reply)}`);
  if (message) assert.match(reply.errmsg as string, message, JSON.stringify(reply));
  return reply;
}

/** The next GROUP_EVENT of `groupid` with this `event` (and `userid` when given). */
export function groupEvent(
  client: TestClient,
  groupid: number,
  event: string,
  userid?: number,
): Promise<Reply> {
  return client.next((frame) =>
    frame.msgid === MsgId.GROUP_EVENT && frame.groupid === groupid && frame.event === event &&
    (userid === undefined || frame.userid === userid)
  );
}

/** The next PRESENCE of `id`. */
function presence(client: TestClient, id: number): Promise<Reply> {
  return client.next((frame) => frame.msgid === MsgId.PRESENCE && frame.id === id);
}

/**
 * `from` sends a ONE_CHAT to `to` and `to` waits for it: the frames `to` got before it (and not yet
 * taken), of the given msgids. Everything `from`'s earlier requests pushed to `to` arrived by then.
 */
async function before(from: Device, to: Device, msgids: number[]): Promise<Reply[]> {
  const text = uniqueName("barrier");
  ok(await from.client.request({ msgid: MsgId.ONE_CHAT, toid: to.account.id, msg: text }), "barrier");
  await to.client.next((frame) => frame.msgid === MsgId.ONE_CHAT && frame.msg === text);
  return to.client.pending.filter((frame) => msgids.includes(frame.msgid));
}

/** As {@linkcode before}, with a GROUP_CHAT (which no block stops). */
async function beforeInGroup(from: Device, to: Device, groupid: number, msgids: number[]): Promise<Reply[]> {
  const text = uniqueName("barrier");
  ok(await from.client.request({ msgid: MsgId.GROUP_CHAT, groupid, msg: text }), "barrier");
  await to.client.next((frame) => frame.msgid === MsgId.GROUP_CHAT && frame.msg === text);
  return to.client.pending.filter((frame) => msgids.includes(frame.msgid));
}

/** Drops the frames received so far. */
function drain(...devices: Device[]): void {
  for (const d of devices) (d.client.pending as Reply[]).splice(0);
}

export async function createGroup(
  owner: Device,
  groupdesc = "d",
): Promise<{ groupid: number; groupname: string }> {
  const groupname = uniqueName("g");
  const reply = ok(await owner.client.request({ msgid: MsgId.CREATE_GROUP, groupname, groupdesc }));
  return { groupid: reply.groupid as number, groupname };
}

export async function join(member: Device, groupid: number): Promise<Reply> {
  return ok(await member.client.request({ msgid: MsgId.ADD_GROUP, groupid }), "ADD_GROUP");
}

/** A group of `owner` that `members` joined in this order, every join's event seen by the owner. */
export async function groupOf(owner: Device, ...members: Device[]): Promise<number> {
  const { groupid } = await createGroup(owner);
  for (const member of members) {
    await join(member, groupid);
    await groupEvent(owner.client, groupid, "joined", member.account.id);
  }
  drain(owner, ...members);
  return groupid;
}

/** A new login's view of a group: members' roles by id (`undefined` when the user is not in it). */
export async function rolesSeenBy(
  port: number,
  who: Account,
  groupid: number,
): Promise<Record<number, string>> {
  const fresh = await device(port, who, uniqueName("d"));
  await using _ = fresh.client;
  const group = (fresh.login.groups as Reply[]).find((g) => g.id === groupid);
  if (!group) return {};
  return Object.fromEntries((group.users as Reply[]).map((user) => [user.id, user.role]));
}

/** `a` asks `b`, `b` accepts: friends both ways. The pushes are taken. */
async function befriend(a: Device, b: Device): Promise<void> {
  ok(await a.client.request({ msgid: MsgId.FRIEND_REQUEST, friendid: b.account.id }));
  await b.client.nextOf(MsgId.FRIEND_REQUEST);
  ok(await b.client.request({ msgid: MsgId.FRIEND_REPLY, id: a.account.id, accept: true }));
  await a.client.nextOf(MsgId.FRIEND_REPLY);
  await presence(a.client, b.account.id);
  await presence(b.client, a.account.id);
}

/** Registers the suite; `start` gives a fresh environment for each test; `name` prefixes test names. */
export function socialSuite(name: string, start: () => Promise<SocialEnv>): void {
  const test = (title: string, fn: (env: SocialEnv) => Promise<void>) =>
    Deno.test({
      name: `${name}: ${title}`,
      sanitizeOps: true,
      sanitizeResources: true,
      fn: async () => {
        await using env = await start();
        await fn(env);
      },
    });

  test("FRIEND_REQUEST is pushed to every device of the target and listed in its next LOGIN_ACK, oldest first; a repeat is pending and pushes nothing", async (env) => {
    const [p1, p2] = env.ports;
    const [a, b, c] = [await account(p1), await account(p2), await account(p1)];
    const alice = await device(p1, a);
    const phone = await device(p2, b, "phone");
    const laptop = await device(p1, b, "laptop");
    const carol = await device(p2, c);
    await using _a = alice.client;
    await using _p = phone.client;
    await using _l = laptop.client;
    await using _c = carol.client;
    assert.deepEqual([alice.login.requests, alice.login.blocked], [[], []], "v2 LOGIN_ACK lists, empty");
    const ack = ok(
      await alice.client.request({ msgid: MsgId.FRIEND_REQUEST, friendid: b.id, note: "hi 你好" }),
    );
    assert.deepEqual([ack.ref, ack.friendid, ack.status], [MsgId.FRIEND_REQUEST, b.id, "sent"]);
    for (const client of [phone.client, laptop.client]) {
      assert.deepEqual(await client.nextOf(MsgId.FRIEND_REQUEST), {
        msgid: MsgId.FRIEND_REQUEST,
        id: a.id,
        name: a.name,
        note: "hi 你好",
      });
    }
    const repeat = ok(
      await alice.client.request({ msgid: MsgId.FRIEND_REQUEST, friendid: b.id, note: "again" }),
    );
    assert.equal(repeat.status, "pending");
    assert.deepEqual(await before(alice, phone, [MsgId.FRIEND_REQUEST]), [], "a repeat pushes nothing");
    ok(await carol.client.request({ msgid: MsgId.FRIEND_REQUEST, friendid: b.id }));
    await phone.client.nextOf(MsgId.FRIEND_REQUEST);
    const tablet = await device(p2, b, "tablet");
    await using _t = tablet.client;
    assert.deepEqual(tablet.login.requests, [
      { id: a.id, name: a.name, note: "hi 你好" },
      { id: c.id, name: c.name, note: "" },
    ]);
    assert.deepEqual(tablet.login.friends, [], "a request makes nobody a friend");
    const [v1, login] = await v1Login(p1, b.id, b.password);
    await using _v1 = v1;
    assert.equal(login.errno, 0);
    assert.deepEqual([login.requests, login.blocked], [undefined, undefined], "v1 LOGIN_ACK has neither");
  });

  test("FRIEND_REPLY accept: friends both ways, the requester told, PRESENCE exchanged with the real state; answering again is errno 17", async (env) => {
    const [p1, p2] = env.ports;
    const [a, b, c] = [await account(p1), await account(p2), await account(p1)];
    const alice = await device(p1, a);
    const bob = await device(p2, b);
    await using _a = alice.client;
    await using _b = bob.client;
    ok(await alice.client.request({ msgid: MsgId.FRIEND_REQUEST, friendid: b.id }));
    await bob.client.nextOf(MsgId.FRIEND_REQUEST);
    const ack = ok(await bob.client.request({ msgid: MsgId.FRIEND_REPLY, id: a.id, accept: true }));
    assert.deepEqual([ack.ref, ack.id, ack.accept], [MsgId.FRIEND_REPLY, a.id, true]);
    assert.deepEqual(await alice.client.nextOf(MsgId.FRIEND_REPLY), {
      msgid: MsgId.FRIEND_REPLY,
      id: b.id,
      name: b.name,
      accept: true,
    });
    assert.equal((await presence(alice.client, b.id)).state, "online");
    assert.equal((await presence(bob.client, a.id)).state, "online");
    await refused(
      bob.client,
      { msgid: MsgId.FRIEND_REPLY, id: a.id, accept: true },
      17,
      new RegExp(`no pending friend request from user ${a.id}`),
    );
    const again = ok(await alice.client.request({ msgid: MsgId.FRIEND_REQUEST, friendid: b.id }));
    assert.equal(again.status, "friends");
    assert.deepEqual(await before(alice, bob, [MsgId.FRIEND_REQUEST]), [], "nothing pushed to a friend");
    const friendsOf = async (port: number, who: Account) => {
      const fresh = await device(port, who, "fresh");
      fresh.client.close();
      await fresh.client.closed;
      return { friends: fresh.login.friends, requests: fresh.login.requests };
    };
    assert.deepEqual(await friendsOf(p1, a), {
      friends: [{ id: b.id, name: b.name, state: "online" }],
      requests: [],
    });
    assert.deepEqual(await friendsOf(p2, b), {
      friends: [{ id: a.id, name: a.name, state: "online" }],
      requests: [],
    });
    // A requester who is offline by the time of the answer is shown offline. Alice follows carol (v1
    // ADD_FRIEND) to hear when carol's logout is complete.
    ok(await alice.client.request({ msgid: MsgId.ADD_FRIEND, friendid: c.id }));
    const carol = await device(p1, c);
    ok(await carol.client.request({ msgid: MsgId.FRIEND_REQUEST, friendid: b.id }));
    await bob.client.nextOf(MsgId.FRIEND_REQUEST);
    carol.client.close();
    await carol.client.closed;
    await wentOffline(alice.client, c.id);
    ok(await bob.client.request({ msgid: MsgId.FRIEND_REPLY, id: c.id, accept: true }));
    assert.deepEqual(await presence(bob.client, c.id), { msgid: MsgId.PRESENCE, id: c.id, state: "offline" });
  });

  test("FRIEND_REPLY decline: the requester is told, nobody becomes a friend; errno 17 without a request, 4 without accept", async (env) => {
    const [p1, p2] = env.ports;
    const [a, b] = [await account(p1), await account(p2)];
    const alice = await device(p1, a);
    const bob = await device(p2, b);
    await using _a = alice.client;
    await using _b = bob.client;
    await refused(bob.client, { msgid: MsgId.FRIEND_REPLY, id: a.id, accept: false }, 17);
    await refused(bob.client, { msgid: MsgId.FRIEND_REPLY, id: 999_999_999, accept: true }, 17);
    ok(await alice.client.request({ msgid: MsgId.FRIEND_REQUEST, friendid: b.id }));
    await bob.client.nextOf(MsgId.FRIEND_REQUEST);
    await refused(bob.client, { msgid: MsgId.FRIEND_REPLY, id: a.id }, 4, /"accept"/);
    await refused(bob.client, { msgid: MsgId.FRIEND_REPLY, id: a.id, accept: "yes" }, 4, /"accept"/);
    await refused(bob.client, { msgid: MsgId.FRIEND_REPLY, accept: true }, 4, /"id"/);
    await refused(alice.client, { msgid: MsgId.FRIEND_REPLY, id: b.id, accept: true }, 17, /from user/);
    const ack = ok(await bob.client.request({ msgid: MsgId.FRIEND_REPLY, id: a.id, accept: false }));
    assert.deepEqual([ack.id, ack.accept], [a.id, false]);
    assert.deepEqual(await alice.client.nextOf(MsgId.FRIEND_REPLY), {
      msgid: MsgId.FRIEND_REPLY,
      id: b.id,
      name: b.name,
      accept: false,
    });
    await refused(bob.client, { msgid: MsgId.FRIEND_REPLY, id: a.id, accept: true }, 17);
    assert.deepEqual(await before(bob, alice, [MsgId.PRESENCE]), [], "no presence after a decline");
    const fresh = await device(p2, b, "fresh");
    await using _f = fresh.client;
    assert.deepEqual([fresh.login.friends, fresh.login.requests], [[], []]);
    // Declined, a new request can be made.
    assert.equal(
      (ok(await alice.client.request({ msgid: MsgId.FRIEND_REQUEST, friendid: b.id }))).status,
      "sent",
    );
  });

  test("crossing FRIEND_REQUESTs: the second accepts the first (status accepted, FRIEND_REPLY and PRESENCE both ways)", async (env) => {
    const [p1, p2] = env.ports;
    const [a, b] = [await account(p1), await account(p2)];
    const alice = await device(p1, a);
    const bob = await device(p2, b);
    await using _a = alice.client;
    await using _b = bob.client;
    ok(await alice.client.request({ msgid: MsgId.FRIEND_REQUEST, friendid: b.id, note: "n" }));
    await bob.client.nextOf(MsgId.FRIEND_REQUEST);
    const ack = ok(await bob.client.request({ msgid: MsgId.FRIEND_REQUEST, friendid: a.id }));
    assert.deepEqual([ack.friendid, ack.status], [a.id, "accepted"]);
    assert.deepEqual(await alice.client.nextOf(MsgId.FRIEND_REPLY), {
      msgid: MsgId.FRIEND_REPLY,
      id: b.id,
      name: b.name,
      accept: true,
    });
    assert.equal((await presence(alice.client, b.id)).state, "online");
    assert.equal((await presence(bob.client, a.id)).state, "online");
    assert.deepEqual(await before(bob, alice, [MsgId.FRIEND_REQUEST]), [], "no request pushed to alice");
    await refused(alice.client, { msgid: MsgId.FRIEND_REPLY, id: b.id, accept: true }, 17);
    const fresh = await device(p1, a, "fresh");
    await using _f = fresh.client;
    assert.deepEqual(fresh.login.friends, [{ id: b.id, name: b.name, state: "online" }]);
    assert.deepEqual(fresh.login.requests, []);
  });

  test("REMOVE_FRIEND ends the friendship both ways and tells nobody; not a friend is errno 0; yourself 4, a missing user 6; FRIEND_REQUEST likewise", async (env) => {
    const [p1, p2] = env.ports;
    const [a, b] = [await account(p1), await account(p2)];
    const alice = await device(p1, a);
    const bob = await device(p2, b);
    await using _a = alice.client;
    await using _b = bob.client;
    await befriend(alice, bob);
    const ack = ok(await bob.client.request({ msgid: MsgId.REMOVE_FRIEND, friendid: a.id }));
    assert.deepEqual([ack.ref, ack.friendid], [MsgId.REMOVE_FRIEND, a.id]);
    assert.deepEqual(
      await before(bob, alice, [MsgId.PRESENCE, MsgId.FRIEND_REPLY, MsgId.FRIEND_REQUEST]),
      [],
      "nobody is told",
    );
    ok(await bob.client.request({ msgid: MsgId.REMOVE_FRIEND, friendid: a.id }), "not a friend");
    for (const [port, who] of [[p1, a], [p2, b]] as const) {
      const fresh = await device(port, who, "fresh");
      assert.deepEqual(fresh.login.friends, [], `${who.id}'s friends`);
      fresh.client.close();
      await fresh.client.closed;
    }
    for (const msgid of [MsgId.REMOVE_FRIEND, MsgId.FRIEND_REQUEST]) {
      await refused(alice.client, { msgid, friendid: a.id }, 4, /"friendid" must not be your own id/);
      await refused(alice.client, { msgid, friendid: 999_999_999 }, 6, /no such user: 999999999/);
      await refused(alice.client, { msgid, friendid: "x" }, 4, /"friendid"/);
    }
    await refused(
      alice.client,
      { msgid: MsgId.FRIEND_REQUEST, friendid: b.id, note: "x".repeat(201) },
      4,
      /"note"/,
    );
    // A one-way v1 friend row does not stop a request, and the request makes it mutual.
    ok(await alice.client.request({ msgid: MsgId.ADD_FRIEND, friendid: b.id }));
    assert.equal(
      ok(await alice.client.request({ msgid: MsgId.FRIEND_REQUEST, friendid: b.id })).status,
      "sent",
    );
    ok(await bob.client.request({ msgid: MsgId.FRIEND_REPLY, id: a.id, accept: true }));
    const fresh = await device(p2, b, "fresh");
    await using _f = fresh.client;
    assert.deepEqual((fresh.login.friends as Reply[]).map((f) => f.id), [a.id]);
  });

  test("BLOCK: ends friendship and requests, hides presence both ways, refuses chat, requests, ADD_FRIEND and typing from the blocked; unblocking restores chat, not the friendship", async (env) => {
    const [p1, p2] = env.ports;
    const [a, b, c, d] = [await account(p1), await account(p2), await account(p1), await account(p1)];
    const alice = await device(p1, a);
    const bob = await device(p2, b);
    const carol = await device(p1, c);
    const dave = await device(p1, d);
    await using _a = alice.client;
    await using _b = bob.client;
    await using _c = carol.client;
    await using _d = dave.client;
    await befriend(alice, bob);
    const groupid = await groupOf(carol, alice, bob);
    ok(await bob.client.request({ msgid: MsgId.ONE_CHAT, toid: a.id, msg: "before" }));
    await alice.client.next((frame) => frame.msg === "before");
    // Dave's pending request goes with a block, whoever blocks.
    ok(await dave.client.request({ msgid: MsgId.FRIEND_REQUEST, friendid: b.id }));
    await bob.client.nextOf(MsgId.FRIEND_REQUEST);
    ok(await dave.client.request({ msgid: MsgId.BLOCK, userid: b.id, on: true }));
    await presence(bob.client, d.id);
    ok(await dave.client.request({ msgid: MsgId.BLOCK, userid: b.id, on: false }));
    drain(alice, bob, carol);
    const ack = ok(await bob.client.request({ msgid: MsgId.BLOCK, userid: a.id, on: true }));
    assert.deepEqual([ack.ref, ack.userid, ack.on], [MsgId.BLOCK, a.id, true]);
    assert.deepEqual(await presence(alice.client, b.id), {
      msgid: MsgId.PRESENCE,
      id: b.id,
      state: "offline",
    });
    ok(await bob.client.request({ msgid: MsgId.BLOCK, userid: a.id, on: true }), "idempotent");
    const blockedMessage = new RegExp(`blocked: user ${b.id} has blocked you`);
    await refused(alice.client, { msgid: MsgId.ONE_CHAT, toid: b.id, msg: "refused" }, 16, blockedMessage);
    await refused(alice.client, { msgid: MsgId.FRIEND_REQUEST, friendid: b.id }, 16, blockedMessage);
    await refused(alice.client, { msgid: MsgId.ADD_FRIEND, friendid: b.id }, 16, blockedMessage);
    await refused(bob.client, { msgid: MsgId.FRIEND_REQUEST, friendid: a.id }, 4, /unblock them first/);
    await refused(bob.client, { msgid: MsgId.ADD_FRIEND, friendid: a.id }, 4, /unblock them first/);
    await refused(bob.client, { msgid: MsgId.FRIEND_REPLY, id: a.id, accept: true }, 17, /no pending/);
    // Typing is dropped, group chat untouched: the group message after it is all bob gets.
    await alice.client.send({ msgid: MsgId.TYPING, v: 2, conv: conv(a.id, b.id) });
    assert.deepEqual(await beforeInGroup(alice, bob, groupid, [MsgId.TYPING, MsgId.ONE_CHAT]), []);
    // One way: bob still writes to alice.
    ok(await bob.client.request({ msgid: MsgId.ONE_CHAT, toid: a.id, msg: "from the blocker" }));
    await alice.client.next((frame) => frame.msg === "from the blocker");
    const history = ok(await bob.client.request({ msgid: MsgId.HISTORY, conv: conv(a.id, b.id) }));
    assert.deepEqual(
      (history.messages as Reply[]).map((m) => m.msg),
      ["before", "from the blocker"],
      "nothing stored",
    );
    const bobAgain = await device(p2, b, "again");
    const aliceAgain = await device(p1, a, "again");
    await using _b2 = bobAgain.client;
    await using _a2 = aliceAgain.client;
    assert.deepEqual(bobAgain.login.blocked, [a.id]);
    assert.deepEqual(bobAgain.login.requests, [], "dave's request went with his block");
    assert.deepEqual(bobAgain.login.friends, [], "alice is no friend any more");
    assert.deepEqual(aliceAgain.login.blocked, []);
    assert.deepEqual(aliceAgain.login.friends, []);
    const stateIn = (login: Reply, id: number) =>
      ((login.groups as Reply[]).find((g) => g.id === groupid)!.users as Reply[]).find((u) => u.id === id)!
        .state;
    assert.equal(stateIn(bobAgain.login, a.id), "offline", "the blocked shown offline to the blocker");
    assert.equal(stateIn(aliceAgain.login, b.id), "offline", "the blocker shown offline to the blocked");
    assert.equal(stateIn(aliceAgain.login, c.id), "online", "others as they are");
    // Unblocking restores chat and requests, not the friendship.
    const off = ok(await bob.client.request({ msgid: MsgId.BLOCK, userid: a.id, on: false }));
    assert.deepEqual([off.userid, off.on], [a.id, false]);
    ok(await bob.client.request({ msgid: MsgId.BLOCK, userid: a.id, on: false }), "idempotent");
    ok(await alice.client.request({ msgid: MsgId.ONE_CHAT, toid: b.id, msg: "after" }));
    await bob.client.next((frame) => frame.msg === "after");
    assert.equal(
      ok(await alice.client.request({ msgid: MsgId.FRIEND_REQUEST, friendid: b.id })).status,
      "sent",
    );
    const bobLast = await device(p2, b, "last");
    await using _b3 = bobLast.client;
    assert.deepEqual(bobLast.login.blocked, []);
    assert.equal(stateIn(bobLast.login, a.id), "online");
    // Refusals of BLOCK itself.
    await refused(
      bob.client,
      { msgid: MsgId.BLOCK, userid: b.id, on: true },
      4,
      /"userid" must not be your own id/,
    );
    await refused(bob.client, { msgid: MsgId.BLOCK, userid: 999_999_999, on: true }, 6);
    await refused(bob.client, { msgid: MsgId.BLOCK, userid: a.id }, 4, /"on"/);
    await refused(bob.client, { msgid: MsgId.BLOCK, userid: a.id, on: 1 }, 4, /"on"/);
  });

  test("v1: ONE_CHAT and ADD_FRIEND across a block are ERROR frames with errno 16; msgids 21-29 are unknown; no request, reply or group event reaches a v1 connection", async (env) => {
    const [p1, p2] = env.ports;
    const [a, b, c, d] = [await account(p1), await account(p2), await account(p2), await account(p2)];
    const bob = await device(p2, b);
    const carol = await device(p2, c);
    const dave = await device(p2, d);
    await using _b = bob.client;
    await using _c = carol.client;
    await using _d = dave.client;
    ok(await bob.client.request({ msgid: MsgId.BLOCK, userid: a.id, on: true }));
    // A request made from a v2 device, answered while the user is on v1 only.
    const earlier = await device(p1, a, "early");
    ok(await earlier.client.request({ msgid: MsgId.FRIEND_REQUEST, friendid: d.id }));
    earlier.client.close();
    await earlier.client.closed;
    const [v1, login] = await v1Login(p1, a.id, a.password);
    await using _v1 = v1;
    assert.equal(login.errno, 0);
    const send = (frame: Record<string, unknown>) => v1.send(JSON.stringify(frame) + "\0");
    await send({ msgid: MsgId.ONE_CHAT, id: a.id, name: a.name, toid: b.id, msg: "hi", time: "t" });
    assert.deepEqual(await v1.nextOf(MsgId.ERROR), {
      msgid: MsgId.ERROR,
      errno: 16,
      errmsg: `blocked: user ${b.id} has blocked you`,
      ref: MsgId.ONE_CHAT,
    });
    await send({ msgid: MsgId.ADD_FRIEND, id: a.id, friendid: b.id });
    assert.deepEqual([(await v1.nextOf(MsgId.ERROR)).errno], [16]);
    for (let msgid = 21; msgid <= 29; msgid++) {
      await send({ msgid, id: b.id, friendid: b.id, userid: b.id, groupid: 1, accept: true, on: true });
      assert.deepEqual(await v1.nextOf(MsgId.ERROR), {
        msgid: MsgId.ERROR,
        errno: 14,
        errmsg: `unknown msgid: ${msgid}`,
        ref: msgid,
      });
    }
    // A v2 request to a v1 user is kept for its v2 logins, never pushed to v1.
    const { groupid } = await createGroup(carol);
    await send({ msgid: MsgId.ADD_GROUP, id: a.id, groupid });
    await groupEvent(carol.client, groupid, "joined", a.id);
    ok(await carol.client.request({ msgid: MsgId.FRIEND_REQUEST, friendid: a.id }));
    ok(await carol.client.request({ msgid: MsgId.UPDATE_GROUP, groupid, groupdesc: "changed" }));
    ok(await dave.client.request({ msgid: MsgId.FRIEND_REPLY, id: a.id, accept: true }));
    // A barrier from each sender: what either sent before it arrived by then.
    const received: Reply[] = [];
    for (const sender of [carol, dave]) {
      ok(
        await sender.client.request({
          msgid: MsgId.ONE_CHAT,
          toid: a.id,
          msg: `barrier ${sender.account.id}`,
        }),
      );
    }
    for (const sender of [carol, dave]) {
      while (true) {
        const frame = await v1.next();
        if (frame.msgid === MsgId.ONE_CHAT && frame.msg === `barrier ${sender.account.id}`) break;
        if (frame.msgid !== MsgId.ONE_CHAT) received.push(frame);
      }
    }
    assert.deepEqual(received, [], "no FRIEND_REQUEST, FRIEND_REPLY, PRESENCE or GROUP_EVENT for v1");
    const fresh = await device(p1, a, "v2");
    await using _f = fresh.client;
    assert.deepEqual(fresh.login.requests, [{ id: c.id, name: c.name, note: "" }]);
  });

  test("every request but FRIEND_REPLY refuses an id other than the session's user (errno 5)", async (env) => {
    const [p1] = env.ports;
    const [a, b] = [await account(p1), await account(p1)];
    const alice = await device(p1, a);
    await using _a = alice.client;
    const fields = {
      id: b.id,
      friendid: b.id,
      userid: b.id,
      on: true,
      groupid: 1,
      role: "admin",
      groupname: "x",
    };
    for (const msgid of [21, 23, 24, 25, 26, 27, 28]) {
      await refused(alice.client, { ...fields, msgid }, 5, /"id" does not match/);
    }
    await using anonymous = await TestClient.connect(p1);
    for (let msgid = 21; msgid <= 28; msgid++) {
      await refused(anonymous, { ...fields, msgid }, 5, /not logged in/);
    }
  });

  test("CREATE_GROUP sends joined to the creator; a real ADD_GROUP sends joined to every member and its ACK carries the group; joining twice sends nothing", async (env) => {
    const [p1, p2] = env.ports;
    const [o, m] = [await account(p1), await account(p2)];
    const owner = await device(p1, o, "one");
    const ownerTwo = await device(p2, o, "two");
    const member = await device(p2, m);
    await using _o = owner.client;
    await using _o2 = ownerTwo.client;
    await using _m = member.client;
    const { groupid, groupname } = await createGroup(owner, "about");
    for (const client of [owner.client, ownerTwo.client]) {
      assert.deepEqual(await groupEvent(client, groupid, "joined"), {
        msgid: MsgId.GROUP_EVENT,
        groupid,
        event: "joined",
        userid: o.id,
        by: o.id,
        role: "creator",
        groupname,
        groupdesc: "about",
        name: o.name,
      });
    }
    const ack = await join(member, groupid);
    assert.deepEqual(ack, {
      msgid: MsgId.ACK,
      ref: MsgId.ADD_GROUP,
      cid: ack.cid,
      errno: 0,
      groupid,
      groupname,
      groupdesc: "about",
      users: [
        { id: o.id, name: o.name, state: "online", role: "creator" },
        { id: m.id, name: m.name, state: "online", role: "normal" },
      ],
    });
    const joined = {
      msgid: MsgId.GROUP_EVENT,
      groupid,
      event: "joined",
      userid: m.id,
      by: m.id,
      role: "normal",
      name: m.name,
    };
    for (const client of [owner.client, ownerTwo.client, member.client]) {
      assert.deepEqual(await groupEvent(client, groupid, "joined", m.id), joined);
    }
    assert.equal((await join(member, groupid)).groupid, groupid, "joining twice is errno 0");
    assert.deepEqual(
      await beforeInGroup(member, owner, groupid, [MsgId.GROUP_EVENT]),
      [],
      "and sends nothing",
    );
    await refused(member.client, { msgid: MsgId.ADD_GROUP, groupid: 999_999_999 }, 7);
  });

  test("SET_ROLE: the creator makes admins and normal members (role event to all, LOGIN_ACK shows it); others 15; a bad role or yourself 4; not a member 8; a missing group 7; the same role sends nothing", async (env) => {
    const [p1, p2] = env.ports;
    const [o, x, y, z] = [await account(p1), await account(p2), await account(p2), await account(p1)];
    const owner = await device(p1, o);
    const xd = await device(p2, x);
    const yd = await device(p2, y);
    const outsider = await device(p1, z);
    await using _o = owner.client;
    await using _x = xd.client;
    await using _y = yd.client;
    await using _z = outsider.client;
    const groupid = await groupOf(owner, xd, yd);
    const ack = ok(
      await owner.client.request({ msgid: MsgId.SET_ROLE, groupid, userid: x.id, role: "admin" }),
    );
    assert.deepEqual([ack.ref, ack.groupid, ack.userid, ack.role], [MsgId.SET_ROLE, groupid, x.id, "admin"]);
    const event = { msgid: MsgId.GROUP_EVENT, groupid, event: "role", userid: x.id, by: o.id, role: "admin" };
    for (const client of [owner.client, xd.client, yd.client]) {
      assert.deepEqual(await groupEvent(client, groupid, "role"), event);
    }
    assert.deepEqual(await rolesSeenBy(p2, y, groupid), {
      [o.id]: "creator",
      [x.id]: "admin",
      [y.id]: "normal",
    });
    ok(
      await owner.client.request({ msgid: MsgId.SET_ROLE, groupid, userid: x.id, role: "admin" }),
      "same role",
    );
    assert.deepEqual(await beforeInGroup(owner, yd, groupid, [MsgId.GROUP_EVENT]), [], "no event");
    const notPermitted = /not permitted: only the creator/;
    await refused(
      xd.client,
      { msgid: MsgId.SET_ROLE, groupid, userid: y.id, role: "admin" },
      15,
      notPermitted,
    );
    await refused(
      yd.client,
      { msgid: MsgId.SET_ROLE, groupid, userid: x.id, role: "normal" },
      15,
      notPermitted,
    );
    await refused(
      owner.client,
      { msgid: MsgId.SET_ROLE, groupid, userid: y.id, role: "creator" },
      4,
      /"role"/,
    );
    await refused(owner.client, { msgid: MsgId.SET_ROLE, groupid, userid: y.id }, 4, /"role"/);
    await refused(
      owner.client,
      { msgid: MsgId.SET_ROLE, groupid, userid: o.id, role: "normal" },
      4,
      /own id/,
    );
    await refused(
      owner.client,
      { msgid: MsgId.SET_ROLE, groupid, userid: z.id, role: "admin" },
      8,
      new RegExp(`user ${z.id} is not a member of group ${groupid}`),
    );
    await refused(outsider.client, { msgid: MsgId.SET_ROLE, groupid, userid: x.id, role: "normal" }, 8);
    await refused(
      owner.client,
      { msgid: MsgId.SET_ROLE, groupid: 999_999_999, userid: x.id, role: "admin" },
      7,
    );
    ok(await owner.client.request({ msgid: MsgId.SET_ROLE, groupid, userid: x.id, role: "normal" }));
    assert.equal((await groupEvent(yd.client, groupid, "role")).role, "normal");
    assert.deepEqual(await rolesSeenBy(p1, o, groupid), {
      [o.id]: "creator",
      [x.id]: "normal",
      [y.id]: "normal",
    });
  });

  test("KICK: the creator kicks anyone, an admin only normal members (15 otherwise), a normal member nobody; kicked to every member and the kicked; yourself 4, not a member 8, a missing group 7", async (env) => {
    const [p1, p2] = env.ports;
    const accounts = await Promise.all([p1, p2, p2, p2, p1, p1].map((port) => account(port)));
    const [o, a1, a2, n1, n2, z] = accounts;
    const owner = await device(p1, o);
    const [d1, d2, dn1, dn2] = [
      await device(p2, a1),
      await device(p2, a2),
      await device(p2, n1),
      await device(p1, n2),
    ];
    const outsider = await device(p1, z);
    await using _o = owner.client;
    await using _1 = d1.client;
    await using _2 = d2.client;
    await using _3 = dn1.client;
    await using _4 = dn2.client;
    await using _z = outsider.client;
    const groupid = await groupOf(owner, d1, d2, dn1, dn2);
    for (const admin of [a1, a2]) {
      ok(await owner.client.request({ msgid: MsgId.SET_ROLE, groupid, userid: admin.id, role: "admin" }));
    }
    for (const d of [owner, d1, d2, dn1, dn2]) {
      await groupEvent(d.client, groupid, "role", a1.id);
      await groupEvent(d.client, groupid, "role", a2.id);
    }
    const kick = (_by: Device, userid: number) => ({ msgid: MsgId.KICK, groupid, userid });
    await refused(d1.client, kick(d1, a2.id), 15, /not permitted/);
    await refused(d1.client, kick(d1, o.id), 15, /not permitted/);
    await refused(dn1.client, kick(dn1, n2.id), 15, /not permitted/);
    await refused(dn1.client, kick(dn1, a1.id), 15, /not permitted/);
    await refused(d1.client, kick(d1, a1.id), 4, /own id/);
    await refused(
      d1.client,
      kick(d1, z.id),
      8,
      new RegExp(`user ${z.id} is not a member of group ${groupid}`),
    );
    await refused(outsider.client, kick(outsider, n1.id), 8, new RegExp(`not a member of group ${groupid}`));
    await refused(d1.client, { msgid: MsgId.KICK, groupid: 999_999_999, userid: n1.id }, 7);
    assert.deepEqual(
      await rolesSeenBy(p1, o, groupid),
      { [o.id]: "creator", [a1.id]: "admin", [a2.id]: "admin", [n1.id]: "normal", [n2.id]: "normal" },
      "nothing changed",
    );
    // An admin kicks a normal member: everyone, the kicked included, is told.
    const ack = ok(await d1.client.request({ msgid: MsgId.KICK, groupid, userid: n1.id }));
    assert.deepEqual([ack.ref, ack.groupid, ack.userid], [MsgId.KICK, groupid, n1.id]);
    const kicked = { msgid: MsgId.GROUP_EVENT, groupid, event: "kicked", userid: n1.id, by: a1.id };
    for (const d of [owner, d1, d2, dn1, dn2]) {
      assert.deepEqual(await groupEvent(d.client, groupid, "kicked"), kicked);
    }
    await refused(d1.client, kick(d1, n1.id), 8, /is not a member/);
    // The creator kicks an admin.
    ok(await owner.client.request({ msgid: MsgId.KICK, groupid, userid: a2.id }));
    for (const d of [owner, d1, d2, dn2]) {
      assert.equal((await groupEvent(d.client, groupid, "kicked")).userid, a2.id);
    }
    assert.deepEqual(await rolesSeenBy(p2, n2, groupid), {
      [o.id]: "creator",
      [a1.id]: "admin",
      [n2.id]: "normal",
    });
    assert.deepEqual(await rolesSeenBy(p2, n1, groupid), {}, "a kicked member's LOGIN_ACK lacks the group");
  });

  test("a kicked member stops getting the group's messages at once and reads its history only up to the kick", async (env) => {
    const [p1, p2] = env.ports;
    const [o, k] = [await account(p1), await account(p2)];
    const owner = await device(p1, o);
    const gone = await device(p2, k);
    await using _o = owner.client;
    await using _k = gone.client;
    const groupid = await groupOf(owner, gone);
    for (const msg of ["one", "two"]) {
      ok(await owner.client.request({ msgid: MsgId.GROUP_CHAT, groupid, msg }));
    }
    for (const msg of ["one", "two"]) await gone.client.next((frame) => frame.msg === msg);
    ok(await owner.client.request({ msgid: MsgId.KICK, groupid, userid: k.id }));
    await groupEvent(gone.client, groupid, "kicked");
    ok(await owner.client.request({ msgid: MsgId.GROUP_CHAT, groupid, msg: "after the kick" }));
    assert.deepEqual(await before(owner, gone, [MsgId.GROUP_CHAT]), [], "no group message after the kick");
    const history = ok(await gone.client.request({ msgid: MsgId.HISTORY, conv: `g:${groupid}` }));
    assert.deepEqual((history.messages as Reply[]).map((m) => m.msg), ["one", "two"]);
    const sync = ok(await gone.client.request({ msgid: MsgId.SYNC, conv: `g:${groupid}` }));
    assert.deepEqual((sync.messages as Reply[]).map((m) => m.msg), ["one", "two"]);
    await refused(gone.client, { msgid: MsgId.GROUP_CHAT, groupid, msg: "let me in" }, 8);
    const fresh = await device(p2, k, "fresh");
    await using _f = fresh.client;
    assert.deepEqual((fresh.login.offlinemsg as Reply[]).filter((m) => m.groupid === groupid), []);
  });

  test("LEAVE_GROUP: left to every member and the leaver; a creator hands over to the earliest admin, else the earliest member (left, then role); an empty group's next joiner is its creator; 7 and 8", async (env) => {
    const [p1, p2] = env.ports;
    const [o, first, second, late] = [
      await account(p1),
      await account(p2),
      await account(p2),
      await account(p1),
    ];
    const owner = await device(p1, o);
    const d1 = await device(p2, first);
    const d2 = await device(p2, second);
    const dl = await device(p1, late);
    await using _o = owner.client;
    await using _1 = d1.client;
    await using _2 = d2.client;
    await using _l = dl.client;
    const groupid = await groupOf(owner, d1, d2);
    ok(await owner.client.request({ msgid: MsgId.SET_ROLE, groupid, userid: second.id, role: "admin" }));
    for (const d of [owner, d1, d2]) await groupEvent(d.client, groupid, "role", second.id);
    const ack = ok(await owner.client.request({ msgid: MsgId.LEAVE_GROUP, groupid }));
    assert.deepEqual([ack.ref, ack.groupid], [MsgId.LEAVE_GROUP, groupid]);
    const left = { msgid: MsgId.GROUP_EVENT, groupid, event: "left", userid: o.id, by: o.id };
    const handover = {
      msgid: MsgId.GROUP_EVENT,
      groupid,
      event: "role",
      userid: second.id,
      by: o.id,
      role: "creator",
    };
    for (const d of [d1, d2]) {
      assert.deepEqual(await d.client.nextOf(MsgId.GROUP_EVENT), left);
      assert.deepEqual(
        await d.client.nextOf(MsgId.GROUP_EVENT),
        handover,
        "the admin, though a later joiner",
      );
    }
    assert.deepEqual(await owner.client.nextOf(MsgId.GROUP_EVENT), left);
    assert.deepEqual(await before(d2, owner, [MsgId.GROUP_EVENT]), [], "the leaver gets no role event");
    await refused(owner.client, { msgid: MsgId.LEAVE_GROUP, groupid }, 8, /not a member/);
    await refused(owner.client, { msgid: MsgId.LEAVE_GROUP, groupid: 999_999_999 }, 7);
    assert.deepEqual(await rolesSeenBy(p2, first, groupid), { [first.id]: "normal", [second.id]: "creator" });
    // No admin left: the earliest member inherits.
    ok(await d2.client.request({ msgid: MsgId.LEAVE_GROUP, groupid }));
    assert.deepEqual(await d1.client.nextOf(MsgId.GROUP_EVENT), {
      ...left,
      userid: second.id,
      by: second.id,
    });
    assert.deepEqual(await d1.client.nextOf(MsgId.GROUP_EVENT), {
      ...handover,
      userid: first.id,
      by: second.id,
    });
    // The last member leaves: no heir.
    ok(await d1.client.request({ msgid: MsgId.LEAVE_GROUP, groupid }));
    assert.deepEqual(await d1.client.nextOf(MsgId.GROUP_EVENT), { ...left, userid: first.id, by: first.id });
    const ackJoin = await join(dl, groupid);
    assert.deepEqual(ackJoin.users, [{ id: late.id, name: late.name, state: "online", role: "creator" }]);
    assert.equal((await groupEvent(dl.client, groupid, "joined")).role, "creator");
    assert.deepEqual(await before(dl, d1, [MsgId.GROUP_EVENT]), [], "former members are not told");
  });

  test("UPDATE_GROUP: the creator or an admin; normal members 15; the values now in the ACK and the updated event; no change sends nothing; 4, 7, 8 and a taken name 1", async (env) => {
    const [p1, p2] = env.ports;
    const [o, ad, n, z] = [await account(p1), await account(p2), await account(p2), await account(p1)];
    const owner = await device(p1, o);
    const admin = await device(p2, ad);
    const normal = await device(p2, n);
    const outsider = await device(p1, z);
    await using _o = owner.client;
    await using _a = admin.client;
    await using _n = normal.client;
    await using _z = outsider.client;
    const groupid = await groupOf(owner, admin, normal);
    const other = await createGroup(outsider);
    ok(await owner.client.request({ msgid: MsgId.SET_ROLE, groupid, userid: ad.id, role: "admin" }));
    for (const d of [owner, admin, normal]) await groupEvent(d.client, groupid, "role");
    const name = uniqueName("renamed");
    const ack = ok(await admin.client.request({ msgid: MsgId.UPDATE_GROUP, groupid, groupname: name }));
    assert.deepEqual([ack.ref, ack.groupid, ack.groupname, ack.groupdesc], [
      MsgId.UPDATE_GROUP,
      groupid,
      name,
      "d",
    ]);
    const updated = {
      msgid: MsgId.GROUP_EVENT,
      groupid,
      event: "updated",
      userid: ad.id,
      by: ad.id,
      groupname: name,
      groupdesc: "d",
    };
    for (const d of [owner, admin, normal]) {
      assert.deepEqual(await groupEvent(d.client, groupid, "updated"), updated);
    }
    const desc = ok(await owner.client.request({ msgid: MsgId.UPDATE_GROUP, groupid, groupdesc: "" }));
    assert.deepEqual([desc.groupname, desc.groupdesc], [name, ""]);
    assert.deepEqual(await groupEvent(normal.client, groupid, "updated"), {
      ...updated,
      userid: o.id,
      by: o.id,
      groupdesc: "",
    });
    const same = ok(
      await owner.client.request({ msgid: MsgId.UPDATE_GROUP, groupid, groupname: name, groupdesc: "" }),
    );
    assert.deepEqual([same.groupname, same.groupdesc], [name, ""]);
    assert.deepEqual(
      await beforeInGroup(owner, normal, groupid, [MsgId.GROUP_EVENT]),
      [],
      "no change, no event",
    );
    await refused(normal.client, { msgid: MsgId.UPDATE_GROUP, groupid, groupdesc: "x" }, 15, /not permitted/);
    await refused(owner.client, { msgid: MsgId.UPDATE_GROUP, groupid }, 4, /"groupname" or "groupdesc"/);
    await refused(owner.client, { msgid: MsgId.UPDATE_GROUP, groupid, groupname: "" }, 4, /"groupname"/);
    await refused(
      owner.client,
      { msgid: MsgId.UPDATE_GROUP, groupid, groupname: "x".repeat(51) },
      4,
      /"groupname"/,
    );
    await refused(
      owner.client,
      { msgid: MsgId.UPDATE_GROUP, groupid, groupdesc: "x".repeat(201) },
      4,
      /"groupdesc"/,
    );
    await refused(
      owner.client,
      { msgid: MsgId.UPDATE_GROUP, groupid, groupname: other.groupname },
      1,
      /taken/,
    );
    await refused(outsider.client, { msgid: MsgId.UPDATE_GROUP, groupid, groupdesc: "x" }, 8);
    await refused(owner.client, { msgid: MsgId.UPDATE_GROUP, groupid: 999_999_999, groupdesc: "x" }, 7);
    const fresh = await device(p2, n, "fresh");
    await using _f = fresh.client;
    const group = (fresh.login.groups as Reply[]).find((g) => g.id === groupid)!;
    assert.deepEqual([group.groupname, group.groupdesc], [name, ""], "nothing refused changed anything");
  });
}
