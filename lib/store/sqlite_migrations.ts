/**
 * SQLite's side of the versioned migrations (`migrations.ts`): the whole run is one BEGIN IMMEDIATE
 * transaction. SQLite's DDL is transactional, so a migration that fails leaves the database exactly as it
 * was, and the write lock taken at BEGIN makes a second process that starts at the same moment wait, then
 * find the new version and do nothing.
 *
 * @module
 */

import {
  loadMigrations,
  type Migration,
  type MigrationResult,
  type MigrationTarget,
  RELEASED_TABLES,
  runMigrations,
} from "./migrations.ts";
import type { SqliteConnection } from "./sqlite_connection.ts";

const SQL = {
  createVersionTable: "CREATE TABLE IF NOT EXISTS schema_version (" +
    "version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT",
  hasTable: "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?",
  version: "SELECT max(version) AS version FROM schema_version",
  record: "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
} as const;

/**
 * Brings the database of `connection` to the newest version in `sql/sqlite/`. Rejects with
 * {@linkcode SchemaVersionError} when the database is newer than this code.
 *
 * @example
 * ```ts
 * import { SqliteConnection } from "./sqlite_connection.ts";
 *
 * const connection = SqliteConnection.open(":memory:", { busyTimeoutMs: 5000, synchronous: "normal" });
 * const result = await migrateSqlite(connection);
 * result.to; // the newest version
 * connection.close();
 * ```
 */
export async function migrateSqlite(connection: SqliteConnection): Promise<MigrationResult> {
  const migrations = await loadMigrations("sqlite");
  return runMigrations(sqliteTarget(connection), migrations);
}

function sqliteTarget(connection: SqliteConnection): MigrationTarget {
  // Statements are prepared on use, not cached: the schema changes under them during the run.
  const db = () => connection.database();
  const hasTable = (name: string) => db().prepare(SQL.hasTable).get(name) !== undefined;
  const record = (migration: Migration) => {
    db().exec(SQL.createVersionTable);
    db().prepare(SQL.record).run(BigInt(migration.version), migration.name, BigInt(Date.now()));
  };
  return {
    exclusive: <T>(fn: () => Promise<T>) => connection.exclusive(fn),
    readVersion: () => {
      if (!hasTable("schema_version")) return Promise.resolve(null);
      return Promise.resolve(Number(db().prepare(SQL.version).get()?.version ?? 0));
    },
    hasReleasedSchema: () => Promise.resolve(RELEASED_TABLES.every(hasTable)),
    apply: (migration: Migration) => {
      db().exec(migration.sql);
      record(migration);
      return Promise.resolve();
    },
    recordBaseline: (migration: Migration) => {
      record(migration);
      return Promise.resolve();
    },
  };
}
