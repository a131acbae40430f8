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
import { isFatalMysqlError, mysqlFactory, redactUrl } from "../lib/db/mysql_factory.ts";
import { directConv } from "../lib/conversation_name.ts";
import { StoreUnavailableError } from "../lib/store/errors.ts";
import { MysqlStore, type MysqlStoreOptions } from "../lib/store/mysql_store.ts";
import type { NewMessage } from "../lib/store/store.ts";
import { eventually } from "./harness/eventually.ts";
import { freePort } from "./harness/free_port.ts";
import { mariaDbPerFile } from "./harness/mariadb_fixture.ts";
import { type StoreFixture, storeSuite } from "./store_suite.ts";

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
        "conversations",
        "device_cursors",
        "device_tokens",
        "devices",
        "friend",
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
    assert.deepEqual(versions.map((row) => [row.version, row.name]), [[1, "initial"], [2, "conversations"]]);
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
  await store.appendMessages([
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
  const stored = await store.appendMessages(
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
  const stored = await store.appendMessages(batch);
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
  const results = await Promise.all(batches.map(({ node, messages }) => node.appendMessages(messages)));
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
      first.appendMessages([message(conv, a, { cmid })]),
      second.appendMessages([message(conv, a, { cmid })]),
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
  await store.appendMessages([message(conv, a)]);
  // The conversation's row is raised before the messages are inserted; the refused INSERT rolls it back.
  await assert.rejects(
    store.appendMessages([message(conv, a), message(conv, b, { mid: "x".repeat(300) })]),
    /too long/i,
  );
  assert.equal(await store.lastSeq(conv), 1);
  const [next] = await store.appendMessages([message(conv, b)]);
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
  await store.appendMessages([message(first, a), message(second, a)]);

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
    const appending = store.appendMessages([message(first, b), message(second, c)]);
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

test("MysqlStore.appendMessages() on an unreachable database rejects with StoreUnavailableError", async () => {
  await using store = MysqlStore.open(`mysql://chat@127.0.0.1:${freePort()}/chat`, {
    pool: { acquireTimeout: 300 },
  });
  await assert.rejects(store.appendMessages([message("u:1:2", 1)]), StoreUnavailableError);
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
  const stored = await store.appendMessages(
    Array.from({ length: 700 }, (_, i) => message(conv, others[0], { frame: (seq) => `m${i} s${seq}` })),
  );
  assert.deepEqual(stored.map((m) => m.seq), Array.from({ length: 700 }, (_, i) => i + 1));
  assert.deepEqual(
    (await store.messagesAfter(conv, 0, 1_000)).map((m) => m.frame),
    Array.from({ length: 700 }, (_, i) => `m${i} s${i + 1}`),
  );
  // One message in each of 130 conversations: messagesPast and saveCursors span several statements.
  const convs = others.map((other) => directConv(a, other));
  await store.appendMessages(others.map((other, i) => message(convs[i], other)));
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
  await assert.rejects(store.appendMessages([message("u:2:1", 1)]), RangeError);
  await assert.rejects(store.appendMessages([message("u:1:2", Number.NaN)]), RangeError);
  await assert.rejects(store.messagesAfter("g:1", -1, 10), RangeError);
  await assert.rejects(store.saveCursors([{ userId: 1, device: "", conv: "g:1", seq: 1 }]), RangeError);
  await assert.rejects(store.messagesPast(1, new Map([["nope", 0]]), 10), RangeError);
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
    await store.appendMessages([message(conv, alice)]);
    await Promise.all([store.ping(), store.ping(), store.ping()]); // several idle connections
    try {
      await db.stop();
      const calls = [
        () => store.findUser(alice),
        () => store.createUser("bob", "h"),
        () => store.appendMessages([message(conv, alice)]),
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
    assert.equal((await store.appendMessages([message(conv, alice)]))[0].seq, 2);
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
