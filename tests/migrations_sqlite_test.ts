/**
 * Upgrading SQLite databases in place: a database that the first release's server created and filled
 * (tests/harness/released_server.ts) is migrated by today's SqliteStore and keeps everything; versions are
 * recorded once; a database from a newer release is refused; a failed migration changes nothing.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { groupConv } from "../lib/conversation_name.ts";
import { verifyPassword } from "../lib/service/password.ts";
import { SchemaVersionError } from "../lib/store/errors.ts";
import { SqliteStore } from "../lib/store/sqlite_store.ts";
import { fillReleased, type ReleasedData, ReleasedServer } from "./harness/released_server.ts";
import { makeTempDir, removeTempDir } from "./harness/temp_dir.ts";
import { chat } from "./store_suite_fixture.ts";

const SANITIZED = { sanitizeOps: true, sanitizeResources: true };

/** Reads the file past the store. */
function inspect<T>(path: string, fn: (db: DatabaseSync) => T): T {
  const db = new DatabaseSync(path);
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

function versions(path: string): unknown[] {
  return inspect(path, (db) => db.prepare("SELECT version, name FROM schema_version ORDER BY version").all())
    .map((row) => [row.version, row.name]);
}

async function migrated(path: string): Promise<SqliteStore> {
  const store = SqliteStore.open(path);
  try {
    await store.migrate();
  } catch (error) {
    await store.close();
    throw error;
  }
  return store;
}

/** One database filled by the released server, shared by the cases below; each case works on a copy. */
let released: Promise<{ dir: string; path: string; data: ReleasedData }> | undefined;

function releasedDatabase(): Promise<{ dir: string; path: string; data: ReleasedData }> {
  released ??= (async () => {
    const dir = await makeTempDir("chat-migrate-");
    const path = `${dir}/released.db`;
    await using server = await ReleasedServer.start(["--db", path], `${dir}/released.log`);
    const data = await fillReleased(server.port);
    await server.stop();
    return { dir, path, data };
  })();
  return released;
}

/** A copy of the released database (checkpointed into one file) for one case. */
async function copyOfReleased(name: string): Promise<{ path: string; data: ReleasedData }> {
  const { dir, path, data } = await releasedDatabase();
  const copy = `${dir}/${name}.db`;
  // Everything into the main file first, so that copying that one file copies the database.
  inspect(path, (db) => db.exec("PRAGMA wal_checkpoint(TRUNCATE)"));
  await Deno.copyFile(path, copy);
  return { path: copy, data };
}

Deno.test({
  name:
    "SqliteStore.migrate() of a released database keeps users, passwords, friends, groups and offline rows",
  ...SANITIZED,
  async fn() {
    const { path, data } = await copyOfReleased("keeps");
    assert.equal(
      inspect(
        path,
        (db) => db.prepare("SELECT count(*) AS n FROM sqlite_schema WHERE name = 'schema_version'").get(),
      )
        ?.n,
      0,
      "the released database has no schema_version",
    );
    await using store = await migrated(path);
    const { alice, bob, carol, dave } = data;
    for (const user of [alice, bob, carol, dave]) {
      const found = await store.findUser(user.id);
      assert.equal(found?.name, user.name);
      assert.ok(
        await verifyPassword(user.password, found!.passwordHash),
        `${user.name}'s password still works`,
      );
    }
    for (const user of [alice, bob, carol, dave]) {
      const expected = data.friends.filter(([owner]) => owner === user.id).map(([, friend]) => friend);
      assert.deepEqual(
        (await store.listFriends(user.id)).map((f) => f.id),
        expected.toSorted((x, y) => x - y),
      );
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
  },
});

Deno.test({
  name: "SqliteStore.migrate() records the released database as version 1 and applies version 2 once",
  ...SANITIZED,
  async fn() {
    const { path, data } = await copyOfReleased("versions");
    const store = await migrated(path);
    await store.migrate();
    await store.close();
    assert.deepEqual(versions(path), [[1, "initial"], [2, "conversations"]]);
    // A restart finds the current version and changes nothing.
    await using again = await migrated(path);
    assert.deepEqual(versions(path), [[1, "initial"], [2, "conversations"]]);
    assert.equal(
      (await again.readOffline(data.carol.id, 100)).length,
      data.offline.get(data.carol.id)!.length,
    );
  },
});

Deno.test({
  name: "SqliteStore on a migrated released database: its groups' members get conversations from seq 1",
  ...SANITIZED,
  async fn() {
    const { path, data } = await copyOfReleased("conversations");
    await using store = await migrated(path);
    const { alice, carol } = data;
    const conv = groupConv(data.groups[0].id);
    await store.appendMessages([chat(conv, alice.id, "first after the upgrade")]);
    assert.deepEqual(await store.listConversations(carol.id), [{ conv, lastseq: 1, readseq: 0, unread: 1 }]);
    assert.deepEqual(await store.groupAccess(data.groups[0].id, carol.id), { member: true });
    await store.registerDevice(carol.id, "default");
    assert.deepEqual(
      Object.fromEntries(await store.deviceCursors(carol.id, "default")),
      { [conv]: { cursor: 0, lastSeq: 1 } },
    );
  },
});

Deno.test({
  name: "SqliteStore.migrate() of an empty file records versions 1 and 2",
  ...SANITIZED,
  async fn() {
    const dir = await makeTempDir("chat-migrate-empty-");
    try {
      const path = `${dir}/new.db`;
      const store = await migrated(path);
      await store.close();
      assert.deepEqual(versions(path), [[1, "initial"], [2, "conversations"]]);
    } finally {
      await removeTempDir(dir);
    }
  },
});

Deno.test({
  name:
    "SqliteStore.migrate() refuses a database of a newer version with SchemaVersionError and changes nothing",
  ...SANITIZED,
  async fn() {
    const { path, data } = await copyOfReleased("newer");
    const store = await migrated(path);
    await store.close();
    inspect(
      path,
      (db) => db.exec("INSERT INTO schema_version (version, name, applied_at) VALUES (3, 'future', 0)"),
    );
    await using newer = SqliteStore.open(path);
    await assert.rejects(newer.migrate(), (error: unknown) => {
      assert.ok(error instanceof SchemaVersionError);
      assert.deepEqual([error.databaseVersion, error.codeVersion], [3, 2]);
      assert.match(error.message, /version 3.*version 2/);
      return true;
    });
    assert.deepEqual(versions(path), [[1, "initial"], [2, "conversations"], [3, "future"]]);
    assert.equal((await newer.findUser(data.alice.id))?.name, data.alice.name, "the data is untouched");
  },
});

Deno.test({
  name: "SqliteStore.migrate() that fails halfway leaves the released database as it was",
  ...SANITIZED,
  async fn() {
    const { path, data } = await copyOfReleased("fails");
    // A table in the way of version 2: its CREATE TABLE fails after the ALTER and the other tables ran.
    inspect(path, (db) => db.exec("CREATE TABLE device_tokens (x INTEGER)"));
    await using store = SqliteStore.open(path);
    await assert.rejects(store.migrate(), /device_tokens already exists/);
    const tables = inspect(
      path,
      (db) =>
        db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").all().map((row) =>
          row.name
        ),
    );
    assert.deepEqual(tables, [
      "allgroup",
      "device_tokens",
      "friend",
      "groupuser",
      "offlinemessage",
      "sqlite_sequence",
      "user",
    ]);
    const columns = inspect(path, (db) => db.prepare("SELECT name FROM pragma_table_info('groupuser')").all())
      .map((row) => row.name);
    assert.ok(!columns.includes("joinseq"), "the ALTER TABLE was rolled back");
    assert.equal((await store.readOffline(data.dave.id, 10)).length, 1);
  },
});
