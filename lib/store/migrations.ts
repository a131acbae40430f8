/**
 * Versioned schema migrations, the same for every engine: numbered SQL files `sql/<engine>/NNN_name.sql`
 * (001 is the schema of the first release), a `schema_version` table recording every version applied, and a
 * runner that brings a database from whatever version it has to the newest one this code knows.
 *
 * The engine supplies a {@linkcode MigrationTarget}: how to hold other processes off while migrating, read and
 * record the version, and run one file's statements (inside a transaction where the engine allows it).
 *
 * A database of the first release has its tables but no `schema_version`: it counts as version 1. A database
 * whose version is newer than this code's is refused with {@linkcode SchemaVersionError}: running old code on
 * it could misread or damage data it does not know.
 *
 * @module
 */

import { SchemaVersionError } from "./errors.ts";

/** One numbered migration file. */
export interface Migration {
  /** The file's number: 1, 2, 3 … with no gaps. */
  version: number;
  /** The file name without number and extension, e.g. `"conversations"`. */
  name: string;
  /** The file's SQL text (see {@linkcode splitStatements} for engines that run one statement at a time). */
  sql: string;
}

/** What the runner needs from one engine's database. */
export interface MigrationTarget {
  /**
   * Runs `fn` while no other process can migrate the same database (a lock, or one write transaction around
   * the whole run); the runner reads the version inside it, so two servers starting at once migrate once.
   */
  exclusive<T>(fn: () => Promise<T>): Promise<T>;
  /** The highest version recorded in `schema_version`, or `null` when that table does not exist. */
  readVersion(): Promise<number | null>;
  /** Whether the first release's tables exist (a released database that predates `schema_version`). */
  hasReleasedSchema(): Promise<boolean>;
  /**
   * Runs the migration's statements and records its version in `schema_version` (creating that table when
   * missing), atomically where the engine allows.
   */
  apply(migration: Migration): Promise<void>;
  /** Records `migration` as applied without running it: the baseline of a released database. */
  recordBaseline(migration: Migration): Promise<void>;
}

/** What {@linkcode runMigrations} did. */
export interface MigrationResult {
  /** The version the database had (0: empty; 1 for a released database without `schema_version`). */
  from: number;
  /** The version it has now. */
  to: number;
  /** The versions applied by this run, in order (empty when the database was current). */
  applied: number[];
}

/**
 * The tables of the first release (`sql/<engine>/001_initial.sql`). A database that has all of them but no
 * `schema_version` was made by that release: it is version 1.
 *
 * @example
 * ```ts
 * RELEASED_TABLES.includes("offlinemessage"); // true
 * ```
 */
export const RELEASED_TABLES: readonly string[] = [
  "user",
  "friend",
  "allgroup",
  "groupuser",
  "offlinemessage",
];

const FILE_NAME = /^(\d{3})_([a-z0-9_]+)\.sql$/;

/**
 * The migration files of `engine` (`sql/<engine>/`), ordered by version. Throws when a `.sql` file is misnamed
 * or the numbers do not run 1, 2, 3 … without gaps or repeats: a broken release must not start.
 *
 * @example
 * ```ts
 * const migrations = await loadMigrations("sqlite");
 * migrations[0].name; // "initial"
 * ```
 */
export async function loadMigrations(engine: string, sqlDir?: URL): Promise<Migration[]> {
  const dir = new URL(`${engine}/`, sqlDir ?? new URL("../../sql/", import.meta.url));
  const migrations: Migration[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.isFile || !entry.name.endsWith(".sql")) continue;
    const match = FILE_NAME.exec(entry.name);
    if (!match) {
      throw new Error(`migration file ${dir.pathname}${entry.name} is not named NNN_name.sql`);
    }
    const sql = await Deno.readTextFile(new URL(entry.name, dir));
    migrations.push({ version: Number(match[1]), name: match[2], sql });
  }
  migrations.sort((a, b) => a.version - b.version);
  checkSequence(migrations, dir.pathname);
  return migrations;
}

function checkSequence(migrations: readonly Migration[], where: string): void {
  if (migrations.length === 0) throw new Error(`no migration files in ${where}`);
  migrations.forEach((migration, i) => {
    if (migration.version !== i + 1) {
      throw new Error(
        `migrations in ${where} must be numbered 1, 2, 3 … without gaps or repeats: ` +
          `expected ${i + 1}, found ${migration.version} (${migration.name})`,
      );
    }
  });
}

/**
 * Brings the database to the newest of `migrations` (as {@linkcode loadMigrations} returns them): each
 * missing version runs once, in order. Rejects with {@linkcode SchemaVersionError} when the database is newer.
 *
 * @example
 * ```ts
 * declare const target: MigrationTarget;
 * const result = await runMigrations(target, await loadMigrations("sqlite"));
 * result.applied; // [2] for a database of the first release
 * ```
 */
export function runMigrations(
  target: MigrationTarget,
  migrations: readonly Migration[],
): Promise<MigrationResult> {
  checkSequence(migrations, "the list given");
  const newest = migrations.length;
  return target.exclusive(async () => {
    const recorded = await target.readVersion();
    let from = recorded ?? 0;
    if (recorded === null && await target.hasReleasedSchema()) {
      // The first release created its tables without recording a version: they are version 1.
      await target.recordBaseline(migrations[0]);
      from = 1;
    }
    if (from > newest) throw new SchemaVersionError(from, newest);
    const applied: number[] = [];
    for (const migration of migrations.slice(from)) {
      await target.apply(migration);
      applied.push(migration.version);
    }
    return { from, to: newest, applied };
  });
}

/**
 * The statements of a SQL file, for engines whose driver runs one at a time: split at `;` outside quotes and
 * comments (a quote inside quotes is doubled), comments dropped, empty statements skipped.
 *
 * @example
 * ```ts
 * splitStatements("CREATE TABLE a (x INT); -- a; comment\nINSERT INTO a VALUES (';');");
 * // ["CREATE TABLE a (x INT)", "INSERT INTO a VALUES (';')"]
 * ```
 */
export function splitStatements(sql: string): string[] {
  const statements: string[] = [];
  let current = "";
  let i = 0;
  const flush = () => {
    const statement = current.trim();
    if (statement) statements.push(statement);
    current = "";
  };
  while (i < sql.length) {
    const char = sql[i];
    if (char === "-" && sql[i + 1] === "-") {
      const end = sql.indexOf("\n", i);
      i = end === -1 ? sql.length : end;
    } else if (char === "/" && sql[i + 1] === "*") {
      const end = sql.indexOf("*/", i + 2);
      if (end === -1) throw new SyntaxError("unterminated /* comment in SQL");
      current += " ";
      i = end + 2;
    } else if (char === "'" || char === '"' || char === "`") {
      const end = quotedEnd(sql, i);
      current += sql.slice(i, end);
      i = end;
    } else if (char === ";") {
      flush();
      i++;
    } else {
      current += char;
      i++;
    }
  }
  flush();
  return statements;
}

/**
 * The index just past the quoted text starting at `start`. A quote inside is written doubled (`'it''s'`), the
 * one escape that SQLite and MySQL share; migration files use no backslash escapes.
 */
function quotedEnd(sql: string, start: number): number {
  const quote = sql[start];
  let i = start + 1;
  while (i < sql.length) {
    if (sql[i] !== quote) i++;
    else if (sql[i + 1] === quote) i += 2;
    else return i + 1;
  }
  throw new SyntaxError(`unterminated ${quote} quote in SQL`);
}
