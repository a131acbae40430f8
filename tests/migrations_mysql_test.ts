/**
 * MySQL's versioned migrations (lib/store/mysql_migrations.ts) against a real MariaDB: databases of the first
 * release, of release 3.0.0 and of schema version 3 upgraded in place, several nodes migrating at once, a migration that stopped halfway, and a database
 * newer than the code.
 *
 * One MariaDB for the file (tests/harness/mariadb_fixture.ts), a new database per case.
 */

import assert from "node:assert/strict";
import mysql from "mysql2/promise";
import { mysqlFactory } from "../lib/db/mysql_factory.ts";
import { Pool } from "../lib/db/pool.ts";
import { directConv, groupConv } from "../lib/conversation_name.ts";
import { verifyPassword } from "../lib/service/password.ts";
import { loadMigrations, splitStatements } from "../lib/store/migrations.ts";
import { SchemaVersionError, StoreUnavailableError } from "../lib/store/errors.ts";
import { MysqlConnections } from "../lib/store/mysql_connections.ts";
import { migrateMysql, MigrationLockError } from "../lib/store/mysql_migrations.ts";
import { MysqlStore } from "../lib/store/mysql_store.ts";
import { fillRelease3 } from "./harness/fill_release_3.ts";
import { fillSchema3 } from "./harness/fill_schema_3.ts";
import { freePort } from "./harness/free_port.ts";
import { mariaDbPerFile } from "./harness/mariadb_fixture.ts";
import {
  fillReleased,
  RELEASE_3_COMMIT,
  RELEASED_COMMIT,
  type ReleasedData,
  ReleasedServer,
  SCHEMA_3_COMMIT,
} from "./harness/released_server.ts";
import { makeTempDir, removeTempDir } from "./harness/temp_dir.ts";
import { append, chat } from "./store_suite_fixture.ts";

const mariadb = mariaDbPerFile();
/** Every version recorded once migrated. */
const ALL_VERSIONS = [1, 2, 3, 4];
let databases = 0;

/** A test that must close every connection, socket and timer it opens (the server is the file's, not its). */
function test(name: string, fn: () => void | Promise<void>): void {
  Deno.test({ name, sanitizeOps: true, sanitizeResources: true, fn });
}

/** A new, empty database. */
function newDatabase(): Promise<string> {
  return mariadb().createDatabase(`migrations_test_${++databases}`);
}

/** Pooled connections to `url` as a MysqlStore holds them (one node's). */
function connectionsTo(url: string): MysqlConnections & AsyncDisposable {
  const factory = mysqlFactory(url);
  const connections = new MysqlConnections(factory, new Pool(factory, { acquireTimeout: 5_000 }), {
    queryTimeout: 10_000,
  });
  return Object.assign(connections, { [Symbol.asyncDispose]: () => connections.close() });
}

/** Runs `fn` on a connection of its own, past the store. */
async function inspect<T>(url: string, fn: (db: mysql.Connection) => Promise<T>): Promise<T> {
  const db = await mysql.createConnection(url);
  try {
    return await fn(db);
  } finally {
    await db.end();
  }
}

/** The versions recorded in `schema_version`, ascending. */
function recordedVersions(url: string): Promise<number[]> {
  return inspect(url, async (db) => {
    const [rows] = await db.query<mysql.RowDataPacket[]>(
      "SELECT version FROM schema_version ORDER BY version",
    );
    return rows.map((row) => Number(row.version));
  });
}

/** The database's table names, sorted. */
function tableNames(url: string): Promise<string[]> {
  return inspect(url, async (db) => {
    const [rows] = await db.query<mysql.RowDataPacket[]>(
      "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE()",
    );
    return rows.map((row) => String(row.name)).sort();
  });
}

/** Runs `fill` on a release's server over a new database `name`, once per file: each case copies the result. */
function filledOnce<T>(
  name: string,
  commit: string,
  fill: (server: ReleasedServer) => Promise<T>,
): () => Promise<T> {
  let filled: Promise<T> | undefined;
  return () =>
    filled ??= (async () => {
      const url = await mariadb().createDatabase(name);
      const dir = await makeTempDir("chat-migrate-mysql-");
      try {
        await using server = await ReleasedServer.start(["--mysql", url], `${dir}/released.log`, { commit });
        const data = await fill(server);
        await server.stop();
        return data;
      } finally {
        await removeTempDir(dir);
      }
    })();
}

/** The first release's database (no schema_version: version 1), filled as tests/harness/released_server.ts does. */
const releasedDatabase = filledOnce("released", RELEASED_COMMIT, (server) => fillReleased(server.port));
/** Release 3.0.0's database (schema version 2), filled as tests/harness/fill_release_3.ts does. */
const release3Database = filledOnce("release3", RELEASE_3_COMMIT, fillRelease3);
/** A database of schema version 3 (main before version 4), filled as tests/harness/fill_schema_3.ts does. */
const schema3Database = filledOnce("schema3", SCHEMA_3_COMMIT, fillSchema3);

/** A new database holding a copy of every table and row of the database `source`, for one case. */
async function copyOf(source: string): Promise<string> {
  const url = await newDatabase();
  await inspect(url, async (db) => {
    const [tables] = await db.query<mysql.RowDataPacket[]>(
      "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = ?",
      [source],
    );
    for (const { name: table } of tables) {
      await db.query(`CREATE TABLE \`${table}\` LIKE \`${source}\`.\`${table}\``);
      await db.query(`INSERT INTO \`${table}\` SELECT * FROM \`${source}\`.\`${table}\``);
    }
  });
  return url;
}

/** A copy of the first release's database, for one case. */
async function copyOfReleased(): Promise<{ url: string; data: ReleasedData }> {
  const data = await releasedDatabase();
  return { url: await copyOf("released"), data };
}

test("MysqlStore.migrate() of a released database keeps users, passwords, friends, groups and offline rows", async () => {
  const { url, data } = await copyOfReleased();
  assert.ok(
    !(await tableNames(url)).includes("schema_version"),
    "the released database has no schema_version",
  );
  await using store = MysqlStore.open(url);
  await store.migrate();
  assert.deepEqual(await recordedVersions(url), ALL_VERSIONS);
  const { alice, bob, carol, dave } = data;
  for (const user of [alice, bob, carol, dave]) {
    const found = await store.findUser(user.id);
    assert.equal(found?.name, user.name);
    assert.ok(
      await verifyPassword(user.password, found!.passwordHash),
      `${user.name}'s password still works`,
    );
    const friends = data.friends.filter(([owner]) => owner === user.id).map(([, friend]) => friend);
    assert.deepEqual((await store.listFriends(user.id)).map((f) => f.id), friends.toSorted((x, y) => x - y));
  }
  const [group] = data.groups;
  assert.deepEqual(await store.listGroupMemberIds(group.id), group.members);
  const [listed] = await store.listUserGroups(carol.id);
  assert.deepEqual(
    [listed.id, listed.name, listed.desc, listed.members.find((m) => m.role === "creator")?.id],
    [group.id, group.name, group.desc, group.creator],
  );
  for (const [userId, texts] of data.offline) {
    const rows = await store.readOffline(userId, 100);
    assert.deepEqual(rows.map((row) => JSON.parse(row.frame).msg), texts, `offline messages of ${userId}`);
  }
  assert.deepEqual(await store.readOffline(alice.id, 100), []);

  // A second start finds the current version and changes nothing.
  await store.migrate();
  assert.deepEqual(await recordedVersions(url), ALL_VERSIONS);
  assert.equal((await store.readOffline(carol.id, 100)).length, data.offline.get(carol.id)!.length);
});

test("MysqlStore on a migrated released database: the offline rows go once, groups get conversations from seq 1", async () => {
  const { url, data } = await copyOfReleased();
  await using store = MysqlStore.open(url);
  await store.migrate();
  const { alice, carol } = data;
  // Delivered at the next login, then deleted: they are gone for the login after.
  const waiting = await store.readOffline(carol.id, 100);
  await store.deleteOffline(carol.id, waiting.map((row) => row.id));
  assert.deepEqual(await store.readOffline(carol.id, 100), []);

  const [group] = data.groups;
  const conv = groupConv(group.id);
  await store.appendMessages([chat(conv, alice.id, "first after the upgrade")]);
  assert.deepEqual(await store.listConversations(carol.id), [{ conv, lastseq: 1, readseq: 0, unread: 1 }]);
  assert.deepEqual(await store.groupAccess(group.id, carol.id), { member: true });
  assert.equal(await store.registerDevice(carol.id, "default"), true);
  assert.deepEqual(Object.fromEntries(await store.deviceCursors(carol.id, "default")), {
    [conv]: { cursor: 0, lastSeq: 1 },
  });
});

test("migrateMysql() of a released database from two nodes at once records version 1 and applies 2 to 4 once", async () => {
  const { url } = await copyOfReleased();
  await using first = connectionsTo(url);
  await using second = connectionsTo(url);
  const results = await Promise.all([migrateMysql(first), migrateMysql(second)]);
  assert.deepEqual(
    results.map((result) => result.applied).sort((a, b) => a.length - b.length),
    [[], [2, 3, 4]],
    JSON.stringify(results),
  );
  assert.ok(results.some((result) => result.from === 1), "the released database counted as version 1");
  assert.deepEqual(await recordedVersions(url), ALL_VERSIONS);
});

test("MysqlStore.migrate() refuses a released database that a newer release migrated, and changes nothing", async () => {
  const { url, data } = await copyOfReleased();
  const newest = (await loadMigrations("mysql")).length;
  await using store = MysqlStore.open(url);
  await store.migrate();
  await inspect(
    url,
    (db) => db.query("INSERT INTO schema_version (version, name) VALUES (?, 'future')", [newest + 1]),
  );
  const before = await tableNames(url);
  await assert.rejects(store.migrate(), SchemaVersionError);
  assert.deepEqual(await tableNames(url), before);
  assert.equal((await store.findUser(data.alice.id))?.name, data.alice.name, "the data is untouched");
});

/** `(groupid, userid)` of every membership in join order, and in key order: equal after a migration. */
async function joinOrder(url: string): Promise<{ joined: number[][]; keyed: number[][] }> {
  return await inspect(url, async (db) => {
    const read = async (order: string) => {
      const [rows] = await db.query<mysql.RowDataPacket[]>(
        `SELECT groupid, userid FROM groupuser ORDER BY ${order}`,
      );
      return rows.map((row) => [Number(row.groupid), Number(row.userid)]);
    };
    return { joined: await read("joinorder"), keyed: await read("groupid, userid") };
  });
}

/** The group's members as `[id, role]` pairs, ordered by id. */
async function memberRoles(store: MysqlStore, groupId: number): Promise<[number, string][]> {
  return (await store.findGroup(groupId))!.members.map((member) => [member.id, member.role]);
}

test("MysqlStore.migrate() of a released database keeps creators and one-way friends, and joins in key order", async () => {
  const { url, data } = await copyOfReleased();
  const { alice, bob, carol, dave } = data;
  const [group] = data.groups;
  // A second group whose rows were stored out of key order: the join order follows (groupid, userid).
  const second = await inspect(url, async (db) => {
    const [created] = await db.query<mysql.ResultSetHeader>(
      "INSERT INTO allgroup (groupname, groupdesc) VALUES ('second', '')",
    );
    const id = created.insertId;
    await db.query(
      "INSERT INTO groupuser (groupid, userid, grouprole) VALUES (?, ?, 'normal'), (?, ?, 'creator'), (?, ?, 'normal')",
      [id, dave.id, id, carol.id, id, alice.id],
    );
    return id;
  });
  await using store = MysqlStore.open(url);
  await store.migrate();
  assert.deepEqual(await recordedVersions(url), ALL_VERSIONS);
  const order = await joinOrder(url);
  assert.equal(order.joined.length, 6);
  assert.deepEqual(order.joined, order.keyed);
  const role = (id: number) => id === group.creator ? "creator" : "normal";
  assert.deepEqual(await memberRoles(store, group.id), group.members.map((id) => [id, role(id)]));
  assert.deepEqual(
    await memberRoles(store, second),
    [alice.id, carol.id, dave.id].toSorted((x, y) => x - y).map((
      id,
    ) => [id, id === carol.id ? "creator" : "normal"]),
  );

  // One-way friends stay one way: alice has carol, carol does not have alice, so carol may ask.
  for (const user of [alice, bob, carol, dave]) {
    const friends = data.friends.filter(([owner]) => owner === user.id).map(([, friend]) => friend);
    assert.deepEqual((await store.listFriends(user.id)).map((f) => f.id), friends.toSorted((x, y) => x - y));
  }
  assert.equal(await store.requestFriend(alice.id, bob.id, ""), "friends");
  assert.equal(await store.requestFriend(carol.id, alice.id, "back?"), "sent");
  assert.deepEqual(await store.listFriendRequests(alice.id), [{
    id: carol.id,
    name: carol.name,
    note: "back?",
  }]);
  assert.equal(await store.answerFriendRequest(alice.id, carol.id, true), true);
  assert.deepEqual((await store.listFriends(carol.id)).map((f) => f.id), [alice.id]);

  // The creator's heir is the earliest migrated member; someone joining now comes after every one of them.
  const newcomer = await store.createUser("newcomer", "h");
  assert.equal(await store.addGroupMember(group.id, newcomer), "normal");
  const [firstHeir, secondHeir] = group.members.filter((id) => id !== group.creator);
  assert.deepEqual(await store.leaveGroup(group.id, group.creator), { ok: true, heir: firstHeir });
  assert.deepEqual(await store.leaveGroup(group.id, firstHeir), { ok: true, heir: secondHeir });
  assert.deepEqual(await store.leaveGroup(group.id, secondHeir), { ok: true, heir: newcomer });
});

test("MysqlStore.migrate() of a release 3.0.0 database (version 2) keeps conversations and creators, adds blocks", async () => {
  const data = await release3Database();
  const url = await copyOf("release3");
  const { ann, ben, cat, eve, alpha, beta } = data;
  assert.deepEqual(await recordedVersions(url), [1, 2]);
  await using store = MysqlStore.open(url);
  await store.migrate();
  assert.deepEqual(await recordedVersions(url), ALL_VERSIONS);
  for (const group of [alpha, beta]) {
    assert.deepEqual(
      await memberRoles(store, group.id),
      group.members.map((id) => [id, id === group.creator ? "creator" : "normal"]),
      group.name,
    );
  }
  for (const user of [ann, ben, cat]) {
    const friends = data.friends.filter(([owner]) => owner === user.id).map(([, friend]) => friend);
    assert.deepEqual((await store.listFriends(user.id)).map((f) => f.id), friends.toSorted((x, y) => x - y));
  }
  // Schema 2 kept no join order: members count as joined in (groupid, userid) order, so the creator's heir is
  // the lowest id (ann), although eve joined before her.
  const order = await joinOrder(url);
  assert.deepEqual(order.joined, order.keyed);
  assert.deepEqual(await store.leaveGroup(alpha.id, cat.id), {
    ok: true,
    heir: Math.min(ann.id, eve.id, ben.id),
  });
  // The member who joined after alpha's first message still starts there.
  const unread = async (user: number) =>
    (await store.listConversations(user)).find((c) => c.conv === groupConv(alpha.id))?.unread;
  assert.deepEqual([await unread(data.lateJoiner), await unread(eve.id)], [0, 1]);

  // Release 3.0.0 kept every message in its conversation: still there, numbered on, until a block.
  const direct = directConv(ann.id, ben.id);
  const texts = async () => (await store.messagesAfter(direct, 0, 100)).map((m) => JSON.parse(m.frame).msg);
  assert.deepEqual(await texts(), data.annToBen);
  const [next] = await append(store, [chat(direct, ann.id, "after the upgrade")]);
  assert.equal(next.seq, data.annToBen.length + 1);
  await store.setBlock(ben.id, ann.id, true);
  assert.deepEqual(await store.appendMessages([chat(direct, ann.id, "blocked")]), [{
    blocked: true,
    conv: direct,
  }]);
  assert.deepEqual(
    [await store.listFriends(ann.id), await store.listFriends(ben.id)].map((l) => l.map((f) => f.id)),
    [
      [cat.id],
      [],
    ],
  );

  await store.migrate();
  assert.deepEqual(await recordedVersions(url), ALL_VERSIONS);
});

test("migrateMysql() runs version 3 again after a crash before it was recorded: no member is numbered again", async () => {
  const url = await newDatabase();
  const [initial, conversations, social] = await loadMigrations("mysql");
  await inspect(url, async (db) => {
    for (const statement of [initial, conversations].flatMap((m) => splitStatements(m.sql))) {
      await db.query(statement);
    }
    await db.query(
      "CREATE TABLE schema_version (version INT NOT NULL PRIMARY KEY, name VARCHAR(100) NOT NULL, " +
        "applied_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3))",
    );
    await db.query("INSERT INTO schema_version (version, name) VALUES (1, 'initial'), (2, 'conversations')");
  });
  await using store = MysqlStore.open(url);
  const [a, b, c] = [
    await store.createUser("a", "h"),
    await store.createUser("b", "h"),
    await store.createUser("c", "h"),
  ];
  const group = await store.createGroup(b, "g", "");
  // A node that died after running every statement of version 3 (its ALTER included) but before recording it,
  // and a member who joined in between.
  await inspect(url, async (db) => {
    await db.query("INSERT INTO groupuser (groupid, userid) VALUES (?, ?)", [group, a]);
    for (const statement of splitStatements(social.sql)) await db.query(statement);
    await db.query("INSERT INTO groupuser (groupid, userid) VALUES (?, ?)", [group, c]);
  });
  const before = await joinOrder(url);
  assert.deepEqual(before.joined, [[group, a], [group, b], [group, c]]);
  await store.migrate();
  assert.deepEqual(await recordedVersions(url), ALL_VERSIONS);
  assert.deepEqual((await joinOrder(url)).joined, before.joined, "joined in the same order");
  assert.deepEqual(await store.leaveGroup(group, b), { ok: true, heir: a });
  assert.equal(await store.requestFriend(a, c, "hi"), "sent");
});

test("MysqlStore.migrate() of a schema 3 database applies version 4 once; every user's conversations read as before", async () => {
  const data = await schema3Database();
  const url = await copyOf("schema3");
  assert.deepEqual(await recordedVersions(url), [1, 2, 3]);
  await using store = MysqlStore.open(url);
  await store.migrate();
  await store.migrate();
  assert.deepEqual(await recordedVersions(url), ALL_VERSIONS);
  const { ann, ben, cat } = data;
  for (const user of [ann, ben, cat]) {
    assert.deepEqual(await store.listConversations(user.id), data.lists.get(user.id), user.name);
  }
  // From here on sending moves the sender's read seq on the conversation's row, above the old rows.
  const ab = directConv(ann.id, ben.id);
  const [sent] = await append(store, [chat(ab, ann.id, "after the upgrade")]);
  assert.equal(sent.seq, 6);
  assert.equal(await store.markRead(ann.id, ab, 5), 6, "ann's READ below what she sent changes nothing");
  const ofBen = (await store.listConversations(ben.id)).find((summary) => summary.conv === ab);
  assert.deepEqual(ofBen, { conv: ab, lastseq: 6, readseq: 5, peerread: 6, unread: 1 });
  assert.equal(await store.markRead(ben.id, ab, 4), 5, "ben's old read seq (he sent 5) still holds");
});

test("migrateMysql() runs version 4 again after a crash before it was recorded: the columns are added once", async () => {
  const url = await newDatabase();
  const migrations = await loadMigrations("mysql");
  const sentSeqs = migrations[3];
  await inspect(url, async (db) => {
    for (const statement of migrations.slice(0, 3).flatMap((m) => splitStatements(m.sql))) {
      await db.query(statement);
    }
    await db.query(
      "CREATE TABLE schema_version (version INT NOT NULL PRIMARY KEY, name VARCHAR(100) NOT NULL, " +
        "applied_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3))",
    );
    await db.query(
      "INSERT INTO schema_version (version, name) VALUES (1, 'initial'), (2, 'conversations'), " +
        "(3, 'social')",
    );
  });
  await using store = MysqlStore.open(url);
  const [a, b] = [await store.createUser("a", "h"), await store.createUser("b", "h")];
  const conv = directConv(a, b);
  // What version 3's code stored for a's message 1 and b's message 2 (each moved the sender's read_seqs row),
  // then a node that died after running version 4's ALTER but before recording it.
  await inspect(url, async (db) => {
    await db.query("INSERT INTO conversations (conv, lastseq, usera, userb) VALUES (?, 2, ?, ?)", [
      conv,
      a,
      b,
    ]);
    await db.query("INSERT INTO messages (conv, seq, sender, mid, ts, frame) VALUES ?", [[
      [conv, 1, a, "m1", 1, "1"],
      [conv, 2, b, "m2", 2, "2"],
    ]]);
    await db.query("INSERT INTO read_seqs (userid, conv, readseq) VALUES ?", [[[a, conv, 1], [b, conv, 2]]]);
    for (const statement of splitStatements(sentSeqs.sql)) await db.query(statement);
  });
  await append(store, [chat(conv, b, "3")]);
  await store.migrate();
  assert.deepEqual(await recordedVersions(url), ALL_VERSIONS);
  const columns = await inspect(url, async (db) => {
    const [rows] = await db.query<mysql.RowDataPacket[]>(
      "SELECT column_name AS name FROM information_schema.columns " +
        "WHERE table_schema = DATABASE() AND table_name = 'conversations' ORDER BY ordinal_position",
    );
    return rows.map((row) => String(row.name));
  });
  assert.deepEqual(columns, ["conv", "lastseq", "usera", "userb", "groupid", "lowsentseq", "highsentseq"]);
  const [ofA] = await store.listConversations(a);
  assert.deepEqual(ofA, { conv, lastseq: 3, readseq: 1, peerread: 3, unread: 2 });
  await append(store, [chat(conv, a, "4")]);
  assert.equal(await store.markRead(a, conv, 2), 4);
});

test("migrateMysql() creates an empty database at the newest version, and a second run applies nothing", async () => {
  const url = await newDatabase();
  const newest = (await loadMigrations("mysql")).length;
  await using connections = connectionsTo(url);
  assert.deepEqual(await migrateMysql(connections), {
    from: 0,
    to: newest,
    applied: Array.from({ length: newest }, (_, i) => i + 1),
  });
  assert.deepEqual(await migrateMysql(connections), { from: newest, to: newest, applied: [] });
  assert.deepEqual(await recordedVersions(url), Array.from({ length: newest }, (_, i) => i + 1));
});

test("migrateMysql() from two nodes at once migrates once: the second waits for the lock, then finds it done", async () => {
  const url = await newDatabase();
  const newest = (await loadMigrations("mysql")).length;
  await using first = connectionsTo(url);
  await using second = connectionsTo(url);
  const results = await Promise.all([migrateMysql(first), migrateMysql(second)]);
  const applied = results.map((result) => result.applied.length).sort();
  assert.deepEqual(applied, [0, newest], JSON.stringify(results));
  assert.deepEqual(await recordedVersions(url), Array.from({ length: newest }, (_, i) => i + 1));
});

test("migrateMysql() gives up with MigrationLockError while another node holds the lock too long", async () => {
  const url = await newDatabase();
  await using connections = connectionsTo(url);
  await inspect(url, async (db) => {
    const [[held]] = await db.query<mysql.RowDataPacket[]>(
      "SELECT GET_LOCK(LEFT(CONCAT('chat-migrate:', DATABASE()), 64), 0) AS got",
    );
    assert.equal(Number(held.got), 1);
    await assert.rejects(migrateMysql(connections, { lockWaitSeconds: 1 }), MigrationLockError);
  });
  assert.deepEqual(await tableNames(url), [], "nothing was created without the lock");
  assert.equal((await migrateMysql(connections)).to, (await loadMigrations("mysql")).length);
});

test("migrateMysql() completes a migration that stopped halfway (DDL commits at once) and records it", async () => {
  const url = await newDatabase();
  const [initial, conversations] = await loadMigrations("mysql");
  // A node that died after version 1 and the first statements of version 2: tables exist, the version not.
  await inspect(url, async (db) => {
    for (const statement of splitStatements(initial.sql)) await db.query(statement);
    await db.query(
      "CREATE TABLE schema_version (version INT NOT NULL PRIMARY KEY, name VARCHAR(100) NOT NULL, " +
        "applied_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3))",
    );
    await db.query("INSERT INTO schema_version (version, name) VALUES (1, 'initial')");
    for (const statement of splitStatements(conversations.sql).slice(0, 3)) await db.query(statement);
  });
  await using store = MysqlStore.open(url);
  await store.migrate();
  assert.deepEqual(await recordedVersions(url), ALL_VERSIONS);
  const a = await store.createUser("a", "h");
  const b = await store.createUser("b", "h");
  const [stored] = await append(store, [
    { conv: `u:${a}:${b}`, senderId: a, mid: "m", ts: 1, frame: (seq) => `seq ${seq}` },
  ]);
  assert.equal(stored.seq, 1);
  await store.registerDevice(b, "phone");
  assert.equal((await store.deviceCursors(b, "phone")).get(`u:${a}:${b}`)?.lastSeq, 1);
});

test("MysqlStore.migrate() refuses a database newer than the code with SchemaVersionError and changes nothing", async () => {
  const url = await newDatabase();
  const newest = (await loadMigrations("mysql")).length;
  await using store = MysqlStore.open(url);
  await store.migrate();
  await inspect(
    url,
    (db) => db.query("INSERT INTO schema_version (version, name) VALUES (?, 'future')", [newest + 1]),
  );
  const before = await tableNames(url);
  await assert.rejects(store.migrate(), (error: unknown) => {
    assert.ok(error instanceof SchemaVersionError, String(error));
    assert.equal(error.databaseVersion, newest + 1);
    assert.equal(error.codeVersion, newest);
    assert.match(error.message, new RegExp(`version ${newest + 1}.*version ${newest}`));
    return true;
  });
  assert.deepEqual(await tableNames(url), before);
});

test("MysqlStore.migrate() of an unreachable database rejects with StoreUnavailableError", async () => {
  await using store = MysqlStore.open(`mysql://chat@127.0.0.1:${freePort()}/chat`, {
    pool: { acquireTimeout: 300 },
  });
  await assert.rejects(store.migrate(), StoreUnavailableError);
});
