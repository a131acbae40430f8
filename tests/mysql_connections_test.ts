import assert from "node:assert/strict";
import type { Connection } from "mysql2/promise";
import { isFatalMysqlError } from "../lib/db/errors.ts";
import type { MysqlFactory } from "../lib/db/mysql_factory.ts";
import { Pool } from "../lib/db/pool.ts";
import { StoreUnavailableError } from "../lib/store/errors.ts";
import {
  chunks,
  isLockConflict,
  MysqlConnections,
  paddedChunks,
  placeholders,
} from "../lib/store/mysql_connections.ts";

Deno.test("chunks() cuts a list into power-of-two sized pieces of at most max, in order", () => {
  assert.deepEqual(chunks([1, 2, 3, 4, 5, 6, 7], 4), [[1, 2, 3, 4], [5, 6], [7]]);
  assert.deepEqual(chunks([1, 2, 3, 4, 5, 6, 7, 8, 9], 4), [[1, 2, 3, 4], [5, 6, 7, 8], [9]]);
  assert.deepEqual(chunks([], 4), []);
});

Deno.test("paddedChunks() makes one statement of up to max items, filled up to a power of two with the last item", () => {
  assert.deepEqual(paddedChunks([1, 2, 3], 4), [[1, 2, 3, 3]]);
  assert.deepEqual(paddedChunks([1, 2, 3, 4, 5], 4), [[1, 2, 3, 4], [5]]);
  assert.deepEqual(paddedChunks([1, 2, 3, 4, 5, 6], 4), [[1, 2, 3, 4], [5, 6]]);
  assert.deepEqual(paddedChunks([1, 2, 3, 4, 5, 6, 7], 8), [[1, 2, 3, 4, 5, 6, 7, 7]]);
  assert.deepEqual(paddedChunks([], 4), []);
});

Deno.test("paddedChunks() keeps every item, in order, in few distinct sizes", () => {
  const sizes = new Set<number>();
  for (let n = 1; n <= 600; n++) {
    const items = Array.from({ length: n }, (_, i) => i);
    const pieces = paddedChunks(items, 256);
    assert.deepEqual([...new Set(pieces.flat())], items);
    assert.equal(pieces.length, Math.ceil(n / 256));
    for (const piece of pieces) sizes.add(piece.length);
  }
  assert.deepEqual([...sizes].sort((a, b) => a - b), [1, 2, 4, 8, 16, 32, 64, 128, 256]);
});

Deno.test("chunks() uses only a few distinct sizes however long the list", () => {
  const sizes = new Set<number>();
  for (let n = 1; n <= 600; n++) {
    const pieces = chunks(Array.from({ length: n }, (_, i) => i), 256);
    assert.deepEqual(pieces.flat(), Array.from({ length: n }, (_, i) => i));
    for (const piece of pieces) sizes.add(piece.length);
  }
  assert.deepEqual([...sizes].sort((a, b) => a - b), [1, 2, 4, 8, 16, 32, 64, 128, 256]);
});

Deno.test("placeholders() gives one ? per value", () => {
  assert.equal(placeholders(1), "(?)");
  assert.equal(placeholders(3), "(?, ?, ?)");
});

/** A connection that records the text of every statement and answers each with no rows. */
function recordingConnection(statements: string[]): Connection {
  const answer = (sql: string) => {
    statements.push(sql);
    return Promise.resolve([[], []]);
  };
  return { query: answer, execute: answer } as unknown as Connection;
}

/** MysqlConnections over a pool of one recording connection. */
function recordingConnections(statements: string[]): MysqlConnections {
  const factory: MysqlFactory = {
    redactedUrl: "mysql://test@127.0.0.1:1/chat",
    create: () => Promise.resolve(recordingConnection(statements)),
    destroy: () => Promise.resolve(),
    onError: () => () => {},
    isFatal: isFatalMysqlError,
  };
  return new MysqlConnections(factory, new Pool(factory, { max: 1 }), { queryTimeout: 1_000 });
}

const deadlock = () => Object.assign(new Error("Deadlock found when trying to get lock"), { errno: 1213 });

Deno.test("isLockConflict() is true for a deadlock and a lock wait timeout only", () => {
  assert.equal(isLockConflict(deadlock()), true);
  assert.equal(isLockConflict(Object.assign(new Error("Lock wait timeout exceeded"), { errno: 1205 })), true);
  assert.equal(isLockConflict(Object.assign(new Error("Duplicate entry"), { errno: 1062 })), false);
  assert.equal(isLockConflict(new Error("no errno")), false);
});

Deno.test("MysqlConnections.transaction() runs a deadlocked attempt again in a new transaction", async () => {
  const statements: string[] = [];
  const connections = recordingConnections(statements);
  let attempts = 0;
  const result = await connections.transaction(async (db) => {
    await db.write("UPDATE t SET n = n + 1", []);
    if (++attempts < 3) throw deadlock();
    return "stored";
  }, { retries: 2 });
  assert.equal(result, "stored");
  assert.deepEqual(statements, [
    ...["START TRANSACTION", "UPDATE t SET n = n + 1", "ROLLBACK"],
    ...["START TRANSACTION", "UPDATE t SET n = n + 1", "ROLLBACK"],
    ...["START TRANSACTION", "UPDATE t SET n = n + 1", "COMMIT"],
  ]);
  await connections.close();
});

Deno.test("MysqlConnections.transaction() gives up after its retries with StoreUnavailableError", async () => {
  const statements: string[] = [];
  const connections = recordingConnections(statements);
  let attempts = 0;
  const failing = connections.transaction(() => {
    attempts++;
    return Promise.reject(deadlock());
  }, { retries: 2 });
  await assert.rejects(failing, (error: unknown) => {
    assert.ok(error instanceof StoreUnavailableError, String(error));
    assert.match(error.message, /Deadlock/);
    return true;
  });
  assert.equal(attempts, 3);
  assert.equal(statements.filter((sql) => sql === "ROLLBACK").length, 3);
  await connections.close();
});

Deno.test("MysqlConnections.transaction() does not retry what its retryable() refuses, nor by default", async () => {
  const statements: string[] = [];
  const connections = recordingConnections(statements);
  let attempts = 0;
  const refused = Object.assign(new Error("Duplicate entry"), { errno: 1062 });
  await assert.rejects(
    connections.transaction(() => {
      attempts++;
      return Promise.reject(refused);
    }, { retries: 5, retryable: isLockConflict }),
    (error) => error === refused,
  );
  await assert.rejects(
    connections.transaction(() => {
      attempts++;
      return Promise.reject(deadlock());
    }),
    StoreUnavailableError,
  );
  assert.equal(attempts, 2);
  await connections.close();
});
