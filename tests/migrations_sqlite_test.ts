/**
 * Upgrading SQLite databases in place: a database that the first release's server created and filled
 * (tests/harness/released_server.ts), one of release 3.0.0 (schema version 2,
 * tests/harness/fill_release_3.ts) and one of schema version 3 (tests/harness/fill_schema_3.ts) are migrated
 * by today's SqliteStore and keep everything; versions are
 * recorded once; a database from a newer release is refused; a failed migration changes nothing.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { directConv, groupConv } from "../lib/conversation_name.ts";
import { verifyPassword } from "../lib/service/password.ts";
import { SchemaVersionError } from "../lib/store/errors.ts";
import { SqliteStore } from "../lib/store/sqlite_store.ts";
import { fillRelease3, type Release3Data } from "./harness/fill_release_3.ts";
import { fillSchema3, type Schema3Data } from "./harness/fill_schema_3.ts";
import {
  fillReleased,
  RELEASE_3_COMMIT,
  type ReleasedData,
  ReleasedServer,
  SCHEMA_3_COMMIT,
} from "./harness/released_server.ts";
import { makeTempDir, removeTempDir } from "./harness/temp_dir.ts";
import { append, chat } from "./store_suite_fixture.ts";

const SANITIZED = { sanitizeOps: true, sanitizeResources: true };
/** Every version as `schema_version` records it once migrated. */
const ALL_VERSIONS = [[1, "initial"], [2, "conversations"], [3, "social"], [4, "sent_seqs"]];

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

/** A database filled by a released server once per test process, shared by the cases; each works on a copy. */
interface Filled<T> {
  dir: string;
  path: string;
  data: T;
}

let released: Promise<Filled<ReleasedData>> | undefined;
let release3: Promise<Filled<Release3Data>> | undefined;
let schema3: Promise<Filled<Schema3Data>> | undefined;

async function fillDatabase<T>(
  commit: string | undefined,
  fill: (server: ReleasedServer) => Promise<T>,
): Promise<Filled<T>> {
  const dir = await makeTempDir("chat-migrate-");
  const path = `${dir}/released.db`;
  await using server = await ReleasedServer.start(["--db", path], `${dir}/released.log`, { commit });
  const data = await fill(server);
  await server.stop();
  return { dir, path, data };
}

/** A copy (checkpointed into one file) of a filled database for one case. */
async function copyOf<T>(filled: Promise<Filled<T>>, name: string): Promise<{ path: string; data: T }> {
  const { dir, path, data } = await filled;
  const copy = `${dir}/${name}.db`;
  // Everything into the main file first, so that copying that one file copies the database.
  inspect(path, (db) => db.exec("PRAGMA wal_checkpoint(TRUNCATE)"));
  await Deno.copyFile(path, copy);
  return { path: copy, data };
}

/** A copy of the first release's database. */
function copyOfReleased(name: string): Promise<{ path: string; data: ReleasedData }> {
  released ??= fillDatabase(undefined, (server) => fillReleased(server.port));
  return copyOf(released, name);
}

/** A copy of release 3.0.0's database (schema version 2). */
function copyOfRelease3(name: string): Promise<{ path: string; data: Release3Data }> {
  release3 ??= fillDatabase(RELEASE_3_COMMIT, fillRelease3);
  return copyOf(release3, name);
}

/** A copy of a database of schema version 3 (main before version 4). */
function copyOfSchema3(name: string): Promise<{ path: string; data: Schema3Data }> {
  schema3 ??= fillDatabase(SCHEMA_3_COMMIT, fillSchema3);
  return copyOf(schema3, name);
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
  name: "SqliteStore.migrate() records the released database as version 1 and applies versions 2 to 4 once",
  ...SANITIZED,
  async fn() {
    const { path, data } = await copyOfReleased("versions");
    const store = await migrated(path);
    await store.migrate();
    await store.close();
    assert.deepEqual(versions(path), ALL_VERSIONS);
    // A restart finds the current version and changes nothing.
    await using again = await migrated(path);
    assert.deepEqual(versions(path), ALL_VERSIONS);
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
  name: "SqliteStore.migrate() of an empty file records versions 1 to 4",
  ...SANITIZED,
  async fn() {
    const dir = await makeTempDir("chat-migrate-empty-");
    try {
      const path = `${dir}/new.db`;
      const store = await migrated(path);
      await store.close();
      assert.deepEqual(versions(path), ALL_VERSIONS);
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
      (db) => db.exec("INSERT INTO schema_version (version, name, applied_at) VALUES (5, 'future', 0)"),
    );
    await using newer = SqliteStore.open(path);
    await assert.rejects(newer.migrate(), (error: unknown) => {
      assert.ok(error instanceof SchemaVersionError);
      assert.deepEqual([error.databaseVersion, error.codeVersion], [5, 4]);
      assert.match(error.message, /version 5.*version 4/);
      return true;
    });
    assert.deepEqual(versions(path), [...ALL_VERSIONS, [5, "future"]]);
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

Deno.test({
  name: "SqliteStore on a migrated released database: the creator stays, the others joined in id order",
  ...SANITIZED,
  async fn() {
    const { path, data } = await copyOfReleased("join-order");
    await using store = await migrated(path);
    const [group] = data.groups;
    const others = group.members.filter((id) => id !== group.creator);
    const newcomer = data.dave.id;
    assert.equal(await store.addGroupMember(group.id, newcomer), "normal");
    for (const heir of [...others, newcomer]) {
      const leaver = (await store.findGroup(group.id))!.members.find((m) => m.role === "creator")!.id;
      assert.deepEqual(await store.leaveGroup(group.id, leaver), { ok: true, heir });
    }
  },
});

Deno.test({
  name:
    "SqliteStore.migrate() of a 3.0.0 database applies versions 3 and 4 once and keeps users, friends and groups",
  ...SANITIZED,
  async fn() {
    const { path, data } = await copyOfRelease3("keeps");
    assert.deepEqual(versions(path), [[1, "initial"], [2, "conversations"]], "3.0.0 recorded version 2");
    const store = await migrated(path);
    await store.migrate();
    await store.close();
    assert.deepEqual(versions(path), ALL_VERSIONS);
    await using again = await migrated(path);
    const users = [data.ann, data.ben, data.cat, data.dan, data.eve];
    for (const user of users) {
      const found = await again.findUser(user.id);
      assert.equal(found?.name, user.name);
      assert.ok(await verifyPassword(user.password, found!.passwordHash), `${user.name}'s password works`);
      const expected = data.friends.filter(([owner]) => owner === user.id).map(([, friend]) => friend);
      assert.deepEqual(
        (await again.listFriends(user.id)).map((f) => f.id),
        expected.toSorted((x, y) => x - y),
        `${user.name}'s friends, one-way rows included`,
      );
      assert.deepEqual(await again.listFriendRequests(user.id), []);
      assert.deepEqual(await again.listBlocks(user.id), { blocking: [], blockedBy: [] });
    }
    for (const group of [data.alpha, data.beta]) {
      const found = await again.findGroup(group.id);
      assert.deepEqual([found?.name, found?.desc], [group.name, group.desc]);
      assert.deepEqual(
        found?.members.map((m) => [m.id, m.role]),
        group.members.map((id) => [id, id === group.creator ? "creator" : "normal"]),
      );
    }
  },
});

Deno.test({
  name: "SqliteStore on a migrated 3.0.0 database keeps messages, join seqs and read state",
  ...SANITIZED,
  async fn() {
    const { path, data } = await copyOfRelease3("messages");
    await using store = await migrated(path);
    const { alpha, ann, ben } = data;
    const conv = groupConv(alpha.id);
    assert.deepEqual(
      (await store.messagesAfter(directConv(ann.id, ben.id), 0, 10)).map((m) => JSON.parse(m.frame).msg),
      data.annToBen,
    );
    const ofGroup = async (user: number) =>
      (await store.listConversations(user)).find((summary) => summary.conv === conv);
    assert.deepEqual(await ofGroup(ann.id), { conv, lastseq: 1, readseq: 0, unread: 1 });
    assert.deepEqual(
      await ofGroup(data.lateJoiner),
      { conv, lastseq: 1, readseq: 1, unread: 0 },
      "joined after the first message: its join seq is kept",
    );
    const [next] = await append(store, [chat(conv, ann.id, "after the upgrade")]);
    assert.equal(next.seq, 2, "the group's seqs go on");
  },
});

Deno.test({
  name: "SqliteStore on a migrated 3.0.0 database: old members joined in id order, before any newcomer",
  ...SANITIZED,
  async fn() {
    const { path, data } = await copyOfRelease3("join-order");
    await using store = await migrated(path);
    const { alpha } = data;
    const others = alpha.members.filter((id) => id !== alpha.creator);
    // A newcomer (dan) and an admin among the old members (the highest id): the admin inherits first.
    const admin = others.at(-1)!;
    assert.equal(await store.addGroupMember(alpha.id, data.dan.id), "normal");
    assert.deepEqual(await store.setMemberRole(alpha.id, alpha.creator, admin, "admin"), {
      ok: true,
      changed: true,
    });
    const heirs = [admin, ...others.filter((id) => id !== admin), data.dan.id];
    let creator = alpha.creator;
    for (const heir of heirs) {
      assert.deepEqual(await store.leaveGroup(alpha.id, creator), { ok: true, heir });
      creator = heir;
    }
    assert.deepEqual(await store.leaveGroup(alpha.id, creator), { ok: true });
  },
});

Deno.test({
  name: "SqliteStore on a migrated 3.0.0 database: a one-way friend completes the friendship by request",
  ...SANITIZED,
  async fn() {
    const { path, data } = await copyOfRelease3("requests");
    await using store = await migrated(path);
    const { ann, cat } = data; // ann has cat; cat does not have ann
    assert.equal(await store.requestFriend(cat.id, ann.id, "back at you"), "sent");
    assert.deepEqual(await store.listFriendRequests(ann.id), [{
      id: cat.id,
      name: "cat",
      note: "back at you",
    }]);
    assert.equal(await store.answerFriendRequest(ann.id, cat.id, true), true);
    assert.ok((await store.listFriends(cat.id)).some((f) => f.id === ann.id));
    await store.setBlock(cat.id, ann.id, true);
    assert.ok(!(await store.listFriends(ann.id)).some((f) => f.id === cat.id), "a block ends it both ways");
  },
});

Deno.test({
  name: "SqliteStore.migrate() of a 3.0.0 database that fails at version 3 leaves version 2 as it was",
  ...SANITIZED,
  async fn() {
    const { path, data } = await copyOfRelease3("fails");
    // A table in the way of version 3: its CREATE TABLE fails after groupuser was rebuilt.
    inspect(path, (db) => db.exec("CREATE TABLE blocks (x INTEGER)"));
    await using store = SqliteStore.open(path);
    await assert.rejects(store.migrate(), /blocks already exists/);
    assert.deepEqual(versions(path), [[1, "initial"], [2, "conversations"]]);
    const columns = inspect(path, (db) => db.prepare("SELECT name FROM pragma_table_info('groupuser')").all())
      .map((row) => row.name);
    assert.deepEqual(columns, ["groupid", "userid", "grouprole", "joinseq"], "the rebuild was rolled back");
    const members = inspect(
      path,
      (db) => db.prepare("SELECT userid FROM groupuser WHERE groupid = ? ORDER BY userid").all(data.alpha.id),
    ).map((row) => Number(row.userid));
    assert.deepEqual(members, data.alpha.members);
  },
});

Deno.test({
  name:
    "SqliteStore.migrate() of a schema 3 database applies version 4 once; every user's conversations read as before",
  ...SANITIZED,
  async fn() {
    const { path, data } = await copyOfSchema3("keeps-reads");
    assert.deepEqual(versions(path), ALL_VERSIONS.slice(0, 3), "the old code recorded version 3");
    const store = await migrated(path);
    await store.migrate();
    await store.close();
    assert.deepEqual(versions(path), ALL_VERSIONS);
    await using again = await migrated(path);
    const { ann, ben, cat } = data;
    for (const user of [ann, ben, cat]) {
      assert.deepEqual(await again.listConversations(user.id), data.lists.get(user.id), user.name);
    }
    // From here on sending moves the sender's read seq on the conversation's row, above the old rows.
    const ab = directConv(ann.id, ben.id);
    const [sent] = await append(again, [chat(ab, ann.id, "after the upgrade")]);
    assert.equal(sent.seq, 6);
    assert.equal(await again.markRead(ann.id, ab, 5), 6, "ann's READ below what she sent changes nothing");
    const ofBen = (await again.listConversations(ben.id)).find((summary) => summary.conv === ab);
    assert.deepEqual(ofBen, { conv: ab, lastseq: 6, readseq: 5, peerread: 6, unread: 1 });
    assert.equal(await again.markRead(ben.id, ab, 4), 5, "ben's old read seq (he sent 5) still holds");
  },
});

Deno.test({
  name: "SqliteStore.migrate() of a schema 3 database that fails at version 4 leaves version 3 as it was",
  ...SANITIZED,
  async fn() {
    const { path, data } = await copyOfSchema3("fails");
    // A column in the way of the second ALTER: the first one ran, and is rolled back with it.
    inspect(path, (db) => db.exec("ALTER TABLE conversations ADD COLUMN highsentseq INTEGER"));
    await using store = SqliteStore.open(path);
    await assert.rejects(store.migrate(), /duplicate column name: highsentseq/);
    assert.deepEqual(versions(path), ALL_VERSIONS.slice(0, 3));
    const columns = inspect(
      path,
      (db) => db.prepare("SELECT name FROM pragma_table_info('conversations')").all(),
    )
      .map((row) => row.name);
    assert.deepEqual(columns, ["conv", "lastseq", "highsentseq"], "the first ALTER was rolled back");
    assert.equal((await store.findUser(data.ann.id))?.name, "ann");
  },
});
