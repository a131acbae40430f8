/**
 * The protocol over real TCP against a running node: every message type and errno of PROTOCOL.md, at
 * both protocol levels. Shared by the embedded (SQLite) and MySQL runs.
 */
import assert from "node:assert/strict";
import type { ChatNode } from "../lib/server.ts";
import { type Reply, TestClient } from "./harness/test_client.ts";

let nameCounter = 0;
/** A user name no other test uses, also when a database is shared between tests. */
export function uniqueName(prefix = "u"): string {
  return `${prefix}${++nameCounter}_${crypto.randomUUID().slice(0, 8)}`;
}

/** A registered user with an open, logged-in v2 connection. */
export interface Member {
  id: number;
  name: string;
  password: string;
  client: TestClient;
  login: Reply;
}

export async function registerUser(
  port: number,
  name = uniqueName(),
  password = "pw-" + name,
): Promise<number> {
  await using client = await TestClient.connect(port);
  const reply = await client.request({ msgid: 4, name, password });
  assert.equal(reply.errno, 0, JSON.stringify(reply));
  return reply.id as number;
}

/** Registers and logs in a user over a new v2 connection. */
export async function member(port: number, name = uniqueName()): Promise<Member> {
  const password = "pw-" + name;
  const id = await registerUser(port, name, password);
  const client = await TestClient.connect(port);
  const login = await client.request({ msgid: 1, id, password });
  assert.equal(login.errno, 0, JSON.stringify(login));
  return { id, name, password, client, login };
}

/** Logs in over a new v1 connection (no `v`, NUL-terminated like the C++ client). */
export async function v1Login(port: number, id: number, password: string): Promise<[TestClient, Reply]> {
  const client = await TestClient.connect(port);
  await client.send(JSON.stringify({ msgid: 1, id, password }) + "\0");
  const reply = await client.nextOf(2);
  return [client, reply];
}

const encoder = new TextEncoder();

/**
 * Resolves when `watcher` hears that `userId` went offline. The server sends that PRESENCE as the last step of
 * ending a login, after the session is gone: from then on the user is offline everywhere. `watcher` must have
 * `userId` as a friend.
 */
export function wentOffline(watcher: TestClient, userId: number): Promise<Reply> {
  return watcher.next((frame) => frame.msgid === 15 && frame.id === userId && frame.state === "offline");
}

/**
 * Registers the suite. `start` gives a fresh node for each test; `name` prefixes the test names.
 */
export function protocolSuite(name: string, start: () => Promise<ChatNode>): void {
  const test = (title: string, fn: (node: ChatNode) => Promise<void>) =>
    Deno.test({
      name: `${name}: ${title}`,
      sanitizeOps: true,
      sanitizeResources: true,
      fn: async () => {
        await using node = await start();
        await fn(node);
      },
    });

  // --- REG ---

  test("REG returns the new id at both levels", async (node) => {
    await using v1 = await TestClient.connect(node.port);
    await v1.send({ msgid: 4, name: uniqueName(), password: "x" });
    const first = await v1.nextOf(5);
    assert.equal(first.errno, 0);
    assert.ok(Number.isInteger(first.id) && (first.id as number) > 0);
    await using v2 = await TestClient.connect(node.port);
    const second = await v2.request({ msgid: 4, name: uniqueName(), password: "x" });
    assert.equal(second.msgid, 5);
    assert.equal(second.errno, 0);
    assert.notEqual(second.id, first.id);
  });

  test("REG of a taken name is errno 1 and keeps the first user", async (node) => {
    const name = uniqueName();
    const id = await registerUser(node.port, name, "first");
    await using client = await TestClient.connect(node.port);
    const reply = await client.request({ msgid: 4, name, password: "second" });
    assert.deepEqual([reply.msgid, reply.errno], [5, 1]);
    assert.match(reply.errmsg as string, /taken/);
    const login = await client.request({ msgid: 1, id, password: "first" });
    assert.equal(login.errno, 0);
  });

  test("REG with a missing, mistyped or too long field is errno 4 naming the field", async (node) => {
    await using client = await TestClient.connect(node.port);
    const cases: [Record<string, unknown>, string][] = [
      [{ msgid: 4, password: "x" }, "name"],
      [{ msgid: 4, name: "x" }, "password"],
      [{ msgid: 4, name: 42, password: "x" }, "name"],
      [{ msgid: 4, name: "", password: "x" }, "name"],
      [{ msgid: 4, name: "n".repeat(51), password: "x" }, "name"],
      [{ msgid: 4, name: uniqueName(), password: "p".repeat(51) }, "password"],
    ];
    for (const [frame, field] of cases) {
      const reply = await client.request(frame);
      assert.equal(reply.errno, 4, JSON.stringify(reply));
      assert.match(reply.errmsg as string, new RegExp(`"${field}"`));
    }
    // 50 characters of emoji are 100 UTF-16 units: still within the limit.
    const emojiName = "😀".repeat(49) + String(nameCounter++ % 10);
    const ok = await client.request({ msgid: 4, name: emojiName, password: "x" });
    assert.equal(ok.errno, 0, JSON.stringify(ok));
  });

  // --- LOGIN ---

  test("LOGIN v2 lists friends, groups with roles, and offline messages as objects", async (node) => {
    const alice = await member(node.port);
    const bobName = uniqueName();
    const bobId = await registerUser(node.port, bobName, "pw-" + bobName);
    assert.equal((await alice.client.request({ msgid: 7, friendid: bobId })).errno, 0);
    const group = await alice.client.request({ msgid: 8, groupname: uniqueName("g"), groupdesc: "desc ✓" });
    assert.equal(group.errno, 0);
    await alice.client.request({ msgid: 6, toid: bobId, msg: "while you were out" });
    alice.client.close();

    await using bob = await TestClient.connect(node.port);
    assert.equal((await bob.request({ msgid: 1, id: bobId, password: "pw-" + bobName })).errno, 0);
    assert.equal((await bob.request({ msgid: 9, groupid: group.groupid })).errno, 0);
    await bob.request({ msgid: 7, friendid: alice.id });
    await bob.request({ msgid: 3 });

    await using again = await TestClient.connect(node.port);
    const login = await again.request({ msgid: 1, id: bobId, password: "pw-" + bobName });
    assert.equal(login.errno, 0);
    assert.equal(login.name, bobName);
    assert.deepEqual(login.offlinemsg, []);
    assert.deepEqual(login.friends, [{ id: alice.id, name: alice.name, state: "offline" }]);
    const groups = login.groups as Record<string, unknown>[];
    assert.equal(groups.length, 1);
    assert.equal(groups[0].id, group.groupid);
    assert.equal(groups[0].groupdesc, "desc ✓");
    assert.deepEqual(groups[0].users, [
      { id: alice.id, name: alice.name, state: "offline", role: "creator" },
      { id: bobId, name: bobName, state: "online", role: "normal" },
    ]);
  });

  test("LOGIN v1 encodes every list element as a JSON string and omits empty lists", async (node) => {
    const alice = await member(node.port);
    const bobName = uniqueName();
    const bobId = await registerUser(node.port, bobName, "pw");
    const [empty, emptyAck] = await v1Login(node.port, bobId, "pw");
    assert.equal(emptyAck.errno, 0);
    assert.equal("offlinemsg" in emptyAck || "friends" in emptyAck || "groups" in emptyAck, false);
    await empty.send('{"msgid":7,"id":' + bobId + ',"friendid":' + alice.id + "}\0");
    await empty.send(
      '{"msgid":8,"id":' + bobId + ',"groupname":"' + uniqueName("g") + '","groupdesc":"d"}\0',
    );
    await empty.send('{"msgid":3,"id":' + bobId + "}\0");
    assert.deepEqual(await empty.quiet(300), [], "v1 gets no reply to successful requests");
    empty.close();
    await alice.client.request({ msgid: 6, toid: bobId, msg: "hello v1" });

    const [client, ack] = await v1Login(node.port, bobId, "pw");
    client.close();
    const friends = ack.friends as string[];
    assert.equal(typeof friends[0], "string");
    assert.deepEqual(JSON.parse(friends[0]), { id: alice.id, name: alice.name, state: "online" });
    const groups = (ack.groups as string[]).map((text) => JSON.parse(text));
    assert.equal(typeof groups[0].users[0], "string");
    assert.deepEqual(JSON.parse(groups[0].users[0]), {
      id: bobId,
      name: bobName,
      state: "online",
      role: "creator",
    });
    const offline = (ack.offlinemsg as string[]).map((text) => JSON.parse(text));
    assert.equal(offline.length, 1);
    assert.equal(offline[0].msg, "hello v1");
    assert.equal(offline[0].id, alice.id);
    assert.equal(offline[0].name, alice.name);
    alice.client.close();
  });

  test("LOGIN with a wrong password or an unknown id is errno 1", async (node) => {
    const id = await registerUser(node.port, uniqueName(), "right");
    await using client = await TestClient.connect(node.port);
    const wrong = await client.request({ msgid: 1, id, password: "wrong" });
    assert.deepEqual([wrong.msgid, wrong.errno], [2, 1]);
    const unknown = await client.request({ msgid: 1, id: 999_999_999, password: "right" });
    assert.deepEqual([unknown.msgid, unknown.errno], [2, 1]);
    const v1 = await v1Login(node.port, id, "wrong");
    v1[0].close();
    assert.deepEqual([v1[1].msgid, v1[1].errno], [2, 1]);
  });

  test("LOGIN with a missing or mistyped field is errno 4", async (node) => {
    await using client = await TestClient.connect(node.port);
    for (
      const frame of [{ msgid: 1, password: "x" }, { msgid: 1, id: "7", password: "x" }, { msgid: 1, id: 1 }]
    ) {
      const reply = await client.request(frame);
      assert.deepEqual([reply.msgid, reply.errno], [2, 4], JSON.stringify(reply));
    }
  });

  test("LOGIN of a user already logged in elsewhere is errno 2; after logout it works", async (node) => {
    const alice = await member(node.port);
    const watcher = await member(node.port);
    assert.equal((await watcher.client.request({ msgid: 7, friendid: alice.id })).errno, 0);
    await using second = await TestClient.connect(node.port);
    const refused = await second.request({ msgid: 1, id: alice.id, password: alice.password });
    assert.deepEqual([refused.msgid, refused.errno], [2, 2]);
    const again = await alice.client.request({ msgid: 1, id: alice.id, password: alice.password });
    assert.equal(again.errno, 2, "the same connection cannot log in twice");
    alice.client.close();
    await wentOffline(watcher.client, alice.id);
    const accepted = await second.request({ msgid: 1, id: alice.id, password: alice.password });
    assert.equal(accepted.errno, 0, JSON.stringify(accepted));
    watcher.client.close();
  });

  test("LOGIN of one user on many connections at once succeeds exactly once", async (node) => {
    const name = uniqueName();
    const id = await registerUser(node.port, name, "pw");
    const clients = await Promise.all(Array.from({ length: 10 }, () => TestClient.connect(node.port)));
    const replies = await Promise.all(
      clients.map((client) => client.request({ msgid: 1, id, password: "pw" })),
    );
    clients.forEach((client) => client.close());
    assert.equal(replies.filter((reply) => reply.errno === 0).length, 1);
    assert.equal(replies.filter((reply) => reply.errno === 2).length, 9);
  });

  test("LOGIN: too many failed attempts on one connection is errno 10", async (node) => {
    const id = await registerUser(node.port, uniqueName(), "right");
    await using client = await TestClient.connect(node.port);
    for (let i = 0; i < 5; i++) {
      assert.equal((await client.request({ msgid: 1, id, password: "no" })).errno, 1);
    }
    const limited = await client.request({ msgid: 1, id, password: "right" });
    assert.equal(limited.errno, 10);
    await using fresh = await TestClient.connect(node.port);
    assert.equal((await fresh.request({ msgid: 1, id, password: "right" })).errno, 0);
  });

  // --- identity ---

  test("requests before login are errno 5 and change nothing", async (node) => {
    const bob = await member(node.port);
    await using anonymous = await TestClient.connect(node.port);
    for (
      const frame of [
        { msgid: 6, id: 1, toid: bob.id, msg: "spoof" },
        { msgid: 7, id: 1, friendid: bob.id },
        { msgid: 8, id: 1, groupname: uniqueName("g") },
        { msgid: 9, id: 1, groupid: 1 },
        { msgid: 10, id: 1, groupid: 1, msg: "x" },
        { msgid: 3, id: 1 },
      ]
    ) {
      const reply = await anonymous.request(frame);
      assert.deepEqual([reply.msgid, reply.errno, reply.ref], [11, 5, frame.msgid], JSON.stringify(reply));
    }
    await anonymous.send({ msgid: 6, id: 1, name: "x", toid: bob.id, msg: "v1 spoof", time: "t" });
    assert.deepEqual(await bob.client.quiet(200), []);
    bob.client.close();
  });

  test("a v1 frame before login gets an ERROR frame with errno 5", async (node) => {
    await using client = await TestClient.connect(node.port);
    await client.send('{"msgid":6,"id":1,"name":"x","toid":2,"msg":"hi","time":"t"}\0');
    const reply = await client.next();
    assert.deepEqual([reply.msgid, reply.errno, reply.ref], [12, 5, 6]);
  });

  test("a frame claiming another user's id is errno 5 and is not delivered", async (node) => {
    const alice = await member(node.port);
    const bob = await member(node.port);
    const carol = await member(node.port);
    const reply = await alice.client.request({
      msgid: 6,
      id: bob.id,
      name: bob.name,
      toid: carol.id,
      msg: "I am bob",
    });
    assert.equal(reply.errno, 5);
    assert.deepEqual(await carol.client.quiet(200), []);
    const friend = await alice.client.request({ msgid: 7, id: bob.id, friendid: carol.id });
    assert.equal(friend.errno, 5);
    const logout = await alice.client.request({ msgid: 3, id: bob.id });
    assert.equal(logout.errno, 5);
    // A forwarded frame names the sender as the server knows them, whatever the frame said.
    await alice.client.request({ msgid: 6, id: alice.id, name: "Mallory", toid: carol.id, msg: "hi" });
    const received = await carol.client.nextOf(6);
    assert.deepEqual([received.id, received.name], [alice.id, alice.name]);
    for (const m of [alice, bob, carol]) m.client.close();
  });

  // --- ONE_CHAT ---

  test("ONE_CHAT is delivered live between v1 and v2 clients with the sender's fields", async (node) => {
    const alice = await member(node.port);
    const bobName = uniqueName();
    const bobId = await registerUser(node.port, bobName, "pw");
    const [bob] = await v1Login(node.port, bobId, "pw");
    const ack = await alice.client.request({
      msgid: 6,
      toid: bobId,
      msg: "hi bob",
      time: "2026-11-22 10:00:00",
    });
    assert.deepEqual([ack.msgid, ack.ref, ack.errno], [11, 6, 0]);
    assert.equal(typeof ack.mid, "string");
    assert.equal(typeof ack.ts, "number");
    const atBob = await bob.nextOf(6);
    assert.deepEqual(
      [atBob.id, atBob.name, atBob.toid, atBob.msg, atBob.time, atBob.mid],
      [alice.id, alice.name, bobId, "hi bob", "2026-11-22 10:00:00", ack.mid],
    );
    await bob.send(
      JSON.stringify({ msgid: 6, id: bobId, name: bobName, toid: alice.id, msg: "hi alice" }) + "\0",
    );
    const atAlice = await alice.client.nextOf(6);
    assert.equal(atAlice.msg, "hi alice");
    assert.match(atAlice.time as string, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/, "time filled in by the server");
    assert.deepEqual(await bob.quiet(100), [], "v1 gets no ACK");
    bob.close();
    alice.client.close();
  });

  test("ONE_CHAT text with Chinese, emoji, quotes and backslashes round-trips live and offline", async (node) => {
    const text = '你好, "bob" \\ \\" 😀👩‍👩‍👧 \u0000? \t tab \u2028 {"msgid":1}';
    const alice = await member(node.port);
    const bob = await member(node.port);
    await alice.client.request({ msgid: 6, toid: bob.id, msg: text });
    assert.equal((await bob.client.nextOf(6)).msg, text);
    await bob.client.request({ msgid: 3 });
    await alice.client.request({ msgid: 6, toid: bob.id, msg: text });
    const login = await bob.client.request({ msgid: 1, id: bob.id, password: bob.password });
    assert.equal((login.offlinemsg as Reply[])[0].msg, text);
    alice.client.close();
    bob.client.close();
  });

  test("ONE_CHAT of 4,096 characters is stored offline and delivered intact; 4,097 is errno 4", async (node) => {
    const alice = await member(node.port);
    const bob = await member(node.port);
    await bob.client.request({ msgid: 3 });
    const characters = [...'a😀"\\中'];
    const long = Array.from({ length: 4096 }, (_, i) => characters[i % characters.length]).join("");
    const ack = await alice.client.request({ msgid: 6, toid: bob.id, msg: long });
    assert.equal(ack.errno, 0);
    const tooLong = await alice.client.request({ msgid: 6, toid: bob.id, msg: long + "x" });
    assert.equal(tooLong.errno, 4);
    assert.match(tooLong.errmsg as string, /"msg"/);
    const login = await bob.client.request({ msgid: 1, id: bob.id, password: bob.password });
    const offline = login.offlinemsg as Reply[];
    assert.equal(offline.length, 1);
    assert.equal(offline[0].msg, long);
    alice.client.close();
    bob.client.close();
  });

  test("ONE_CHAT to a user who does not exist is errno 6; a missing field is errno 4", async (node) => {
    const alice = await member(node.port);
    const reply = await alice.client.request({ msgid: 6, toid: 999_999_999, msg: "hello?" });
    assert.equal(reply.errno, 6);
    const missing = await alice.client.request({ msgid: 6, msg: "to whom?" });
    assert.equal(missing.errno, 4);
    assert.match(missing.errmsg as string, /"toid"/);
    const empty = await alice.client.request({ msgid: 6, toid: alice.id, msg: "" });
    assert.equal(empty.errno, 4);
    alice.client.close();
  });

  test("ONE_CHAT keeps the order of one sender's messages, live and offline", async (node) => {
    const alice = await member(node.port);
    const bob = await member(node.port);
    const count = 200;
    for (let i = 0; i < count; i++) {
      await alice.client.send({ msgid: 6, v: 2, toid: bob.id, msg: `live ${i}` });
    }
    for (let i = 0; i < count; i++) assert.equal((await bob.client.nextOf(6)).msg, `live ${i}`);
    for (let i = 0; i < count; i++) assert.equal((await alice.client.nextOf(11)).errno, 0);
    await bob.client.request({ msgid: 3 });
    for (let i = 0; i < count; i++) {
      await alice.client.send({ msgid: 6, v: 2, toid: bob.id, msg: `off ${i}` });
    }
    for (let i = 0; i < count; i++) await alice.client.nextOf(11);
    const login = await bob.client.request({ msgid: 1, id: bob.id, password: bob.password });
    assert.deepEqual(
      (login.offlinemsg as Reply[]).map((frame) => frame.msg),
      Array.from({ length: count }, (_, i) => `off ${i}`),
    );
    alice.client.close();
    bob.client.close();
  });

  test("a disconnected user's messages wait past the device's cursor and are handed once", async (node) => {
    const alice = await member(node.port);
    const bob = await member(node.port);
    assert.equal((await alice.client.request({ msgid: 7, friendid: bob.id })).errno, 0);
    bob.client.close();
    await wentOffline(alice.client, bob.id);
    await alice.client.request({ msgid: 6, toid: bob.id, msg: "stored" });
    await using first = await TestClient.connect(node.port);
    const login = await first.request({ msgid: 1, id: bob.id, password: bob.password });
    assert.deepEqual((login.offlinemsg as Reply[]).map((frame) => frame.msg), ["stored"]);
    await first.request({ msgid: 3 });
    const second = await first.request({ msgid: 1, id: bob.id, password: bob.password });
    assert.deepEqual(second.offlinemsg, [], "the cursor moved past what was handed");
    alice.client.close();
  });

  test("messages arriving while the recipient logs in are neither lost nor duplicated", async (node) => {
    const alice = await member(node.port);
    const bob = await member(node.port);
    for (let round = 0; round < 3; round++) {
      await bob.client.request({ msgid: 3 });
      const sent = 150;
      const sending = (async () => {
        for (let i = 0; i < sent; i++) {
          await alice.client.send({ msgid: 6, v: 2, toid: bob.id, msg: `r${round} m${i}` });
          if (i % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
        }
      })();
      await new Promise((resolve) => setTimeout(resolve, 5));
      const login = await bob.client.request({ msgid: 1, id: bob.id, password: bob.password });
      await sending;
      for (let i = 0; i < sent; i++) assert.equal((await alice.client.nextOf(11)).errno, 0);
      const received = (login.offlinemsg as Reply[]).map((frame) => frame.msg as string);
      while (received.length < sent) received.push((await bob.client.nextOf(6, 5000)).msg as string);
      assert.deepEqual(received, Array.from({ length: sent }, (_, i) => `r${round} m${i}`));
      assert.deepEqual((await bob.client.quiet(100)).filter((frame) => frame.msgid === 6), []);
    }
    alice.client.close();
    bob.client.close();
  });

  test("messages sent while the recipient logs in and out arrive once, in order, never a login late", async (node) => {
    const alice = await member(node.port);
    const bob = await member(node.port);
    await bob.client.request({ msgid: 3 });
    bob.client.close();
    let stop = false;
    let sent = 0;
    const sending = (async () => {
      while (!stop) {
        assert.equal((await alice.client.request({ msgid: 6, toid: bob.id, msg: `s${sent}` })).errno, 0);
        sent++;
        await new Promise((resolve) => setTimeout(resolve, 2)); // under the rate limit
      }
    })();
    // A message stored offline just after a login read the offline rows would come a session late.
    const received: string[] = [];
    for (let round = 0; round < 8; round++) {
      const client = await TestClient.connect(node.port);
      const login = await client.request({ msgid: 1, id: bob.id, password: bob.password });
      received.push(...(login.offlinemsg as Reply[]).map((frame) => frame.msg as string));
      await new Promise((resolve) => setTimeout(resolve, 20 + round * 10));
      await client.request({ msgid: 3 });
      client.close();
      await client.closed;
      received.push(...client.pending.filter((f) => f.msgid === 6).map((f) => f.msg as string));
    }
    stop = true;
    await sending;
    const last = await TestClient.connect(node.port);
    const login = await last.request({ msgid: 1, id: bob.id, password: bob.password });
    received.push(...(login.offlinemsg as Reply[]).map((frame) => frame.msg as string));
    last.close();
    assert.ok(sent > 50, `only ${sent} messages sent`);
    assert.deepEqual(received, Array.from({ length: sent }, (_, i) => `s${i}`));
    alice.client.close();
  });

  // --- friends and groups ---

  test("ADD_FRIEND: self is errno 4, unknown user errno 6, twice is fine", async (node) => {
    const alice = await member(node.port);
    const bob = await member(node.port);
    assert.equal((await alice.client.request({ msgid: 7, friendid: alice.id })).errno, 4);
    assert.equal((await alice.client.request({ msgid: 7, friendid: 999_999_999 })).errno, 6);
    assert.equal((await alice.client.request({ msgid: 7, friendid: bob.id })).errno, 0);
    assert.equal((await alice.client.request({ msgid: 7, friendid: bob.id })).errno, 0);
    assert.equal((await alice.client.request({ msgid: 7 })).errno, 4);
    await alice.client.request({ msgid: 3 });
    const login = await alice.client.request({ msgid: 1, id: alice.id, password: alice.password });
    assert.deepEqual(login.friends, [{ id: bob.id, name: bob.name, state: "online" }]);
    alice.client.close();
    bob.client.close();
  });

  test("PRESENCE tells v2 friends when a user comes and goes", async (node) => {
    const alice = await member(node.port);
    const bobName = uniqueName();
    const bobId = await registerUser(node.port, bobName, "pw");
    await alice.client.request({ msgid: 7, friendid: bobId });
    const [bob] = await v1Login(node.port, bobId, "pw");
    assert.deepEqual(await alice.client.nextOf(15), { msgid: 15, id: bobId, state: "online" });
    bob.close();
    assert.deepEqual(await alice.client.nextOf(15), { msgid: 15, id: bobId, state: "offline" });
    alice.client.close();
  });

  test("CREATE_GROUP, ADD_GROUP and GROUP_CHAT reach every other member, live and offline", async (node) => {
    const alice = await member(node.port);
    const bob = await member(node.port);
    const carolName = uniqueName();
    const carolId = await registerUser(node.port, carolName, "pw");
    const created = await alice.client.request({ msgid: 8, groupname: uniqueName("g"), groupdesc: "" });
    assert.equal(created.errno, 0);
    const groupid = created.groupid as number;
    assert.equal((await bob.client.request({ msgid: 9, groupid })).errno, 0);
    assert.equal((await bob.client.request({ msgid: 9, groupid })).errno, 0, "joining twice is fine");
    // Alice follows carol only to hear when the server is done with her: a connection's frames are handled in
    // order, so her v1 join (which has no answer) is stored before the disconnect that ends her login.
    assert.equal((await alice.client.request({ msgid: 7, friendid: carolId })).errno, 0);
    const [carol] = await v1Login(node.port, carolId, "pw");
    await carol.send(JSON.stringify({ msgid: 9, id: carolId, groupid }) + "\0");
    carol.close();
    await wentOffline(alice.client, carolId);

    const ack = await alice.client.request({ msgid: 10, groupid, msg: "hello group 👋", time: "t1" });
    assert.equal(ack.errno, 0);
    const atBob = await bob.client.nextOf(10);
    assert.deepEqual(
      [atBob.id, atBob.name, atBob.groupid, atBob.msg, atBob.time, atBob.mid],
      [alice.id, alice.name, groupid, "hello group 👋", "t1", ack.mid],
    );
    assert.deepEqual(
      (await alice.client.quiet(100)).filter((f) => f.msgid === 10),
      [],
      "not echoed to sender",
    );
    const [carolAgain, carolLogin] = await v1Login(node.port, carolId, "pw");
    carolAgain.close();
    const offline = (carolLogin.offlinemsg as string[]).map((text) => JSON.parse(text));
    assert.deepEqual(offline.map((frame) => [frame.msgid, frame.msg]), [[10, "hello group 👋"]]);
    alice.client.close();
    bob.client.close();
  });

  test("group errors: taken name errno 1, missing group errno 7, non-member errno 8", async (node) => {
    const alice = await member(node.port);
    const bob = await member(node.port);
    const groupname = uniqueName("g");
    const created = await alice.client.request({ msgid: 8, groupname, groupdesc: "d" });
    assert.equal((await bob.client.request({ msgid: 8, groupname, groupdesc: "other" })).errno, 1);
    assert.equal((await bob.client.request({ msgid: 9, groupid: 999_999_999 })).errno, 7);
    assert.equal((await bob.client.request({ msgid: 10, groupid: 999_999_999, msg: "x" })).errno, 7);
    assert.equal((await bob.client.request({ msgid: 10, groupid: created.groupid, msg: "x" })).errno, 8);
    assert.deepEqual((await alice.client.quiet(100)).filter((f) => f.msgid === 10), []);
    assert.equal((await bob.client.request({ msgid: 8, groupname: "", groupdesc: "" })).errno, 4);
    assert.equal(
      (await bob.client.request({ msgid: 8, groupname: "x", groupdesc: "d".repeat(201) })).errno,
      4,
    );
    alice.client.close();
    bob.client.close();
  });

  // --- LOGINOUT, PING ---

  test("LOGINOUT ends the login; the connection stays usable", async (node) => {
    const alice = await member(node.port);
    const bye = await alice.client.request({ msgid: 3, id: alice.id });
    assert.deepEqual([bye.msgid, bye.ref, bye.errno], [11, 3, 0]);
    assert.equal((await alice.client.request({ msgid: 6, toid: alice.id, msg: "x" })).errno, 5);
    assert.equal((await alice.client.request({ msgid: 3 })).errno, 5);
    const again = await alice.client.request({ msgid: 1, id: alice.id, password: alice.password });
    assert.equal(again.errno, 0);
    alice.client.close();
  });

  test("PING is answered with PONG on v2 and ignored on v1", async (node) => {
    await using v2 = await TestClient.connect(node.port);
    const pong = await v2.request({ msgid: 13 });
    assert.equal(pong.msgid, 14);
    assert.equal(typeof pong.ts, "number");
    await using v1 = await TestClient.connect(node.port);
    await v1.send({ msgid: 13 });
    assert.deepEqual(await v1.quiet(150), []);
  });

  // --- framing and malformed input ---

  test("two frames in one write, NUL terminators and back-to-back objects are all read", async (node) => {
    await using client = await TestClient.connect(node.port);
    await client.send(
      '{"msgid":13,"v":2,"cid":1}\n{"msgid":13,"cid":2}\0{"msgid":13,"cid":3}{"msgid":13,"cid":4}\0\0\n',
    );
    for (const cid of [1, 2, 3, 4]) assert.equal((await client.next()).cid, cid);
  });

  test("a frame split byte by byte, also inside multi-byte characters, is read whole", async (node) => {
    const alice = await member(node.port);
    const bob = await member(node.port);
    const bytes = encoder.encode(
      JSON.stringify({ msgid: 6, v: 2, cid: 9, toid: bob.id, msg: "分割 😀 split" }) + "\n",
    );
    for (const byte of bytes) await alice.client.send(new Uint8Array([byte]));
    assert.equal((await alice.client.next((f) => f.cid === 9)).errno, 0);
    assert.equal((await bob.client.nextOf(6)).msg, "分割 😀 split");
    alice.client.close();
    bob.client.close();
  });

  test("malformed JSON, non-objects, missing msgid, unknown msgid: ERROR and the connection stays usable", async (node) => {
    await using client = await TestClient.connect(node.port);
    const cases: [string | Uint8Array, number][] = [
      ["{not json}\n", 13],
      ["[1,2,3]\n", 4],
      ['"just a string"\n', 4],
      ["42\n", 4],
      ['{"no":"msgid"}\n', 4],
      ['{"msgid":"1"}\n', 4],
      ['{"msgid":1.5}\n', 4],
      ['{"msgid":99,"v":2,"cid":"c"}\n', 14],
      [new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d, 0x0a]), 13],
      ['{"msgid":13,"cid":{"x":1}}\n', 4],
    ];
    for (const [frame, errno] of cases) {
      await client.send(frame);
      const reply = await client.next();
      assert.deepEqual([reply.msgid, reply.errno], [12, errno], `${frame} → ${JSON.stringify(reply)}`);
      assert.equal(typeof reply.errmsg, "string");
      if (errno === 14) assert.deepEqual([reply.ref, reply.cid], [99, "c"]);
    }
    const pong = await client.request({ msgid: 13 });
    assert.equal(pong.msgid, 14);
  });

  test("a 1 MiB frame gets errno 12 and a disconnect; the server keeps serving", async (node) => {
    await using big = await TestClient.connect(node.port);
    const payload = encoder.encode('{"msgid":6,"msg":"' + "x".repeat(1024 * 1024) + '"}\n');
    await big.send(payload).catch(() => {});
    const reply = await big.next();
    assert.deepEqual([reply.msgid, reply.errno], [12, 12]);
    await big.closed;
    await using other = await TestClient.connect(node.port);
    assert.equal((await other.request({ msgid: 13 })).msgid, 14);
  });

  test("passwords are never stored in clear", async (node) => {
    const password = "clear-text-" + crypto.randomUUID();
    const id = await registerUser(node.port, uniqueName(), password);
    const record = await node.service.context.store.findUser(id);
    assert.ok(record);
    assert.ok(!record.passwordHash.includes(password));
    assert.match(record.passwordHash, /^scrypt\$/);
  });
}
