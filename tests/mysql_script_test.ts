/**
 * The multi-statement transactions of lib/store/mysql_script.ts: the literals that replace placeholders (unit
 * tests), and against a real MariaDB that awkward strings arrive as they were sent, that a failing statement
 * leaves nothing of its transaction stored, and that a script past one query's size still runs whole.
 */

import assert from "node:assert/strict";
import mysql from "mysql2/promise";
import { mysqlFactory } from "../lib/db/mysql_factory.ts";
import { Pool } from "../lib/db/pool.ts";
import { MysqlConnections } from "../lib/store/mysql_connections.ts";
import { formatSql, MysqlScript, scriptTransaction, slices, sqlLiteral } from "../lib/store/mysql_script.ts";
import { mariaDbPerFile } from "./harness/mariadb_fixture.ts";

const mariadb = mariaDbPerFile();
let databases = 0;

/** Strings that must arrive as sent, in plain and in hex literals. */
const awkward = [
  "",
  "it's",
  "back\\slash\\",
  "'; DROP TABLE t; --",
  "\u0000nul",
  "😀👩‍👩‍👧",
  "?",
  'é\n\t"x"',
  '{"msg":"x"}; DROP TABLE t; -- /* " ` ?',
  " ~plain printable ASCII~ ",
];

Deno.test("sqlLiteral() writes NULL, safe integers, plain printable ASCII strings and the others in hex", () => {
  assert.equal(sqlLiteral(null), "NULL");
  assert.equal(sqlLiteral(-42), "-42");
  assert.equal(sqlLiteral(""), "_utf8mb4''");
  assert.equal(sqlLiteral('{"msg":"50% off; -- /* ? */"}'), `_utf8mb4'{"msg":"50% off; -- /* ? */"}'`);
  // A quote, a backslash, a control character or anything past ASCII: hex.
  assert.equal(sqlLiteral("a'b"), "_utf8mb4 X'612762'");
  assert.equal(sqlLiteral("a\\"), "_utf8mb4 X'615c'");
  assert.equal(sqlLiteral("a\n"), "_utf8mb4 X'610a'");
  assert.equal(sqlLiteral("\u007f"), "_utf8mb4 X'7f'");
  assert.equal(sqlLiteral("é"), "_utf8mb4 X'c3a9'");
});

Deno.test("sqlLiteral() refuses a number that is not a safe integer, and a value of another type", () => {
  for (const bad of [1.5, Number.NaN, Infinity, 2 ** 53]) assert.throws(() => sqlLiteral(bad), RangeError);
  assert.throws(() => sqlLiteral(true as unknown as string), TypeError);
  assert.throws(() => sqlLiteral(10n as unknown as number), TypeError);
});

Deno.test("formatSql() fills each placeholder in order and refuses a count that does not match", () => {
  assert.equal(formatSql("SELECT ? + ?, ?", [1, 2, "x"]), "SELECT 1 + 2, _utf8mb4'x'");
  assert.equal(formatSql("SELECT 1", []), "SELECT 1");
  assert.throws(() => formatSql("SELECT ?", []), RangeError);
  assert.throws(() => formatSql("SELECT ?", [1, 2]), RangeError);
});

Deno.test("slices() cuts a list into runs of max and the rest", () => {
  assert.deepEqual(slices([1, 2, 3, 4, 5], 2), [[1, 2], [3, 4], [5]]);
  assert.deepEqual(slices([], 2), []);
});

/** Multi-statement connections to a new database with a table `t (id INT PRIMARY KEY, v MEDIUMTEXT)`. */
async function openScripts(): Promise<{ connections: MysqlConnections; url: string }> {
  const url = await mariadb().createDatabase(`script_test_${++databases}`);
  await inspect(url, (db) => db.query("CREATE TABLE t (id INT PRIMARY KEY, v MEDIUMTEXT) CHARSET utf8mb4"));
  const factory = mysqlFactory(url, { multipleStatements: true });
  return {
    connections: new MysqlConnections(factory, new Pool(factory, { max: 1 }), { queryTimeout: 20_000 }),
    url,
  };
}

/** Runs `fn` on a plain connection of its own, past the scripts. */
async function inspect<T>(url: string, fn: (db: mysql.Connection) => Promise<T>): Promise<T> {
  const db = await mysql.createConnection({ uri: url, charset: "UTF8MB4_UNICODE_CI" });
  try {
    return await fn(db);
  } finally {
    await db.end();
  }
}

async function values(url: string): Promise<string[]> {
  return await inspect(url, async (db) => {
    const [rows] = await db.execute<mysql.RowDataPacket[]>("SELECT v FROM t ORDER BY id");
    return rows.map((row) => String(row.v));
  });
}

Deno.test("scriptTransaction() stores awkward strings exactly as sent, and an injection attempt as text", async () => {
  const { connections, url } = await openScripts();
  try {
    const read = await scriptTransaction(connections, async (script) => {
      const [, rows] = await script.run([
        {
          sql: `INSERT INTO t (id, v) VALUES ${awkward.map(() => "(?, ?)").join(", ")}`,
          values: awkward.flatMap((v, i) => [i, v]),
        },
        { sql: "SELECT v FROM t WHERE v = ?", values: ["'; DROP TABLE t; --"] },
      ]);
      return rows as mysql.RowDataPacket[];
    });
    assert.deepEqual(read.map((row) => row.v), ["'; DROP TABLE t; --"]);
    assert.deepEqual(await values(url), awkward);
  } finally {
    await connections.close();
  }
});

Deno.test("MysqlScript stores the same strings under NO_BACKSLASH_ESCAPES and ANSI_QUOTES", async () => {
  const { connections, url } = await openScripts();
  try {
    await connections.use(async ({ connection }) => {
      await connection.query("SET SESSION sql_mode = 'NO_BACKSLASH_ESCAPES,ANSI_QUOTES'");
      try {
        await new MysqlScript(connection).commit([{
          sql: `INSERT INTO t (id, v) VALUES ${awkward.map(() => "(?, ?)").join(", ")}`,
          values: awkward.flatMap((v, i) => [i, v]),
        }]);
      } finally {
        await connection.query("SET SESSION sql_mode = DEFAULT");
      }
    });
    assert.deepEqual(await values(url), awkward);
  } finally {
    await connections.close();
  }
});

Deno.test("scriptTransaction() rolls back the whole transaction when a statement of its last round trip fails", async () => {
  const { connections, url } = await openScripts();
  try {
    await scriptTransaction(
      connections,
      (script) => script.commit([{ sql: "INSERT INTO t (id, v) VALUES (1, ?)", values: ["kept"] }]),
    );
    let attempts = 0;
    await assert.rejects(
      scriptTransaction(connections, async (script) => {
        attempts++;
        await script.run([{ sql: "INSERT INTO t (id, v) VALUES (2, ?)", values: ["first round trip"] }]);
        // The duplicate id stops the server before the COMMIT behind it.
        await script.commit([
          { sql: "INSERT INTO t (id, v) VALUES (3, ?)", values: ["before the failure"] },
          { sql: "INSERT INTO t (id, v) VALUES (1, ?)", values: ["duplicate"] },
        ]);
      }, { retries: 2, retryable: () => false }),
      (error: unknown) => (error as { errno?: number }).errno === 1062,
    );
    assert.equal(attempts, 1, "a failure the caller does not retry runs once");
    assert.deepEqual(await values(url), ["kept"]);
    // The connection was rolled back, not left inside the transaction: the next script stores normally.
    await scriptTransaction(
      connections,
      (script) => script.commit([{ sql: "INSERT INTO t (id, v) VALUES (2, ?)", values: ["next"] }]),
    );
    assert.deepEqual(await values(url), ["kept", "next"]);
  } finally {
    await connections.close();
  }
});

Deno.test("scriptTransaction() runs a failed attempt again when retryable accepts it", async () => {
  const { connections, url } = await openScripts();
  try {
    let attempts = 0;
    const result = await scriptTransaction(connections, async (script) => {
      attempts++;
      await script.run([{ sql: "INSERT INTO t (id, v) VALUES (1, ?)", values: [`attempt ${attempts}`] }]);
      if (attempts === 1) throw new Error("try again");
      return attempts;
    }, { retries: 1, retryable: (error) => error instanceof Error && error.message === "try again" });
    assert.equal(result, 2);
    assert.deepEqual(await values(url), ["attempt 2"], "the first attempt was rolled back");
  } finally {
    await connections.close();
  }
});

Deno.test("MysqlScript sends nothing for an empty transaction, and splits a script larger than one query", async () => {
  const { connections, url } = await openScripts();
  try {
    await connections.use(async ({ connection }) => {
      let queries = 0;
      const query = connection.query.bind(connection);
      connection.query = ((...args: Parameters<typeof query>) => {
        queries++;
        return query(...args);
      }) as typeof query;
      const empty = new MysqlScript(connection);
      assert.deepEqual(await empty.run([]), []);
      assert.deepEqual(await empty.commit([]), []);
      assert.equal(queries, 0);
      // Five values of 3 MB: 30 MB of hex, past one query's 8 MiB, in one transaction.
      const big = Array.from({ length: 5 }, (_, i) => String(i).repeat(3_000_000));
      const script = new MysqlScript(connection);
      const results = await script.commit(
        big.map((v, i) => ({ sql: "INSERT INTO t (id, v) VALUES (?, ?)", values: [i, v] })),
      );
      assert.equal(results.length, 5);
      assert.ok(queries > 1 && queries <= 5, `${queries} queries`);
    });
    assert.deepEqual(await values(url), Array.from({ length: 5 }, (_, i) => String(i).repeat(3_000_000)));
  } finally {
    await connections.close();
  }
});

/** A script whose second statement fails (a duplicate id): the name the failure's stack must show. */
async function storeTheSameIdTwice(script: MysqlScript): Promise<void> {
  await script.commit([
    { sql: "INSERT INTO t (id, v) VALUES (7, ?)", values: ["first"] },
    { sql: "INSERT INTO t (id, v) VALUES (7, ?)", values: ["second"] },
  ]);
}

Deno.test("a failed script keeps mysql2's errno, message and SQL, with the stack of the code that awaited it", async () => {
  const { connections, url } = await openScripts();
  try {
    const error = await scriptTransaction(connections, storeTheSameIdTwice).then(
      () => assert.fail("the duplicate id was stored"),
      (error: unknown) => error as Error & { errno?: number; sql?: string },
    );
    assert.equal(error.errno, 1062);
    assert.match(error.message, /Duplicate entry '7'/);
    assert.match(error.sql ?? "", /INSERT INTO t \(id, v\) VALUES \(7, /);
    // The connections of scripts capture no stack per query; the failure still tells who ran the script.
    assert.match(error.stack ?? "", /^Error: Duplicate entry '7'/);
    assert.match(error.stack ?? "", /storeTheSameIdTwice/);
    assert.deepEqual(await values(url), [], "nothing of the failed transaction was stored");
  } finally {
    await connections.close();
  }
});

Deno.test("a multi-statement connection refuses values to format into its text", async () => {
  const { connections } = await openScripts();
  try {
    await connections.use(async ({ connection }) => {
      await assert.rejects(connection.query("SELECT ?", [1]), TypeError);
      // The complete text of a query, `?` in a string included, goes to the server as it is.
      const [rows] = await connection.query<mysql.RowDataPacket[]>("SELECT '?' AS q");
      assert.equal(rows[0].q, "?");
    });
  } finally {
    await connections.close();
  }
});
