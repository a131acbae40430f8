/**
 * MysqlStore against a real MariaDB started for this file: the shared store suite (a fresh database per case)
 * and what only a networked database has (schema details, several nodes sharing one database, server outages,
 * credentials in errors). The upgrade of a released database is in tests/migrations_mysql_test.ts.
 *
 * One MariaDB for the file, started before its first test and stopped after its last
 * (tests/harness/mariadb_fixture.ts).
 */

import assert from "node:assert/strict";
import mysql from "mysql2/promise";
import { isFatalMysqlError, type MysqlFactory, mysqlFactory, redactUrl } from "../lib/db/mysql_factory.ts";
import { Pool } from "../lib/db/pool.ts";
import { appendMessages } from "../lib/store/mysql_append.ts";
import { MysqlConnections } from "../lib/store/mysql_connections.ts";
import { directConv, groupConv } from "../lib/conversation_name.ts";
import { StoreUnavailableError } from "../lib/store/errors.ts";
import { MysqlStore, type MysqlStoreOptions } from "../lib/store/mysql_store.ts";
import type { NewMessage } from "../lib/store/store.ts";
import { eventually } from "./harness/eventually.ts";
import { freePort } from "./harness/free_port.ts";
import { mariaDbPerFile } from "./harness/mariadb_fixture.ts";
import { type StoreFixture, storeSuite } from "./store_suite.ts";
import { append, users } from "./store_suite_fixture.ts";

const mariadb = mariaDbPerFile();
let databases = 0;

/** A test that must close every connection, socket and timer it opens (the server is the file's, not its). */
function test(name: string, fn: () => void | Promise<void>): void {
  Deno.test({ name, sanitizeOps: true, sanitizeResources: true, fn });
}

/** A migrated store over a new, empty database, and the database's URL. */
async function openAt(options?: MysqlStoreOptions): Promise<{ store: MysqlStore; url: string }> {
  const url = await mariadb().createDatabase(`store_test_${++databases}`);
  const store = MysqlStore.open(url, options);
  try {
    await store.migrate();
  } catch (error) {
    await store.close();
    throw error;
  }
  return { store, url };
}

/** A migrated store over a new, empty database. */
async function open(options?: MysqlStoreOptions): Promise<MysqlStore> {
  return (await openAt(options)).store;
}

let mids = 0;

/** A message to append, with a fresh mid and a frame that names its conv and seq. */
function message(conv: string, senderId: number, extra: Partial<NewMessage> = {}): NewMessage {
  const mid = `m${++mids}`;
  return {
    conv,
    senderId,
    mid,
    ts: Date.now(),
    frame: (seq) => JSON.stringify({ conv, seq, mid }),
    ...extra,
  };
}

/** Reads the database directly, past the store. */
async function inspect<T>(url: string, fn: (db: mysql.Connection) => Promise<T>): Promise<T> {
  const db = await mysql.createConnection(url);
  try {
    return await fn(db);
  } finally {
    await db.end();
  }
}

/**
 * The shared suite's fixture: a migrated store over a new database; `reopen` is a server restart (a new
 * store, so a new pool, on the same database).
 */
async function mysqlFixture(): Promise<StoreFixture> {
  const { store, url } = await openAt();
  const fixture: StoreFixture = {
    store,
    async reopen() {
      await fixture.store.close();
      fixture.store = MysqlStore.open(url);
      await fixture.store.migrate();
      return fixture.store;
    },
    async insertLegacyOffline(userId, frame) {
      await inspect(
        url,
        (db) => db.execute("INSERT INTO offlinemessage (userid, message) VALUES (?, ?)", [userId, frame]),
      );
    },
    async [Symbol.asyncDispose]() {
      await fixture.store.close();
    },
  };
  return fixture;
}

storeSuite("MysqlStore", mysqlFixture);

test("MysqlStore.migrate() creates every table in utf8mb4 InnoDB once, names compared exactly", async () => {
  const url = await mariadb().createDatabase("migrate_twice");
  await using store = MysqlStore.open(url);
  await store.migrate();
  const id = await store.createUser("Alice", "h");
  await store.migrate();
  assert.equal((await store.findUser(id))?.name, "Alice");
  // utf8mb4_bin names: a name differing only in case is a different name (as in the embedded store).
  assert.notEqual(await store.createUser("alice", "h"), id);

  await inspect(url, async (db) => {
    const [tables] = await db.execute<mysql.RowDataPacket[]>(
      "SELECT table_name AS name, engine, table_collation AS collation FROM information_schema.tables " +
        "WHERE table_schema = DATABASE() ORDER BY table_name",
    );
    assert.deepEqual(
      tables.map((t) => [t.name, t.engine, t.collation]).sort(),
      [
        "allgroup",
        "blocks",
        "conversations",
        "device_cursors",
        "device_tokens",
        "devices",
        "friend",
        "friend_requests",
        "groupjoin",
        "groupleft",
        "groupuser",
        "messages",
        "offlinemessage",
        "read_seqs",
        "schema_version",
        "user",
      ].map((name) => [name, "InnoDB", "utf8mb4_unicode_ci"]),
    );
    const [columns] = await db.execute<mysql.RowDataPacket[]>(
      "SELECT table_name AS t, column_name AS c, collation_name AS collation FROM information_schema.columns " +
        "WHERE table_schema = DATABASE() AND collation_name IS NOT NULL ORDER BY table_name, column_name",
    );
    const collations = Object.fromEntries(columns.map((row) => [`${row.t}.${row.c}`, row.collation]));
    assert.equal(collations["user.name"], "utf8mb4_bin");
    assert.equal(collations["allgroup.groupname"], "utf8mb4_bin");
    assert.equal(collations["offlinemessage.message"], "utf8mb4_unicode_ci");
    assert.equal(collations["messages.frame"], "utf8mb4_unicode_ci");
    assert.equal(collations["messages.cmid"], "ascii_bin");
    const [versions] = await db.execute<mysql.RowDataPacket[]>(
      "SELECT version, name FROM schema_version ORDER BY version",
    );
    assert.deepEqual(versions.map((row) => [row.version, row.name]), [
      [1, "initial"],
      [2, "conversations"],
      [3, "social"],
      [4, "sent_seqs"],
    ]);
    const [[role]] = await db.execute<mysql.RowDataPacket[]>(
      "SELECT column_type AS type FROM information_schema.columns " +
        "WHERE table_schema = DATABASE() AND table_name = 'groupuser' AND column_name = 'grouprole'",
    );
    assert.equal(role.type, "enum('creator','admin','normal')");
  });
});

test("MysqlStore: 50 new users log in at once: each device and token is stored, none lost to a deadlock", async () => {
  await using store = await open({ pool: { max: 16 } });
  const users = await Promise.all(Array.from({ length: 50 }, (_, i) => store.createUser(`u${i}`, "h")));
  const expiresAt = Date.now() + 60_000;
  // What a login writes: the device, then its token (a DELETE and an INSERT on rows that do not exist yet,
  // whose gap locks make neighbouring new users' transactions deadlock under REPEATABLE READ).
  await Promise.all(users.map(async (id) => {
    assert.equal(await store.registerDevice(id, "default"), true);
    await store.setDeviceToken(id, "default", { tokenHash: `hash${id}`, expiresAt }, 20);
  }));
  for (const id of users) {
    assert.deepEqual(await store.findDeviceToken(id, "default"), { tokenHash: `hash${id}`, expiresAt });
  }
});

test("MysqlStore.appendMessages() round-trips a 100 KB frame of emoji", async () => {
  await using store = await open();
  const a = await store.createUser("a", "h");
  const b = await store.createUser("b", "h");
  const conv = directConv(a, b);
  const text = JSON.stringify({ msgid: 6, id: a, msg: "😀👩‍👩‍👧🚀".repeat(4_000) + "end" });
  assert.ok(new TextEncoder().encode(text).length > 100_000);
  await append(store, [
    message(conv, a, { frame: () => text }),
    message(conv, a, { frame: () => "after" }),
  ]);
  const messages = await store.messagesAfter(conv, 0, 10);
  assert.equal(messages.length, 2);
  assert.ok(messages[0].frame === text, "frame changed on the way");
  assert.equal(messages[1].frame, "after");
});

test("MysqlStore.appendMessages() splits a batch of large frames under the server's packet limit", async () => {
  await using store = await open();
  const a = await store.createUser("a", "h");
  const b = await store.createUser("b", "h");
  const conv = directConv(a, b);
  // 70 frames of 300 KB: 21 MB in all, past MariaDB's 16 MiB max_allowed_packet for one statement.
  const big = "x".repeat(300_000);
  const stored = await append(
    store,
    Array.from({ length: 70 }, (_, i) => message(conv, a, { frame: (seq) => `${seq} ${i} ${big}` })),
  );
  assert.deepEqual(stored.map((m) => m.seq), Array.from({ length: 70 }, (_, i) => i + 1));
  const read = await store.messagesAfter(conv, 60, 100);
  assert.deepEqual(
    read.map((m) => m.frame.length),
    read.map((m) => `${m.seq} ${m.seq - 1} `.length + 300_000),
  );
  assert.ok(read.every((m) => m.frame === `${m.seq} ${m.seq - 1} ${big}`));
});

test("MysqlStore.appendMessages() of 75 messages in 7 conversations (padded statements) numbers each 1..n", async () => {
  await using store = await open();
  const a = await store.createUser("a", "h");
  const peers: number[] = [];
  for (let i = 0; i < 7; i++) peers.push(await store.createUser(`p${i}`, "h"));
  // Past one INSERT of messages (64), and 7 conversations and 14 read seqs: statements padded with repeats.
  const batch = Array.from({ length: 75 }, (_, i) => {
    const peer = peers[i % 7];
    return message(directConv(a, peer), i % 3 === 0 ? peer : a);
  });
  const stored = await append(store, batch);
  const expected = new Map<string, number>();
  for (const [i, m] of stored.entries()) {
    assert.equal(m.conv, batch[i].conv);
    const seq = (expected.get(m.conv) ?? 0) + 1;
    expected.set(m.conv, seq);
    assert.equal(m.seq, seq, `${m.conv}: message ${i}`);
  }
  for (const peer of peers) {
    const conv = directConv(a, peer);
    assert.equal(await store.lastSeq(conv), expected.get(conv));
    const read = await store.messagesAfter(conv, 0, 100);
    assert.deepEqual(read.map((m) => m.seq), Array.from({ length: expected.get(conv)! }, (_, i) => i + 1));
    const lastOf = (sender: number) =>
      Math.max(...stored.filter((m) => m.conv === conv && m.senderId === sender).map((m) => m.seq));
    const [ofPeer] = await store.listConversations(peer);
    assert.deepEqual([ofPeer.conv, ofPeer.readseq, ofPeer.peerread], [conv, lastOf(peer), lastOf(a)]);
  }
});

test("MysqlStore: two nodes appending to one conversation at once get seqs 1..n, each once", async () => {
  const { store: first, url } = await openAt({ pool: { max: 4 } });
  await using _first = first;
  await using second = MysqlStore.open(url, { pool: { max: 4 } });
  const a = await first.createUser("a", "h");
  const b = await first.createUser("b", "h");
  const conv = directConv(a, b);
  // 2 nodes x 60 batches of 5, all in flight at once: the batches contend for the conversation's row.
  const batches = Array.from({ length: 120 }, (_, i) => ({
    node: i % 2 === 0 ? first : second,
    messages: Array.from({ length: 5 }, (_, j) => message(conv, j % 2 === 0 ? a : b)),
  }));
  const results = await Promise.all(batches.map(({ node, messages }) => append(node, messages)));
  for (const result of results) {
    // A batch's messages are consecutive: one transaction took them together.
    assert.deepEqual(result.map((m) => m.seq), result.map((_, j) => result[0].seq + j));
  }
  const seqs = results.flat().map((m) => m.seq).sort((x, y) => x - y);
  assert.deepEqual(seqs, Array.from({ length: 600 }, (_, i) => i + 1));
  const stored = await second.messagesAfter(conv, 0, 1_000);
  assert.deepEqual(stored.map((m) => m.seq), seqs);
  const byMid = new Map(results.flat().map((m) => [m.mid, m.seq]));
  for (const m of stored) assert.equal(byMid.get(m.mid), m.seq, `${m.mid} stored at another seq`);
  assert.equal(await first.lastSeq(conv), 600);
});

test("MysqlStore: the same cmid sent through two nodes at once is stored once, the other is dup", async () => {
  const { store: first, url } = await openAt();
  await using _first = first;
  await using second = MysqlStore.open(url);
  const a = await first.createUser("a", "h");
  const b = await first.createUser("b", "h");
  const conv = directConv(a, b);
  for (let i = 0; i < 30; i++) {
    const cmid = `retry-${i}`;
    const [[one], [other]] = await Promise.all([
      append(first, [message(conv, a, { cmid })]),
      append(second, [message(conv, a, { cmid })]),
    ]);
    assert.deepEqual([one.dup, other.dup].sort(), [false, true], cmid);
    assert.deepEqual(
      { ...one, dup: false },
      { ...other, dup: false },
      `${cmid}: dup answers another message`,
    );
  }
  const stored = await first.messagesAfter(conv, 0, 100);
  assert.deepEqual(stored.map((m) => m.seq), Array.from({ length: 30 }, (_, i) => i + 1));
});

test("MysqlStore.appendMessages() that the database refuses stores nothing and leaves no seq gap", async () => {
  const { store, url } = await openAt();
  await using _store = store;
  const a = await store.createUser("a", "h");
  const b = await store.createUser("b", "h");
  const conv = directConv(a, b);
  await append(store, [message(conv, a)]);
  // The conversation's row is raised before the messages are inserted; the refused INSERT rolls it back.
  await assert.rejects(
    append(store, [message(conv, a), message(conv, b, { mid: "x".repeat(300) })]),
    /too long/i,
  );
  assert.equal(await store.lastSeq(conv), 1);
  const [next] = await append(store, [message(conv, b)]);
  assert.equal(next.seq, 2);
  await inspect(url, async (db) => {
    const [rows] = await db.execute<mysql.RowDataPacket[]>("SELECT seq FROM messages ORDER BY seq");
    assert.deepEqual(rows.map((row) => row.seq), [1, 2]);
  });
  assert.equal(store.poolStats().inUse, 0);
});

test("MysqlStore.appendMessages() chosen as a deadlock victim runs again and stores its batch once", async () => {
  const { store, url } = await openAt();
  await using _store = store;
  const a = await store.createUser("a", "h");
  const b = await store.createUser("b", "h");
  const c = await store.createUser("c", "h");
  const first = directConv(a, b);
  const second = directConv(a, c);
  await append(store, [message(first, a), message(second, a)]);

  const other = await mysql.createConnection(url);
  try {
    // Another transaction holds the second conversation's row and has written more rows than the batch will,
    // so InnoDB picks the batch as the victim of the deadlock below.
    await other.query("START TRANSACTION");
    await other.query("INSERT INTO read_seqs (userid, conv, readseq) VALUES ?", [
      Array.from({ length: 50 }, (_, i) => [c + 1_000 + i, "g:1", 0]),
    ]);
    await other.execute("SELECT lastseq FROM conversations WHERE conv = ? FOR UPDATE", [second]);
    // The batch locks the first conversation's row, then waits for the second's.
    const appending = append(store, [message(first, b), message(second, c)]);
    await eventually(async () => {
      // (information_schema.innodb_trx lists no waiting transaction on MariaDB 10.11; the processlist does.)
      const [rows] = await other.query<mysql.RowDataPacket[]>(
        "SELECT COUNT(*) AS n FROM information_schema.processlist WHERE info LIKE 'INSERT INTO conversations %'",
      );
      assert.equal(Number(rows[0].n), 1);
    }, { what: "the batch waiting for the second conversation" });
    // Taking the first conversation's row closes the cycle; it succeeds only because the batch was rolled back.
    await other.execute("SELECT lastseq FROM conversations WHERE conv = ? FOR UPDATE", [first]);
    await other.query("ROLLBACK");
    const stored = await appending;
    assert.deepEqual(stored.map((m) => [m.conv, m.seq, m.dup]), [[first, 2, false], [second, 2, false]]);
  } finally {
    await other.end();
  }
  assert.deepEqual((await store.messagesAfter(first, 0, 10)).map((m) => m.seq), [1, 2]);
  assert.deepEqual((await store.messagesAfter(second, 0, 10)).map((m) => m.seq), [1, 2]);
});

/** Two stores (two nodes' pools) over one new, migrated database, closed when disposed. */
async function twoNodes(): Promise<{ first: MysqlStore; second: MysqlStore; url: string } & AsyncDisposable> {
  const { store: first, url } = await openAt();
  const second = MysqlStore.open(url);
  return {
    first,
    second,
    url,
    async [Symbol.asyncDispose]() {
      await Promise.all([first.close(), second.close()]);
    },
  };
}

/** Rounds of each race below: enough for both interleavings to come up, without a timed assertion. */
const ROUNDS = 20;

/** The members of a group as `[id, role]` pairs, ordered by id. */
async function roles(store: MysqlStore, groupId: number): Promise<[number, string][]> {
  return (await store.findGroup(groupId))!.members.map((member) => [member.id, member.role]);
}

test("MysqlStore.answerFriendRequest() accepting and declining on two nodes at once: exactly one answers", async () => {
  await using nodes = await twoNodes();
  const { first, second } = nodes;
  for (let round = 0; round < ROUNDS; round++) {
    const [a, b] = await users(first, `a${round}`, `b${round}`);
    assert.equal(await first.requestFriend(a, b, "hi"), "sent");
    // Alternate which node accepts, so neither is always the first to ask.
    const [acceptor, decliner] = round % 2 === 0 ? [first, second] : [second, first];
    const [accepted, declined] = await Promise.all([
      acceptor.answerFriendRequest(b, a, true),
      decliner.answerFriendRequest(b, a, false),
    ]);
    assert.equal(Number(accepted) + Number(declined), 1, `round ${round}: ${accepted}, ${declined}`);
    assert.deepEqual((await second.listFriends(a)).map((f) => f.id), accepted ? [b] : [], `round ${round}`);
    assert.deepEqual((await first.listFriends(b)).map((f) => f.id), accepted ? [a] : [], `round ${round}`);
    assert.deepEqual(await first.listFriendRequests(b), []);
    assert.equal(await second.answerFriendRequest(b, a, true), false, "answered once");
  }
});

test("MysqlStore.requestFriend() both ways on two nodes at once: one is sent, the other accepts it", async () => {
  await using nodes = await twoNodes();
  const { first, second } = nodes;
  for (let round = 0; round < ROUNDS; round++) {
    const [a, b] = await users(first, `a${round}`, `b${round}`);
    const outcomes = await Promise.all([
      first.requestFriend(a, b, "from a"),
      second.requestFriend(b, a, "from b"),
    ]);
    assert.deepEqual(outcomes.toSorted(), ["accepted", "sent"], `round ${round}`);
    assert.deepEqual((await first.listFriends(a)).map((f) => f.id), [b]);
    assert.deepEqual((await second.listFriends(b)).map((f) => f.id), [a]);
    assert.deepEqual([await first.listFriendRequests(a), await first.listFriendRequests(b)], [[], []]);
  }
});

test("MysqlStore.setBlock() while the blocked user asks on another node: no request or friendship outlives the block", async () => {
  await using nodes = await twoNodes();
  const { first, second } = nodes;
  for (let round = 0; round < ROUNDS; round++) {
    const [a, b] = await users(first, `a${round}`, `b${round}`);
    await first.addFriend(a, b); // a's one-way friend (v1 ADD_FRIEND), which the block ends too
    const [, outcome] = await Promise.all([first.setBlock(b, a, true), second.requestFriend(a, b, "please")]);
    // Either the request came first (sent, then removed by the block) or the block did (refused).
    assert.ok(outcome === "sent" || outcome === "blocked", `round ${round}: ${outcome}`);
    assert.deepEqual(await second.listFriendRequests(b), []);
    assert.deepEqual(await second.listFriends(a), []);
    assert.equal(await second.isBlocked(b, a), true);
    assert.equal(await first.requestFriend(a, b, "again"), "blocked");
  }
});

test("MysqlStore.kickMember() by two admins kicking each other on two nodes at once: both not permitted", async () => {
  await using nodes = await twoNodes();
  const { first, second } = nodes;
  const [creator, x, y] = await users(first, "creator", "x", "y");
  for (let round = 0; round < ROUNDS; round++) {
    const group = await first.createGroup(creator, `g${round}`, "");
    for (const admin of [x, y]) {
      await first.addGroupMember(group, admin);
      assert.deepEqual(await first.setMemberRole(group, creator, admin, "admin"), {
        ok: true,
        changed: true,
      });
    }
    const before = await roles(first, group);
    const kicks = await Promise.all([first.kickMember(group, x, y), second.kickMember(group, y, x)]);
    const refused = { ok: false, reason: "not_permitted" };
    assert.deepEqual(kicks, [refused, refused], `round ${round}`);
    assert.deepEqual(await roles(second, group), before);
  }
});

test("MysqlStore.kickMember() of an admin by the creator while that admin kicks a member: one of the two serial orders", async () => {
  await using nodes = await twoNodes();
  const { first, second } = nodes;
  const [creator, admin, member] = await users(first, "creator", "admin", "member");
  const seen = new Set<string>();
  for (let round = 0; round < ROUNDS; round++) {
    const group = await first.createGroup(creator, `g${round}`, "");
    await first.addGroupMember(group, admin);
    await first.addGroupMember(group, member);
    await first.setMemberRole(group, creator, admin, "admin");
    const [byCreator, byAdmin] = await Promise.all([
      first.kickMember(group, creator, admin),
      second.kickMember(group, admin, member),
    ]);
    assert.deepEqual(byCreator, { ok: true, changed: true }, `round ${round}`);
    const ids = (await first.listGroupMemberIds(group)).toSorted((p, q) => p - q);
    if (byAdmin.ok) {
      // The admin's kick first, then the creator's: both are gone.
      assert.deepEqual(byAdmin, { ok: true, changed: true });
      assert.deepEqual(ids, [creator], `round ${round}`);
      assert.deepEqual(await first.groupAccess(group, member), { member: false, lastSeq: 0 });
      seen.add("admin first");
    } else {
      // The creator's kick first: the admin is no longer a member, the member stays.
      assert.deepEqual(byAdmin, { ok: false, reason: "not_member" }, `round ${round}`);
      assert.deepEqual(ids, [creator, member].toSorted((p, q) => p - q), `round ${round}`);
      seen.add("creator first");
    }
    assert.deepEqual(await second.groupAccess(group, admin), { member: false, lastSeq: 0 });
  }
  assert.ok(seen.size > 0);
});

test("MysqlStore.addGroupMember() of two users joining an emptied group on two nodes at once: one creator", async () => {
  await using nodes = await twoNodes();
  const { first, second } = nodes;
  const [founder, p, q] = await users(first, "founder", "p", "q");
  for (let round = 0; round < ROUNDS; round++) {
    const group = await first.createGroup(founder, `g${round}`, "");
    assert.deepEqual(await first.leaveGroup(group, founder), { ok: true });
    const joined = await Promise.all([first.addGroupMember(group, p), second.addGroupMember(group, q)]);
    assert.deepEqual(joined.toSorted(), ["creator", "normal"], `round ${round}`);
    const creators = (await roles(second, group)).filter(([, role]) => role === "creator");
    assert.deepEqual(creators, [[joined[0] === "creator" ? p : q, "creator"]]);
  }
});

test("MysqlStore.leaveGroup() of the creator while an admin is demoted on another node: one creator, never two", async () => {
  await using nodes = await twoNodes();
  const { first, second } = nodes;
  const [creator, admin, member] = await users(first, "creator", "admin", "member");
  for (let round = 0; round < ROUNDS; round++) {
    const group = await first.createGroup(creator, `g${round}`, "");
    await first.addGroupMember(group, member);
    await first.addGroupMember(group, admin);
    await first.setMemberRole(group, creator, admin, "admin");
    // The creator demotes the admin on one device and leaves on another: the heir is the admin if the
    // leave came first (the admin then being the creator, the demotion is refused), else the member (who
    // joined earlier than the now normal admin).
    const [demoted, left] = await Promise.all([
      first.setMemberRole(group, creator, admin, "normal"),
      second.leaveGroup(group, creator),
    ]);
    const after = new Map(await roles(first, group));
    if (demoted.ok) {
      assert.deepEqual(
        [demoted, left],
        [{ ok: true, changed: true }, { ok: true, heir: member }],
        `round ${round}`,
      );
      assert.deepEqual([after.get(member), after.get(admin)], ["creator", "normal"]);
    } else {
      assert.deepEqual([demoted, left], [{ ok: false, reason: "not_member" }, { ok: true, heir: admin }]);
      assert.deepEqual([after.get(member), after.get(admin)], ["normal", "creator"]);
    }
    assert.equal(after.has(creator), false);
  }
});

test("MysqlStore.kickMember() chosen as a deadlock victim runs again and kicks once", async () => {
  const { store, url } = await openAt();
  await using _store = store;
  const [creator, member] = await users(store, "creator", "member");
  const group = await store.createGroup(creator, "g", "");
  await store.addGroupMember(group, member);
  const other = await mysql.createConnection(url);
  try {
    // Another transaction holds the member's row (the kick's second lock) and has written more rows than the
    // kick will, so InnoDB picks the kick as the victim of the deadlock below.
    await other.query("START TRANSACTION");
    await other.query("INSERT INTO read_seqs (userid, conv, readseq) VALUES ?", [
      Array.from({ length: 50 }, (_, i) => [member + 1_000 + i, "g:1", 0]),
    ]);
    const lock = "SELECT grouprole FROM groupuser WHERE groupid = ? AND userid = ? FOR UPDATE";
    await other.execute(lock, [group, member]);
    // The kick locks the creator's row, then waits for the member's.
    const kicking = store.kickMember(group, creator, member);
    await eventually(async () => {
      const [rows] = await other.query<mysql.RowDataPacket[]>(
        "SELECT COUNT(*) AS n FROM information_schema.processlist WHERE info LIKE 'SELECT grouprole FROM groupuser %'",
      );
      assert.equal(Number(rows[0].n), 1);
    }, { what: "the kick waiting for the member's row" });
    // Taking the creator's row closes the cycle; it succeeds only because the kick was rolled back.
    await other.execute(lock, [group, creator]);
    await other.query("ROLLBACK");
    assert.deepEqual(await kicking, { ok: true, changed: true });
  } finally {
    await other.end();
  }
  assert.deepEqual(await store.listGroupMemberIds(group), [creator]);
  assert.deepEqual(await store.groupAccess(group, member), { member: false, lastSeq: 0 });
});

/** The server's counts of the statements an append runs, by kind. */
async function statementCounts(url: string): Promise<Record<string, number>> {
  return await inspect(url, async (db) => {
    const [rows] = await db.query<mysql.RowDataPacket[]>(
      "SHOW GLOBAL STATUS WHERE Variable_name IN ('Com_begin', 'Com_insert', 'Com_select', 'Com_commit', 'Com_rollback')",
    );
    return Object.fromEntries(rows.map((row) => [String(row.Variable_name).slice(4), Number(row.Value)]));
  });
}

/** The append's connections over `url` (as MysqlStore opens them), counting the queries they send. */
function countingAppends(url: string): { connections: MysqlConnections; queries: () => number } {
  const factory = mysqlFactory(url, { multipleStatements: true });
  let queries = 0;
  const counting: MysqlFactory = {
    ...factory,
    async create(signal) {
      const connection = await factory.create(signal);
      const query = connection.query.bind(connection);
      connection.query = ((...args: Parameters<typeof query>) => {
        queries++;
        return query(...args);
      }) as typeof query;
      return connection;
    },
  };
  const connections = new MysqlConnections(counting, new Pool(counting, { max: 1 }), {
    queryTimeout: 10_000,
  });
  return { connections, queries: () => queries };
}

test("MysqlStore.appendMessages() is two round trips, reads the blocks with the seqs, and takes a second attempt only for a batch with a block", async () => {
  const { store, url } = await openAt();
  await using _store = store;
  const { connections, queries } = countingAppends(url);
  // 200 one-to-one messages: both ways between a and 100 peers, 200 (peer, sender) pairs to look up.
  const [a, ...peers] = await users(store, "a", ...Array.from({ length: 100 }, (_, i) => `p${i}`));
  const group = groupConv(await store.createGroup(a, "g", ""));
  const direct = peers.flatMap((
    peer,
  ) => [message(directConv(a, peer), a), message(directConv(a, peer), peer)]);
  const executed = async (batch: NewMessage[]) => {
    const before = await statementCounts(url);
    const queriesBefore = queries();
    const results = await appendMessages(connections, batch);
    const roundTrips = queries() - queriesBefore;
    const after = await statementCounts(url);
    const statements = Object.fromEntries(
      Object.keys(after).map((kind) => [kind, after[kind] - before[kind]]),
    );
    return { roundTrips, statements, results };
  };
  try {
    // A group batch of as many messages: START TRANSACTION, the conversations' upsert and read in one round
    // trip; four INSERTs of the messages (64 rows each at most), the read seqs' upsert and COMMIT in the other.
    const grouped = await executed(direct.map(() => message(group, a)));
    assert.equal(grouped.roundTrips, 2);
    assert.deepEqual(grouped.statements, { begin: 1, insert: 6, select: 1, commit: 1, rollback: 0 });
    // A one-to-one batch without a block: the blocks are read in the first round trip too, and no read seq is
    // upserted (the senders' moved with the conversations' rows).
    const clear = await executed(direct);
    assert.equal(clear.roundTrips, 2);
    assert.deepEqual(clear.statements, { begin: 1, insert: 5, select: 2, commit: 1, rollback: 0 });
    assert.ok(clear.results.every((result) => !("blocked" in result)));
    // With a block: the first attempt finds it in its first round trip, after taking the seqs, and is rolled
    // back (a round trip of its own); the second leaves the blocked message out, and takes no seq for it.
    await store.setBlock(peers[3], a, true);
    const lastBefore = await store.lastSeq(directConv(a, peers[3]));
    const { roundTrips, statements, results } = await executed(direct);
    assert.equal(roundTrips, 1 + 1 + 2);
    assert.deepEqual(statements, { begin: 2, insert: 1 + 5, select: 2 + 1, commit: 1, rollback: 1 });
    assert.deepEqual(
      results.map((result) => "blocked" in result),
      direct.map((m) => m.senderId === a && m.conv === directConv(a, peers[3])),
    );
    assert.equal(await store.lastSeq(directConv(a, peers[3])), lastBefore + 1, "only the peer's own message");
    // The rest of the batch is stored as answered, each frame built for its seq.
    for (const [i, result] of results.entries()) {
      if ("blocked" in result) continue;
      assert.equal(result.frame, direct[i].frame(result.seq));
      const [row] = await store.messagesAfter(result.conv, result.seq - 1, 1);
      const { dup: _, ...fields } = result;
      assert.deepEqual(row, fields);
    }
  } finally {
    await connections.close();
  }
});

test("MysqlStore.appendMessages() of a resend after a block answers the message stored before it", async () => {
  await using store = await open();
  const [a, b] = await users(store, "a", "b");
  const conv = directConv(a, b);
  const [first] = await append(store, [message(conv, a, { cmid: "before" })]);
  await store.setBlock(b, a, true);
  // The first attempt inserts nothing, so no duplicate key tells it: the refused message's cmid is looked up.
  const [repeat, blocked] = await store.appendMessages([
    message(conv, a, { cmid: "before" }),
    message(conv, a, { cmid: "after" }),
  ]);
  assert.deepEqual(repeat, { ...first, dup: true });
  assert.deepEqual(blocked, { blocked: true, conv });
  assert.equal(await store.lastSeq(conv), 1);
  await store.setBlock(b, a, false);
  const [later] = await append(store, [message(conv, a, { cmid: "after" })]);
  assert.deepEqual([later.seq, later.dup], [2, false], "a refused message claimed no cmid");
});

test("MysqlStore.appendMessages() on an unreachable database rejects with StoreUnavailableError", async () => {
  await using store = MysqlStore.open(`mysql://chat@127.0.0.1:${freePort()}/chat`, {
    pool: { acquireTimeout: 300 },
  });
  await assert.rejects(append(store, [message("u:1:2", 1)]), StoreUnavailableError);
});

test("MysqlStore serves many concurrent calls through a small pool", async () => {
  await using store = await open({ pool: { max: 3 } });
  const ids = await Promise.all(Array.from({ length: 60 }, (_, i) => store.createUser(`user ${i}`, "h")));
  assert.equal(new Set(ids).size, 60);
  assert.deepEqual(await store.existingUsers(ids), new Set(ids));
  const stats = store.poolStats();
  assert.ok(stats.size <= 3, `size ${stats.size}`);
  assert.equal(stats.inUse, 0);
  assert.equal(stats.waiting, 0);
});

test("MysqlStore handles lists longer than one statement's batch", async () => {
  const { store, url } = await openAt();
  await using _store = store;
  const a = await store.createUser("a", "h");
  const others = await Promise.all(Array.from({ length: 130 }, (_, i) => store.createUser(`u${i}`, "h")));
  // 700 messages in one batch: many multi-row INSERTs in one transaction, in order.
  const conv = directConv(a, others[0]);
  const stored = await append(
    store,
    Array.from({ length: 700 }, (_, i) => message(conv, others[0], { frame: (seq) => `m${i} s${seq}` })),
  );
  assert.deepEqual(stored.map((m) => m.seq), Array.from({ length: 700 }, (_, i) => i + 1));
  assert.deepEqual(
    (await store.messagesAfter(conv, 0, 1_000)).map((m) => m.frame),
    Array.from({ length: 700 }, (_, i) => `m${i} s${i + 1}`),
  );
  // One message in each of 130 conversations: messagesPast and saveCursors span several statements.
  const convs = others.map((other) => directConv(a, other));
  await append(store, others.map((other, i) => message(convs[i], other)));
  const cursors = new Map(convs.map((c) => [c, 0]));
  cursors.set(conv, 700);
  const past = await store.messagesPast(a, cursors, 1_000);
  assert.deepEqual(past.map((m) => [m.conv, m.seq]), convs.map((c, i) => [c, i === 0 ? 701 : 1]));
  assert.deepEqual((await store.messagesPast(a, cursors, 5)).map((m) => m.conv), convs.slice(0, 5));
  await store.registerDevice(a, "phone");
  await store.saveCursors(convs.map((c) => ({ userId: a, device: "phone", conv: c, seq: 1 })));
  const saved = await store.deviceCursors(a, "phone");
  assert.deepEqual(convs.map((c) => saved.get(c)?.cursor), convs.map(() => 1));
  assert.equal((await store.listConversations(a)).length, 130);
  // Legacy offline rows and user lists past one batch.
  await inspect(url, (db) =>
    db.query(
      "INSERT INTO offlinemessage (userid, message) VALUES ?",
      [Array.from({ length: 700 }, (_, i) => [a, `o${i}`])],
    ));
  const offline = await store.readOffline(a, 1_000);
  assert.deepEqual(offline.map((m) => m.frame), Array.from({ length: 700 }, (_, i) => `o${i}`));
  await store.deleteOffline(a, offline.slice(0, 555).map((m) => m.id));
  assert.deepEqual(
    (await store.readOffline(a, 1_000)).map((m) => m.frame),
    offline.slice(555).map((m) => m.frame),
  );
  const missing = Array.from({ length: 600 }, (_, i) => a + 1_000 + i);
  assert.deepEqual(await store.existingUsers([...missing, a, a]), new Set([a]));
});

test("MysqlStore rejects bad ids, names and limits with RangeError before touching the database", async () => {
  await using store = await open();
  await assert.rejects(store.findUser(1.5), RangeError);
  await assert.rejects(store.readOffline(1, -1), RangeError);
  await assert.rejects(append(store, [message("u:2:1", 1)]), RangeError);
  await assert.rejects(append(store, [message("u:1:2", Number.NaN)]), RangeError);
  await assert.rejects(store.messagesAfter("g:1", -1, 10), RangeError);
  await assert.rejects(store.saveCursors([{ userId: 1, device: "", conv: "g:1", seq: 1 }]), RangeError);
  await assert.rejects(store.messagesPast(1, new Map([["nope", 0]]), 10), RangeError);
  // Values of the wrong type, which only a caller bypassing the types can pass.
  await assert.rejects(store.requestFriend(1, 2, 5 as unknown as string), TypeError);
  await assert.rejects(store.answerFriendRequest(1, 2, "yes" as unknown as boolean), TypeError);
  await assert.rejects(store.setBlock(1, 2, 1 as unknown as boolean), TypeError);
  assert.deepEqual(store.poolStats().inUse, 0);
  assert.deepEqual(await store.messagesAfter("u:1:2", 0, 10), []);
});

test("MysqlStore reports an unreachable database as StoreUnavailableError without the password", async () => {
  const url = `mysql://chat:s3cret-pw@127.0.0.1:${freePort()}/chat`;
  await using store = MysqlStore.open(url, { pool: { acquireTimeout: 300 } });
  const error = await store.ping().then(() => undefined, (error: unknown) => error);
  assert.ok(error instanceof StoreUnavailableError, String(error));
  assert.match(error.message, /ECONNREFUSED/);
  assert.match(error.message, /mysql:\/\/chat:\*\*\*@127\.0\.0\.1/);
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    assert.ok(!e.message.includes("s3cret"), `password in ${e.name}: ${e.message}`);
    assert.ok(!(e.stack ?? "").includes("s3cret"), `password in the stack of ${e.name}`);
  }
  assert.throws(
    () => MysqlStore.open("http://chat:s3cret-pw@host/db"),
    (e: Error) => !e.message.includes("s3cret"),
  );
});

test("redactUrl() masks the password and drops the query string", () => {
  assert.equal(redactUrl("mysql://chat:p%40ss@db:3306/chat?ssl=x"), "mysql://chat:***@db:3306/chat");
  assert.equal(redactUrl("mysql://root@127.0.0.1:1/chat"), "mysql://root@127.0.0.1:1/chat");
  assert.equal(redactUrl("s3cret"), "(invalid URL)");
});

test("mysqlFactory().create() gives up a handshake in progress when its signal aborts", async () => {
  // A server that accepts TCP and never says hello: the handshake hangs until the abort.
  const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted: Deno.Conn[] = [];
  const firstAccepted = Promise.withResolvers<Deno.Conn>();
  const accepting = (async () => {
    for await (const conn of silent) {
      accepted.push(conn);
      firstAccepted.resolve(conn);
    }
  })();
  try {
    const factory = mysqlFactory(`mysql://root@127.0.0.1:${(silent.addr as Deno.NetAddr).port}/chat`);
    await assert.rejects(factory.create(AbortSignal.abort(new Error("early"))), /early/);
    const controller = new AbortController();
    const creating = factory.create(controller.signal);
    const server = await firstAccepted.promise;
    controller.abort(new Error("gave up"));
    await assert.rejects(creating, /gave up/);
    // The client side was torn down: the server sees end of stream.
    assert.equal(await server.read(new Uint8Array(16)), null);
  } finally {
    silent.close();
    await accepting;
    for (const conn of accepted) conn.close();
  }
});

test("mysqlFactory() reports a connection the server killed through onError, as fatal", async () => {
  const url = await mariadb().createDatabase("factory_kill");
  const factory = mysqlFactory(url);
  const connection = await factory.create(new AbortController().signal);
  const failed = Promise.withResolvers<unknown>();
  const detach = factory.onError(connection, failed.resolve);
  try {
    const [[{ id }]] = await connection.query<mysql.RowDataPacket[]>("SELECT CONNECTION_ID() AS id");
    await inspect(url, (db) => db.query("KILL CONNECTION ?", [id]));
    const error = await failed.promise;
    assert.ok(factory.isFatal(error), String(error));
    assert.equal(
      isFatalMysqlError(Object.assign(new Error("dup"), { errno: 1062, code: "ER_DUP_ENTRY" })),
      false,
    );
  } finally {
    detach();
    await factory.destroy(connection);
  }
});

Deno.test({
  name: "MysqlStore fails fast while MariaDB is down and recovers by itself when it is back",
  async fn() {
    const db = mariadb();
    const acquireTimeout = 1_000;
    await using store = await open({ pool: { acquireTimeout, max: 4 } });
    const alice = await store.createUser("alice", "h");
    const conv = directConv(alice, alice + 1);
    await append(store, [message(conv, alice)]);
    await Promise.all([store.ping(), store.ping(), store.ping()]); // several idle connections
    try {
      await db.stop();
      const calls = [
        () => store.findUser(alice),
        () => store.createUser("bob", "h"),
        () => append(store, [message(conv, alice)]),
      ];
      for (const call of calls) {
        const started = performance.now();
        await assert.rejects(call(), StoreUnavailableError);
        const elapsed = performance.now() - started;
        assert.ok(elapsed < acquireTimeout + 1_000, `took ${Math.round(elapsed)} ms`);
      }
    } finally {
      await db.restart();
    }
    assert.deepEqual(await store.findUser(alice), { id: alice, name: "alice", passwordHash: "h" });
    const bob = await store.createUser("bob", "h");
    assert.deepEqual(await store.existingUsers([alice, bob]), new Set([alice, bob]));
    // Nothing of the refused batch was stored: the next message continues at seq 2.
    assert.equal(await store.lastSeq(conv), 1);
    assert.equal((await append(store, [message(conv, alice)]))[0].seq, 2);
    assert.equal(store.poolStats().inUse, 0);
  },
});

/** A TCP proxy to `port` that can stop passing bytes, as a server that hangs without closing does. */
class FreezableProxy {
  readonly #listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  readonly #conns = new Set<Deno.Conn>();
  readonly #pumps: Promise<void>[] = [];
  readonly #serving: Promise<void>;
  frozen = false;

  constructor(port: number) {
    this.#serving = (async () => {
      for await (const client of this.#listener) {
        const server = await Deno.connect({ hostname: "127.0.0.1", port });
        this.#conns.add(client).add(server);
        this.#pumps.push(this.#pump(client, server), this.#pump(server, client));
      }
    })();
  }

  get port(): number {
    return (this.#listener.addr as Deno.NetAddr).port;
  }

  async #pump(from: Deno.Conn, to: Deno.Conn): Promise<void> {
    const buffer = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const n = await from.read(buffer);
        if (n === null || this.frozen) break; // frozen: swallow this and everything after
        await to.write(buffer.subarray(0, n));
      }
      while (this.frozen && (await from.read(buffer)) !== null);
    } catch {
      // Closed by close().
    }
  }

  async close(): Promise<void> {
    this.#listener.close();
    await this.#serving;
    for (const conn of this.#conns) {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    }
    await Promise.all(this.#pumps);
  }
}

test("MysqlStore gives up on a server that stops answering after queryTimeout, and closes promptly", async () => {
  const url = new URL(await mariadb().createDatabase("hung_server"));
  const proxy = new FreezableProxy(Number(url.port));
  try {
    url.port = String(proxy.port);
    const store = MysqlStore.open(url.href, { queryTimeout: 500, pool: { acquireTimeout: 500 } });
    try {
      await store.migrate();
      const alice = await store.createUser("alice", "h");
      proxy.frozen = true;
      const started = performance.now();
      await assert.rejects(store.findUser(alice), (error: unknown) => {
        assert.ok(error instanceof StoreUnavailableError, String(error));
        assert.match(error.message, /no answer from the server within 500 ms/);
        return true;
      });
      const elapsed = performance.now() - started;
      assert.ok(elapsed >= 450 && elapsed < 1_500, `took ${Math.round(elapsed)} ms`);
      assert.equal(store.poolStats().size, 0, "the timed-out connection was discarded");
    } finally {
      const started = performance.now();
      await store.close();
      assert.ok(performance.now() - started < 2_000, "close() waited for a hung server");
    }
  } finally {
    await proxy.close();
  }
});
