/**
 * MysqlStore against a real MariaDB started for this file: the shared store suite (a fresh database per case)
 * and what only a networked database has (schema details, server outages, credentials in errors).
 *
 * One MariaDB for the file, started before its first test and stopped after its last
 * (tests/harness/mariadb_fixture.ts).
 */

import assert from "node:assert/strict";
import mysql from "mysql2/promise";
import { isFatalMysqlError, mysqlFactory, redactUrl } from "../lib/db/mysql_factory.ts";
import { StoreUnavailableError } from "../lib/store/errors.ts";
import { MysqlStore, type MysqlStoreOptions } from "../lib/store/mysql_store.ts";
import { freePort } from "./harness/free_port.ts";
import { mariaDbPerFile } from "./harness/mariadb_fixture.ts";
import { storeSuite } from "./store_suite.ts";

const mariadb = mariaDbPerFile();
let databases = 0;

/** A test that must close every connection, socket and timer it opens (the server is the file's, not its). */
function test(name: string, fn: () => void | Promise<void>): void {
  Deno.test({ name, sanitizeOps: true, sanitizeResources: true, fn });
}

/** A migrated store over a new, empty database. */
async function open(options?: MysqlStoreOptions): Promise<MysqlStore> {
  const url = await mariadb().createDatabase(`store_test_${++databases}`);
  const store = MysqlStore.open(url, options);
  try {
    await store.migrate();
  } catch (error) {
    await store.close();
    throw error;
  }
  return store;
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

storeSuite("MysqlStore", () => open());

test("MysqlStore.migrate() twice creates the five utf8mb4 InnoDB tables once, names compared exactly", async () => {
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
      tables.map((t) => [t.name, t.engine, t.collation]),
      ["allgroup", "friend", "groupuser", "offlinemessage", "user"].map((name) => [
        name,
        "InnoDB",
        "utf8mb4_unicode_ci",
      ]),
    );
    const [columns] = await db.execute<mysql.RowDataPacket[]>(
      "SELECT table_name AS t, column_name AS c, collation_name AS collation FROM information_schema.columns " +
        "WHERE table_schema = DATABASE() AND collation_name IS NOT NULL ORDER BY table_name, column_name",
    );
    const collations = Object.fromEntries(columns.map((row) => [`${row.t}.${row.c}`, row.collation]));
    assert.equal(collations["user.name"], "utf8mb4_bin");
    assert.equal(collations["allgroup.groupname"], "utf8mb4_bin");
    assert.equal(collations["offlinemessage.message"], "utf8mb4_unicode_ci");
  });
});

test("MysqlStore.storeOffline() round-trips a 100 KB frame of emoji", async () => {
  await using store = await open();
  const a = await store.createUser("a", "h");
  const frame = JSON.stringify({ msgid: 6, id: a, msg: "😀👩‍👩‍👧🚀".repeat(4_000) + "end" });
  assert.ok(new TextEncoder().encode(frame).length > 100_000);
  await store.storeOffline([{ userId: a, frame }, { userId: a, frame: "after" }]);
  const messages = await store.readOffline(a, 10);
  assert.equal(messages.length, 2);
  assert.ok(messages[0].frame === frame, "frame changed on the way");
  assert.equal(messages[1].frame, "after");
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

test("MysqlStore.existingUsers() and deleteOffline() handle lists longer than one batch", async () => {
  await using store = await open();
  const a = await store.createUser("a", "h");
  await store.storeOffline(Array.from({ length: 700 }, (_, i) => ({ userId: a, frame: `m${i}` })));
  const messages = await store.readOffline(a, 1_000);
  assert.deepEqual(messages.map((m) => m.frame), Array.from({ length: 700 }, (_, i) => `m${i}`));
  const missing = Array.from({ length: 600 }, (_, i) => a + 1_000 + i);
  assert.deepEqual(await store.existingUsers([...missing, a, a]), new Set([a]));
  await store.deleteOffline(a, messages.slice(0, 555).map((m) => m.id));
  assert.deepEqual(
    (await store.readOffline(a, 1_000)).map((m) => m.frame),
    messages.slice(555).map((m) => m.frame),
  );
});

test("MysqlStore rejects bad ids and limits with RangeError before touching the database", async () => {
  await using store = await open();
  await assert.rejects(store.findUser(1.5), RangeError);
  await assert.rejects(store.readOffline(1, -1), RangeError);
  await assert.rejects(store.storeOffline([{ userId: Number.NaN, frame: "x" }]), RangeError);
  assert.deepEqual(store.poolStats().inUse, 0);
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
    await Promise.all([store.ping(), store.ping(), store.ping()]); // several idle connections
    try {
      await db.stop();
      for (const call of [() => store.findUser(alice), () => store.createUser("bob", "h")]) {
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
