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
import { loadMigrations, splitStatements } from "../lib/store/migrations.ts";
import { SchemaVersionError } from "../lib/store/errors.ts";
import { MysqlConnections } from "../lib/store/mysql_connections.ts";
import { migrateMysql, MigrationLockError } from "../lib/store/mysql_migrations.ts";
import { MysqlStore } from "../lib/store/mysql_store.ts";
import { mariaDbPerFile } from "./harness/mariadb_fixture.ts";

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
