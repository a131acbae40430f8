/**
 * Kept conversations over real TCP (PROTOCOL.md "Conversations and sequence numbers", msgids 16–20, and
 * "Details that clients may rely on"): every rule and every refusal, against whatever runs behind an
 * {@linkcode ConversationEnv}: one embedded node, a node on MariaDB, or two nodes sharing MariaDB and Redis.
 */
import assert from "node:assert/strict";
import { MsgId } from "../lib/protocol/msg_id.ts";
import { eventually } from "./harness/eventually.ts";
import { type Reply, TestClient } from "./harness/test_client.ts";
import { registerUser, uniqueName } from "./protocol_suite.ts";

/** What the suite runs against. */
export interface ConversationEnv extends AsyncDisposable {
  /** Where clients connect: two nodes when the environment has two, else the same port twice. */
  readonly ports: readonly [number, number];
  /**
   * Removes a member from a group in the store (what LEAVE_GROUP will do), recording where they left.
   */
  removeGroupMember(groupId: number, userId: number): Promise<void>;
  /** Stops every node and starts them again on the same database; `ports` may change. */
  restart(): Promise<void>;
}

/** A registered user. */
export interface Account {
  id: number;
  name: string;
  password: string;
}

/** A logged-in v2 connection of a user's device. */
export interface Device {
  account: Account;
  client: TestClient;
  login: Reply;
}

export async function account(port: number): Promise<Account> {
  const name = uniqueName("c");
  const password = "pw-" + name;
  return { id: await registerUser(port, name, password), name, password };
}

/** Logs `account` in over v2 on `port` as `device` (none: the default device). */
export async function device(port: number, account: Account, device?: string): Promise<Device> {
  const client = await TestClient.connect(port);
  const login = await client.request({
    msgid: MsgId.LOGIN,
    id: account.id,
    password: account.password,
    device,
  });
  assert.equal(login.errno, 0, JSON.stringify(login));
  return { account, client, login };
}

/**
 * Logs in again a device whose previous connection was just closed: until the server has seen that close,
 * the device is still taken (errno 2), so this retries.
 */
async function loginAgain(port: number, account: Account, name?: string): Promise<Device> {
  return await eventually(async () => {
    const client = await TestClient.connect(port);
    const login = await client.request({
      msgid: MsgId.LOGIN,
      id: account.id,
      password: account.password,
      device: name,
    });
    if (login.errno === 0) return { account, client, login };
    client.close();
    await client.closed;
    throw new Error(JSON.stringify(login));
  }, { what: `login of ${account.id} again` });
}

/** Frames of these msgids that arrive within `ms` (other frames, presence or group events, are left out). */
async function framesOf(client: TestClient, msgids: number[], ms = 300): Promise<Reply[]> {
  return (await client.quiet(ms)).filter((frame) => msgids.includes(frame.msgid));
}

const CHAT = [MsgId.ONE_CHAT, MsgId.GROUP_CHAT];

export function conv(a: number, b: number): string {
  return a < b ? `u:${a}:${b}` : `u:${b}:${a}`;
}

function ok(reply: Reply, what = ""): Reply {
  assert.equal(reply.errno, 0, `${what} ${JSON.stringify(reply)}`);
  return reply;
}

/** Sends a ONE_CHAT and returns its ACK (errno 0 asserted). */
export async function say(from: Device, toid: number, msg: string, cmid?: string): Promise<Reply> {
  return ok(await from.client.request({ msgid: MsgId.ONE_CHAT, toid, msg, cmid }), `ONE_CHAT ${msg}`);
}

async function sayInGroup(from: Device, groupid: number, msg: string, cmid?: string): Promise<Reply> {
  return ok(await from.client.request({ msgid: MsgId.GROUP_CHAT, groupid, msg, cmid }), `GROUP_CHAT ${msg}`);
}

/** The next chat frame with this text. */
function chatFrame(client: TestClient, msg: string): Promise<Reply> {
  return client.next((frame) => (frame.msgid === 6 || frame.msgid === 10) && frame.msg === msg);
}

async function createGroup(owner: Device): Promise<number> {
  const reply = ok(await owner.client.request({ msgid: MsgId.CREATE_GROUP, groupname: uniqueName("g") }));
  return reply.groupid as number;
}

async function join(member: Device, groupid: number): Promise<void> {
  ok(await member.client.request({ msgid: MsgId.ADD_GROUP, groupid }));
}

/** SYNC without conv: the user's conversations by name. */
async function convs(client: TestClient): Promise<Map<string, Record<string, unknown>>> {
  const reply = ok(await client.request({ msgid: MsgId.SYNC }), "SYNC list");
  const list = reply.convs as Record<string, unknown>[];
  assert.deepEqual(list.map((c) => c.conv), list.map((c) => c.conv).toSorted(), "ordered by conv");
  return new Map(list.map((entry) => [entry.conv as string, entry]));
}

/** A page's messages' texts and `more`. */
function page(reply: Reply): { texts: string[]; seqs: number[]; more: boolean } {
  ok(reply, "page");
  const messages = reply.messages as Reply[];
  return {
    texts: messages.map((m) => m.msg as string),
    seqs: messages.map((m) => m.seq as number),
    more: reply.more as boolean,
  };
}

/** Asserts `request` is refused with `errno` (an ACK, its errmsg naming `field` when given). */
async function refused(client: TestClient, request: Record<string, unknown>, errno: number, field?: string) {
  const reply = await client.request(request);
  assert.equal(reply.msgid, MsgId.ACK, JSON.stringify(reply));
  assert.equal(reply.errno, errno, `${JSON.stringify(request)} → ${JSON.stringify(reply)}`);
  if (field) assert.match(reply.errmsg as string, new RegExp(`"${field}"`), JSON.stringify(reply));
  return reply;
}

/** Registers the suite; `start` gives a fresh environment for each test; `name` prefixes test names. */
export function conversationSuite(name: string, start: () => Promise<ConversationEnv>): void {
  const test = (title: string, fn: (env: ConversationEnv) => Promise<void>) =>
    Deno.test({
      name: `${name}: ${title}`,
      sanitizeOps: true,
      sanitizeResources: true,
      fn: async () => {
        await using env = await start();
        await fn(env);
      },
    });

  test("ONE_CHAT gets seq 1..n in conversation u:low:high; ACK and forwarded frames carry conv and seq", async (env) => {
    const [p1, p2] = env.ports;
    const [a, b] = [await account(p1), await account(p2)];
    // The later registered user has the higher id: make the sender the higher one, so a wrong order shows.
    await using alice = (await device(p1, b)).client;
    await using bob = (await device(p2, a)).client;
    const name = conv(a.id, b.id);
    assert.equal(name, `u:${a.id}:${b.id}`);
    for (let i = 1; i <= 3; i++) {
      const ack = ok(await alice.request({ msgid: 6, toid: a.id, msg: `m${i}`, time: "t" }));
      assert.deepEqual([ack.ref, ack.conv, ack.seq, ack.dup], [6, name, i, undefined]);
      assert.equal(typeof ack.mid, "string");
      assert.ok(Number.isSafeInteger(ack.ts));
      const forwarded = await chatFrame(bob, `m${i}`);
      assert.deepEqual(
        [
          forwarded.conv,
          forwarded.seq,
          forwarded.id,
          forwarded.name,
          forwarded.toid,
          forwarded.mid,
          forwarded.ts,
        ],
        [name, i, b.id, b.name, a.id, ack.mid, ack.ts],
      );
    }
    const reply = ok(await bob.request({ msgid: 6, toid: b.id, msg: "back" }));
    assert.deepEqual([reply.conv, reply.seq], [name, 4], "one sequence for both directions");
  });

  test("GROUP_CHAT gets seq 1..n in conversation g:G, separate from other conversations", async (env) => {
    const [p1, p2] = env.ports;
    const [owner, other] = [await device(p1, await account(p1)), await device(p2, await account(p2))];
    await using _owner = owner.client;
    await using _other = other.client;
    const groupid = await createGroup(owner);
    await join(other, groupid);
    for (let i = 1; i <= 3; i++) {
      const ack = await sayInGroup(i % 2 ? owner : other, groupid, `g${i}`);
      assert.deepEqual([ack.conv, ack.seq], [`g:${groupid}`, i]);
      const forwarded = await chatFrame(i % 2 ? other.client : owner.client, `g${i}`);
      assert.deepEqual([forwarded.conv, forwarded.seq, forwarded.groupid], [`g:${groupid}`, i, groupid]);
    }
    assert.equal((await say(owner, other.account.id, "direct")).seq, 1);
    const second = await createGroup(owner);
    assert.deepEqual([
      (await sayInGroup(owner, second, "x")).conv,
      (await sayInGroup(owner, second, "y")).seq,
    ], [
      `g:${second}`,
      2,
    ]);
  });

  test("the sender's other devices get a copy of what it sent, the sending device does not", async (env) => {
    const [p1, p2] = env.ports;
    const [a, b] = [await account(p1), await account(p1)];
    const phone = await device(p1, a, "phone");
    const laptop = await device(p2, a, "laptop");
    const bobPhone = await device(p2, b, "phone");
    const bobLaptop = await device(p1, b, "laptop");
    await using _1 = phone.client;
    await using _2 = laptop.client;
    await using _3 = bobPhone.client;
    await using _4 = bobLaptop.client;
    const ack = await say(phone, b.id, "to every device");
    for (const client of [laptop.client, bobPhone.client, bobLaptop.client]) {
      const frame = await chatFrame(client, "to every device");
      assert.deepEqual([frame.id, frame.toid, frame.seq], [a.id, b.id, ack.seq]);
    }
    const groupid = await createGroup(phone);
    await join(bobLaptop, groupid);
    const groupAck = await sayInGroup(phone, groupid, "to the group");
    for (const client of [laptop.client, bobPhone.client, bobLaptop.client]) {
      assert.equal((await chatFrame(client, "to the group")).seq, groupAck.seq);
    }
    assert.deepEqual(await framesOf(phone.client, CHAT), [], "nothing comes back to the sending device");
  });

  test("a repeated cmid is ACKed with the first values and dup, stored and delivered once", async (env) => {
    const [p1, p2] = env.ports;
    const [a, b] = [await account(p1), await account(p1)];
    const alice = await device(p1, a);
    const bob = await device(p2, b);
    await using _a = alice.client;
    await using _b = bob.client;
    const first = await say(alice, b.id, "once", "cmid-1");
    const again = await say(alice, b.id, "once (retry)", "cmid-1");
    assert.deepEqual(
      [again.conv, again.seq, again.mid, again.ts, again.dup],
      [first.conv, first.seq, first.mid, first.ts, true],
    );
    assert.equal(first.dup, undefined);
    await chatFrame(bob.client, "once");
    // Another cmid, and the same cmid from another sender, are new messages.
    assert.equal((await say(alice, b.id, "twice", "cmid-2")).seq, 2);
    const fromBob = await say(bob, a.id, "bob's", "cmid-1");
    assert.deepEqual([fromBob.seq, fromBob.dup], [3, undefined]);
    const frames = await framesOf(bob.client, CHAT);
    assert.deepEqual(frames.map((f) => f.msg), ["twice"], "the retry was not delivered");
    const history = page(await bob.client.request({ msgid: MsgId.HISTORY, conv: first.conv }));
    assert.deepEqual(history.texts, ["once", "twice", "bob's"]);
  });

  test("a repeated cmid is a dup on the other node, after a reconnect and for a group message", async (env) => {
    const [p1, p2] = env.ports;
    const [a, b] = [await account(p1), await account(p1)];
    const first = await device(p1, a);
    const bob = await device(p1, b);
    await using _b = bob.client;
    const sent = await say(first, b.id, "hello", "retry-me");
    const groupid = await createGroup(first);
    await join(bob, groupid);
    const groupSent = await sayInGroup(first, groupid, "hello group", "retry-group");
    first.client.close();
    await first.client.closed;
    // The same device again, on the other node (a client reconnecting after a drop).
    await using again = (await loginAgain(p2, a)).client;
    const retry = ok(await again.request({ msgid: 6, toid: b.id, msg: "hello", cmid: "retry-me" }));
    assert.deepEqual([retry.seq, retry.mid, retry.dup], [sent.seq, sent.mid, true]);
    const groupRetry = ok(
      await again.request({ msgid: 10, groupid, msg: "hello group", cmid: "retry-group" }),
    );
    assert.deepEqual([groupRetry.conv, groupRetry.seq, groupRetry.mid, groupRetry.dup], [
      `g:${groupid}`,
      groupSent.seq,
      groupSent.mid,
      true,
    ]);
    await chatFrame(bob.client, "hello");
    await chatFrame(bob.client, "hello group");
    assert.deepEqual(await framesOf(bob.client, CHAT), [], "retries are not delivered");
  });

  test("a repeated cmid is a dup after a server restart", async (env) => {
    const [a, b] = [await account(env.ports[0]), await account(env.ports[0])];
    const alice = await device(env.ports[0], a);
    const sent = await say(alice, b.id, "before the restart", "across-restart");
    alice.client.close();
    await alice.client.closed;
    await env.restart();
    await using again = (await loginAgain(env.ports[1], a)).client;
    const retry = ok(await again.request({ msgid: 6, toid: b.id, msg: "x", cmid: "across-restart" }));
    assert.deepEqual([retry.seq, retry.mid, retry.ts, retry.dup], [sent.seq, sent.mid, sent.ts, true]);
    assert.equal((await say({ ...alice, client: again }, b.id, "after")).seq, 2);
  });

  test("SYNC lists conversations with lastseq, readseq, peerread and unread from others only", async (env) => {
    const [p1, p2] = env.ports;
    const [a, b, c] = [await account(p1), await account(p1), await account(p1)];
    const alice = await device(p1, a);
    const bob = await device(p2, b);
    await using _a = alice.client;
    await using _b = bob.client;
    assert.equal((await convs(alice.client)).size, 0, "no conversation before a message");
    for (let i = 0; i < 3; i++) await say(alice, b.id, `a${i}`);
    await say(bob, a.id, "b0");
    const groupid = await createGroup(alice);
    await join(bob, groupid);
    await sayInGroup(bob, groupid, "g0");
    await sayInGroup(bob, groupid, "g1");
    const ab = conv(a.id, b.id);
    const aliceView = await convs(alice.client);
    // Sending moved alice's read seq to her own message (3); bob's reply is unread.
    assert.deepEqual(aliceView.get(ab), { conv: ab, lastseq: 4, readseq: 3, peerread: 4, unread: 1 });
    assert.deepEqual(aliceView.get(`g:${groupid}`), {
      conv: `g:${groupid}`,
      lastseq: 2,
      readseq: 0,
      unread: 2,
    });
    const bobView = await convs(bob.client);
    assert.deepEqual(bobView.get(ab), { conv: ab, lastseq: 4, readseq: 4, peerread: 3, unread: 0 });
    assert.equal(bobView.get(`g:${groupid}`)!.unread, 0);
    await using carol = (await device(p1, c)).client;
    assert.equal((await convs(carol)).size, 0, "nobody else's conversations");
  });

  test("SYNC after a seq pages forwards with more, and stops at the end", async (env) => {
    const [p1, p2] = env.ports;
    const [a, b] = [await account(p1), await account(p1)];
    const alice = await device(p1, a);
    await using _a = alice.client;
    await using bob = (await device(p2, b)).client;
    for (let i = 1; i <= 5; i++) await say(alice, b.id, `m${i}`);
    const name = conv(a.id, b.id);
    const first = page(await bob.request({ msgid: MsgId.SYNC, conv: name, after: 1, limit: 2 }));
    assert.deepEqual([first.seqs, first.texts, first.more], [[2, 3], ["m2", "m3"], true]);
    const second = page(await bob.request({ msgid: MsgId.SYNC, conv: name, after: 3, limit: 2 }));
    assert.deepEqual([second.seqs, second.more], [[4, 5], false]);
    const all = page(await bob.request({ msgid: MsgId.SYNC, conv: name }));
    assert.deepEqual([all.seqs, all.more], [[1, 2, 3, 4, 5], false]);
    const past = page(await bob.request({ msgid: MsgId.SYNC, conv: name, after: 5 }));
    assert.deepEqual([past.seqs, past.more], [[], false]);
    // A stored frame is the forwarded frame itself.
    const [stored] = (await bob.request({ msgid: MsgId.SYNC, conv: name, limit: 1 })).messages as Reply[];
    assert.deepEqual([stored.msgid, stored.id, stored.name, stored.toid, stored.conv], [
      6,
      a.id,
      a.name,
      b.id,
      name,
    ]);
  });

  test("HISTORY pages backwards from the newest to the first message", async (env) => {
    const [p1, p2] = env.ports;
    const owner = await device(p1, await account(p1));
    await using _o = owner.client;
    await using member = (await device(p2, await account(p2))).client;
    const groupid = await createGroup(owner);
    ok(await member.request({ msgid: MsgId.ADD_GROUP, groupid }));
    for (let i = 1; i <= 7; i++) await sayInGroup(owner, groupid, `h${i}`);
    const name = `g:${groupid}`;
    const newest = page(await member.request({ msgid: MsgId.HISTORY, conv: name, limit: 3 }));
    assert.deepEqual([newest.seqs, newest.more], [[5, 6, 7], true]);
    const older = page(await member.request({ msgid: MsgId.HISTORY, conv: name, before: 5, limit: 3 }));
    assert.deepEqual([older.seqs, older.texts, older.more], [[2, 3, 4], ["h2", "h3", "h4"], true]);
    const oldest = page(await member.request({ msgid: MsgId.HISTORY, conv: name, before: 2, limit: 3 }));
    assert.deepEqual([oldest.seqs, oldest.more], [[1], false]);
    const none = page(await member.request({ msgid: MsgId.HISTORY, conv: name, before: 1 }));
    assert.deepEqual([none.seqs, none.more], [[], false]);
    const whole = page(await member.request({ msgid: MsgId.HISTORY, conv: name }));
    assert.deepEqual([whole.seqs, whole.more], [[1, 2, 3, 4, 5, 6, 7], false], "default limit 100");
  });

  test("READ moves the read seq forwards only; RECEIPT goes to the peer and the reader's other devices", async (env) => {
    const [p1, p2] = env.ports;
    const [a, b] = [await account(p1), await account(p1)];
    const alice = await device(p1, a);
    const bobPhone = await device(p2, b, "phone");
    const bobLaptop = await device(p1, b, "laptop");
    await using _a = alice.client;
    await using _p = bobPhone.client;
    await using _l = bobLaptop.client;
    for (let i = 1; i <= 4; i++) await say(alice, b.id, `r${i}`);
    const name = conv(a.id, b.id);
    const readAck = ok(await bobPhone.client.request({ msgid: MsgId.READ, conv: name, seq: 3 }));
    assert.deepEqual([readAck.conv, readAck.readseq], [name, 3]);
    for (const client of [alice.client, bobLaptop.client]) {
      const receipt = await client.nextOf(MsgId.RECEIPT);
      assert.deepEqual(receipt, { msgid: MsgId.RECEIPT, conv: name, id: b.id, seq: 3 });
    }
    const backwards = ok(await bobLaptop.client.request({ msgid: MsgId.READ, conv: name, seq: 1 }));
    assert.equal(backwards.readseq, 3, "never backwards");
    assert.equal((await convs(bobPhone.client)).get(name)!.unread, 1);
    assert.equal((await convs(alice.client)).get(name)!.peerread, 3);
    assert.deepEqual(
      await framesOf(alice.client, [MsgId.RECEIPT]),
      [],
      "a READ that moved nothing tells nobody",
    );
    assert.deepEqual(
      await framesOf(bobPhone.client, [MsgId.RECEIPT], 0),
      [],
      "no receipt to the reading device",
    );
    // In a group, only the reader's own devices hear of it.
    const groupid = await createGroup(alice);
    await join(bobPhone, groupid);
    await sayInGroup(alice, groupid, "read me");
    ok(await bobPhone.client.request({ msgid: MsgId.READ, conv: `g:${groupid}`, seq: 1 }));
    assert.deepEqual(await bobLaptop.client.nextOf(MsgId.RECEIPT), {
      msgid: MsgId.RECEIPT,
      conv: `g:${groupid}`,
      id: b.id,
      seq: 1,
    });
    assert.deepEqual(await framesOf(alice.client, [MsgId.RECEIPT]), [], "no group receipt to other members");
  });

  test("TYPING is relayed to the peer or the group's other members, never stored, never answered", async (env) => {
    const [p1, p2] = env.ports;
    const [a, b, c] = [await account(p1), await account(p1), await account(p1)];
    const alice = await device(p1, a);
    const bob = await device(p2, b);
    const carol = await device(p1, c);
    await using _a = alice.client;
    await using _b = bob.client;
    await using _c = carol.client;
    const name = conv(a.id, b.id);
    await alice.client.send({ msgid: MsgId.TYPING, v: 2, cid: "t1", conv: name });
    assert.deepEqual(await bob.client.nextOf(MsgId.TYPING), { msgid: MsgId.TYPING, conv: name, id: a.id });
    const groupid = await createGroup(alice);
    await join(bob, groupid);
    await join(carol, groupid);
    await bob.client.send({ msgid: MsgId.TYPING, v: 2, conv: `g:${groupid}` });
    for (const client of [alice.client, carol.client]) {
      assert.deepEqual(await client.nextOf(MsgId.TYPING), {
        msgid: MsgId.TYPING,
        conv: `g:${groupid}`,
        id: b.id,
      });
    }
    // Refused ones are dropped: someone else's conversation, a group the user is not in, malformed.
    await carol.client.send({ msgid: MsgId.TYPING, v: 2, conv: name });
    const outsider = await device(p2, await account(p2));
    await using _o = outsider.client;
    await outsider.client.send({ msgid: MsgId.TYPING, v: 2, conv: `g:${groupid}` });
    await outsider.client.send({ msgid: MsgId.TYPING, v: 2, conv: "u:2:1" });
    await outsider.client.send({ msgid: MsgId.TYPING, v: 2 });
    for (const client of [alice.client, bob.client, carol.client, outsider.client]) {
      const answers = [MsgId.TYPING, MsgId.ACK, MsgId.ERROR];
      assert.deepEqual(await framesOf(client, answers), [], "no answer and no relay");
    }
    assert.equal((await convs(alice.client)).size, 0, "typing is never stored");
  });

  test("a member who left reads up to where they left, and no further", async (env) => {
    const [p1, p2] = env.ports;
    const owner = await device(p1, await account(p1));
    const leaver = await device(p2, await account(p2));
    await using _o = owner.client;
    await using _l = leaver.client;
    const groupid = await createGroup(owner);
    await join(leaver, groupid);
    for (let i = 1; i <= 3; i++) {
      await sayInGroup(owner, groupid, `before${i}`);
      await chatFrame(leaver.client, `before${i}`);
    }
    await env.removeGroupMember(groupid, leaver.account.id);
    await sayInGroup(owner, groupid, "after1");
    await sayInGroup(owner, groupid, "after2");
    const name = `g:${groupid}`;
    const listed = (await convs(leaver.client)).get(name)!;
    assert.deepEqual([listed.lastseq, listed.unread], [3, 3], "unread counts stop where they left too");
    const synced = page(await leaver.client.request({ msgid: MsgId.SYNC, conv: name }));
    assert.deepEqual([synced.texts, synced.more], [["before1", "before2", "before3"], false]);
    const history = page(await leaver.client.request({ msgid: MsgId.HISTORY, conv: name }));
    assert.deepEqual([history.seqs, history.more], [[1, 2, 3], false]);
    assert.deepEqual(page(await leaver.client.request({ msgid: MsgId.SYNC, conv: name, after: 3 })).seqs, []);
    await refused(leaver.client, { msgid: MsgId.READ, conv: name, seq: 4 }, 4, "seq");
    assert.equal(ok(await leaver.client.request({ msgid: MsgId.READ, conv: name, seq: 3 })).readseq, 3);
    await refused(leaver.client, { msgid: MsgId.GROUP_CHAT, groupid, msg: "let me in" }, 8);
    assert.deepEqual(await framesOf(leaver.client, CHAT), [], "no live messages after leaving");
    assert.equal(page(await owner.client.request({ msgid: MsgId.SYNC, conv: name })).seqs.length, 5);
  });

  test("a late joiner gets messages from joining on, its unread count starting there", async (env) => {
    const [p1, p2] = env.ports;
    const owner = await device(p1, await account(p1));
    const late = await device(p2, await account(p2));
    await using _o = owner.client;
    await using _l = late.client;
    const groupid = await createGroup(owner);
    for (let i = 1; i <= 3; i++) await sayInGroup(owner, groupid, `early${i}`);
    await join(late, groupid);
    const name = `g:${groupid}`;
    await sayInGroup(owner, groupid, "late1");
    const live = await chatFrame(late.client, "late1");
    assert.equal(live.seq, 4);
    const listed = (await convs(late.client)).get(name)!;
    assert.deepEqual([listed.lastseq, listed.unread], [4, 1]);
    // A member reads the whole conversation, from before they joined too (only leaving bounds reading).
    const history = page(await late.client.request({ msgid: MsgId.HISTORY, conv: name }));
    assert.deepEqual(history.texts, ["early1", "early2", "early3", "late1"]);
    assert.equal(ok(await late.client.request({ msgid: MsgId.READ, conv: name, seq: 4 })).readseq, 4);
    assert.equal((await convs(late.client)).get(name)!.unread, 0);
  });

  test("bad SYNC/HISTORY/READ input gets errno 4 naming the field and changes nothing", async (env) => {
    const [p1] = env.ports;
    const [a, b] = [await account(p1), await account(p1)];
    const alice = await device(p1, a);
    await using _a = alice.client;
    await say(alice, b.id, "x");
    const name = conv(a.id, b.id);
    const before = await convs(alice.client);
    const cases: [Record<string, unknown>, string][] = [
      [{ msgid: 16, conv: name, after: -1 }, "after"],
      [{ msgid: 16, conv: name, after: "1" }, "after"],
      [{ msgid: 16, conv: name, after: 1.5 }, "after"],
      [{ msgid: 16, conv: name, limit: 0 }, "limit"],
      [{ msgid: 16, conv: name, limit: 1001 }, "limit"],
      [{ msgid: 16, conv: name, limit: "5" }, "limit"],
      [{ msgid: 16, after: 3 }, "after"],
      [{ msgid: 16, conv: 7 }, "conv"],
      [{ msgid: 16, conv: "u:9:3" }, "conv"],
      [{ msgid: 16, conv: "g:abc" }, "conv"],
      [{ msgid: 17, conv: name, before: 0 }, "before"],
      [{ msgid: 17, conv: name, before: [] }, "before"],
      [{ msgid: 17, conv: name, limit: 100000 }, "limit"],
      [{ msgid: 17 }, "conv"],
      [{ msgid: 17, conv: "" }, "conv"],
      [{ msgid: 18, conv: name }, "seq"],
      [{ msgid: 18, conv: name, seq: -1 }, "seq"],
      [{ msgid: 18, conv: name, seq: "1" }, "seq"],
      [{ msgid: 18, conv: name, seq: 2 }, "seq"],
      [{ msgid: 18, conv: "u:1", seq: 1 }, "conv"],
      [{ msgid: 16, conv: name, id: a.id + 1000 }, ""],
    ];
    for (const [request, field] of cases) {
      await refused(alice.client, request, field ? 4 : 5, field || undefined);
    }
    assert.deepEqual(await convs(alice.client), before);
  });

  test("someone else's conversation is errno 4, a missing user 6, a missing group 7, a group never joined 8", async (env) => {
    const [p1, p2] = env.ports;
    const [a, b, c] = [await account(p1), await account(p1), await account(p1)];
    const alice = await device(p1, a);
    const bob = await device(p2, b);
    await using _a = alice.client;
    await using _b = bob.client;
    await using carol = (await device(p1, c)).client;
    await say(alice, b.id, "private");
    const groupid = await createGroup(alice);
    await sayInGroup(alice, groupid, "members only");
    const theirs = conv(a.id, b.id);
    const missingUser = conv(c.id, c.id + 100_000);
    const cases: [Record<string, unknown>, number][] = [];
    for (const msgid of [MsgId.SYNC, MsgId.HISTORY]) {
      cases.push([{ msgid, conv: theirs }, 4]);
      cases.push([{ msgid, conv: missingUser }, 6]);
      cases.push([{ msgid, conv: `g:${groupid}` }, 8]);
      cases.push([{ msgid, conv: `g:${groupid + 100_000}` }, 7]);
    }
    cases.push([{ msgid: MsgId.READ, conv: theirs, seq: 1 }, 4]);
    cases.push([{ msgid: MsgId.READ, conv: `g:${groupid}`, seq: 1 }, 8]);
    for (const [request, errno] of cases) await refused(carol, request, errno);
    assert.equal((await convs(bob.client)).get(theirs)!.readseq, 0, "carol's READ changed nothing");
    assert.deepEqual(await framesOf(bob.client, [MsgId.RECEIPT]), [], "and told nobody");
  });

  test("a bad cmid is errno 4 and stores nothing; ONE_CHAT to yourself is errno 4 in v2", async (env) => {
    const [p1] = env.ports;
    const [a, b] = [await account(p1), await account(p1)];
    const alice = await device(p1, a);
    await using _a = alice.client;
    await using bob = (await device(p1, b)).client;
    for (const cmid of ["", "x".repeat(65), "tab\t", "é", "😀", 12, true, ["c"]]) {
      await refused(alice.client, { msgid: 6, toid: b.id, msg: "bad", cmid }, 4, "cmid");
      await refused(alice.client, { msgid: 10, groupid: 1, msg: "bad", cmid }, 4, "cmid");
    }
    await refused(alice.client, { msgid: 6, toid: a.id, msg: "me" }, 4, "toid");
    assert.equal((await convs(alice.client)).size, 0, "nothing stored");
    assert.deepEqual(await framesOf(bob, CHAT), [], "nothing delivered");
    assert.equal((await say(alice, b.id, "x".repeat(10), "~".repeat(64))).seq, 1, "64 printable characters");
  });

  test("v1: msgids 16-20 are unknown msgids, ONE_CHAT to yourself is relayed and not stored", async (env) => {
    const [p1] = env.ports;
    const a = await account(p1);
    await using v1 = await TestClient.connect(p1);
    for (const msgid of [16, 17, 18, 19, 20]) {
      await v1.send(JSON.stringify({ msgid, conv: "g:1", seq: 1 }) + "\0");
      assert.deepEqual(await v1.nextOf(MsgId.ERROR), {
        msgid: 12,
        errno: 14,
        errmsg: `unknown msgid: ${msgid}`,
        ref: msgid,
      });
    }
    await v1.send(JSON.stringify({ msgid: 1, id: a.id, password: a.password }) + "\0");
    assert.equal((await v1.nextOf(MsgId.LOGIN_ACK)).errno, 0);
    for (const msgid of [16, 20]) {
      await v1.send(JSON.stringify({ msgid, conv: "g:1" }) + "\0");
      assert.equal((await v1.nextOf(MsgId.ERROR)).errno, 14);
    }
    await v1.send(
      JSON.stringify({ msgid: 6, id: a.id, toid: a.id, msg: "note to self", time: "t", cmid: "" }) + "\0",
    );
    const self = await v1.nextOf(MsgId.ONE_CHAT);
    assert.deepEqual([self.id, self.toid, self.msg, self.time, self.conv, self.seq], [
      a.id,
      a.id,
      "note to self",
      "t",
      undefined,
      undefined,
    ]);
    assert.deepEqual(
      await framesOf(v1, [MsgId.ACK, MsgId.ERROR]),
      [],
      "no answer to a v1 chat (its cmid is not read)",
    );
    // A v1 chat to someone else is kept like any other.
    const b = await account(p1);
    await using bob = (await device(p1, b)).client;
    await v1.send(
      JSON.stringify({ msgid: 6, id: a.id, from: a.name, toid: b.id, msg: "from v1", time: "t" }) + "\0",
    );
    const forwarded = await chatFrame(bob, "from v1");
    assert.deepEqual([forwarded.conv, forwarded.seq], [conv(a.id, b.id), 1]);
    assert.equal(
      page(await bob.request({ msgid: MsgId.HISTORY, conv: conv(a.id, b.id) })).texts[0],
      "from v1",
    );
    assert.deepEqual(await framesOf(v1, [MsgId.ACK, MsgId.ERROR]), []);
  });
}
