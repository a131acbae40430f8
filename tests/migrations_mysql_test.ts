/**
 * MySQL's versioned migrations (lib/store/mysql_migrations.ts) against a real MariaDB: a database of the first
 * release upgraded in place, several nodes migrating at once, a migration that stopped halfway, and a database
 * newer than the code.
 *
 * One MariaDB for the file (tests/harness/mariadb_fixture.ts), a new database per case.
 */

import assert from "node:assert/strict";
import mysql from "mysql2/promise";
import { mysqlFactory } from "../lib/db/mysql_factory.ts";
import { Pool } from "../lib/db/pool.ts";
import { groupConv } from "../lib/conversation_name.ts";
import { verifyPassword } from "../lib/service/password.ts";
import { loadMigrations, RELEASED_TABLES, splitStatements } from "../lib/store/migrations.ts";
import { SchemaVersionError, StoreUnavailableError } from "../lib/store/errors.ts";
import { MysqlConnections } from "../lib/store/mysql_connections.ts";
import { migrateMysql, MigrationLockError } from "../lib/store/mysql_migrations.ts";
import { MysqlStore } from "../lib/store/mysql_store.ts";
import { freePort } from "./harness/free_port.ts";
import { mariaDbPerFile } from "./harness/mariadb_fixture.ts";
import { fillReleased, type ReleasedData, ReleasedServer } from "./harness/released_server.ts";
import { makeTempDir, removeTempDir } from "./harness/temp_dir.ts";
import { chat } from "./store_suite_fixture.ts";

const mariadb = mariaDbPerFile();
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

/**
 * One database created and filled by the first release's server (tests/harness/released_server.ts) for the
 * whole file, made on first use; each case migrates a copy of it.
 */
let released: Promise<{ name: string; data: ReleasedData }> | undefined;

function releasedDatabase(): Promise<{ name: string; data: ReleasedData }> {
  released ??= (async () => {
    const url = await mariadb().createDatabase("released");
    const dir = await makeTempDir("chat-migrate-mysql-");
    try {
      await using server = await ReleasedServer.start(["--mysql", url], `${dir}/released.log`);
      const data = await fillReleased(server.port);
      await server.stop();
      return { name: "released", data };
    } finally {
      await removeTempDir(dir);
    }
  })();
  return released;
}

/** A new database holding a copy of the released one's tables and rows, for one case. */
async function copyOfReleased(): Promise<{ url: string; data: ReleasedData }> {
  const { name, data } = await releasedDatabase();
  const url = await newDatabase();
  await inspect(url, async (db) => {
    for (const table of RELEASED_TABLES) {
      await db.query(`CREATE TABLE \`${table}\` LIKE \`${name}\`.\`${table}\``);
      await db.query(`INSERT INTO \`${table}\` SELECT * FROM \`${name}\`.\`${table}\``);
    }
  });
  return { url, data };
}

test("MysqlStore.migrate() of a released database keeps users, passwords, friends, groups and offline rows", async () => {
  const { url, data } = await copyOfReleased();
  assert.ok(
    !(await tableNames(url)).includes("schema_version"),
    "the released database has no schema_version",
  );
  await using store = MysqlStore.open(url);
  await store.migrate();
  assert.deepEqual(await recordedVersions(url), [1, 2]);
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
  assert.deepEqual(await recordedVersions(url), [1, 2]);
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

test("migrateMysql() of a released database from two nodes at once records version 1 and applies 2 once", async () => {
  const { url } = await copyOfReleased();
  await using first = connectionsTo(url);
  await using second = connectionsTo(url);
  const results = await Promise.all([migrateMysql(first), migrateMysql(second)]);
  assert.deepEqual(
    results.map((result) => result.applied).sort((a, b) => a.length - b.length),
    [[], [2]],
    JSON.stringify(results),
  );
  assert.ok(results.some((result) => result.from === 1), "the released database counted as version 1");
  assert.deepEqual(await recordedVersions(url), [1, 2]);
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
  assert.deepEqual(await recordedVersions(url), [1, 2]);
  const a = await store.createUser("a", "h");
  const b = await store.createUser("b", "h");
  const [stored] = await store.appendMessages([
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
