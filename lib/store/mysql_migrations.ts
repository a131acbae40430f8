/**
 * MySQL's side of the versioned migrations (`migrations.ts`).
 *
 * - **One at a time across nodes**: the run holds a named lock (`GET_LOCK`) on one pooled connection, and the
 *   runner reads the version only once it has the lock. Two nodes starting at once: the second waits, then
 *   finds the new version and does nothing. The lock is the server's, so its name carries the database's.
 * - **No transaction**: MySQL and MariaDB commit every DDL statement at once, so a migration cannot be rolled
 *   back. Each version is recorded right after its last statement, and every statement of a migration file is
 *   safe to run again (`CREATE TABLE IF NOT EXISTS` ...): a node that crashed halfway leaves a database that
 *   the next start migrates again from that version.
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
  splitStatements,
} from "./migrations.ts";
import type { RowDataPacket } from "mysql2/promise";
import type { MysqlConnections, MysqlSession } from "./mysql_connections.ts";

/** Default seconds a node waits for another node's migration to finish before giving up. */
const LOCK_WAIT_SECONDS = 300;
/** Milliseconds the run may take past the lock wait (statements on a big table can be slow). */
const RUN_TIMEOUT = 300_000;

/** The lock's name: one per database of the server (lock names are at most 64 characters). */
const LOCK_NAME = "LEFT(CONCAT('chat-migrate:', DATABASE()), 64)";

const SQL = {
  lock: `SELECT GET_LOCK(${LOCK_NAME}, ?) AS got`,
  unlock: `DO RELEASE_LOCK(${LOCK_NAME})`,
  createVersionTable: "CREATE TABLE IF NOT EXISTS schema_version (" +
    "version INT NOT NULL PRIMARY KEY, name VARCHAR(100) NOT NULL, " +
    "applied_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)" +
    ") ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci",
  tables: "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE()",
  version: "SELECT MAX(version) AS version FROM schema_version",
  // IGNORE: a run that crashed after recording, then found the same version again, records it once.
  record: "INSERT IGNORE INTO schema_version (version, name) VALUES (?, ?)",
} as const;

/** Another node held the migration lock longer than the lock wait. */
export class MigrationLockError extends Error {
  constructor(seconds: number) {
    super(`another server has been migrating this database for over ${seconds} s; try again once it is done`);
    this.name = "MigrationLockError";
  }
}

/**
 * Brings the database of `connections` to the newest version in `sql/mysql/`, one node at a time. Rejects
 * with {@linkcode SchemaVersionError} when the database is newer than this code, and with
 * StoreUnavailableError when it cannot be reached.
 *
 * @example
 * ```ts
 * import type { MysqlConnections } from "./mysql_connections.ts";
 *
 * declare const connections: MysqlConnections;
 * const result = await migrateMysql(connections);
 * result.applied; // [2] for a database of the first release
 * ```
 */
export async function migrateMysql(
  connections: MysqlConnections,
  options: MigrateMysqlOptions = {},
): Promise<MigrationResult> {
  const { lockWaitSeconds = LOCK_WAIT_SECONDS } = options;
  const migrations = await loadMigrations("mysql");
  return await connections.use(
    (session) => runMigrations(mysqlTarget(session, lockWaitSeconds), migrations),
    { timeout: lockWaitSeconds * 1_000 + RUN_TIMEOUT },
  );
}

/** Options for {@linkcode migrateMysql}. */
export interface MigrateMysqlOptions {
  /** Seconds to wait for another node's migration before failing with {@linkcode MigrationLockError} (300). */
  lockWaitSeconds?: number;
}

/** The {@linkcode MigrationTarget} over one connection, held for the whole run (the lock is the connection's). */
function mysqlTarget(session: MysqlSession, lockWaitSeconds: number): MigrationTarget {
  // Plain query(): DDL cannot be prepared on every server version, and these texts carry no values.
  const db = session.connection;
  const tables = async () => {
    const [rows] = await db.query<RowDataPacket[]>(SQL.tables);
    return new Set(rows.map((row) => String(row.name)));
  };
  const record = async (migration: Migration) => {
    await db.query(SQL.createVersionTable);
    await db.execute(SQL.record, [migration.version, migration.name]);
  };
  return {
    async exclusive<T>(fn: () => Promise<T>): Promise<T> {
      const [[row]] = await db.execute<RowDataPacket[]>(SQL.lock, [lockWaitSeconds]);
      if (Number(row.got) !== 1) throw new MigrationLockError(lockWaitSeconds);
      try {
        return await fn();
      } finally {
        // On a broken connection the server has dropped the lock already.
        await db.query(SQL.unlock).catch(() => {});
      }
    },
    async readVersion(): Promise<number | null> {
      if (!(await tables()).has("schema_version")) return null;
      const [[row]] = await db.query<RowDataPacket[]>(SQL.version);
      return Number(row.version ?? 0);
    },
    async hasReleasedSchema(): Promise<boolean> {
      const present = await tables();
      return RELEASED_TABLES.every((name) => present.has(name));
    },
    async apply(migration: Migration): Promise<void> {
      for (const statement of splitStatements(migration.sql)) await db.query(statement);
      await record(migration);
    },
    recordBaseline: record,
  };
}
