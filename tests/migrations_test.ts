/**
 * The engine-neutral migration runner (lib/store/migrations.ts) against an in-memory fake target; the
 * engines' own targets are tested on real databases (tests/migrations_sqlite_test.ts, the MySQL one).
 */

import assert from "node:assert/strict";
import { SchemaVersionError } from "../lib/store/errors.ts";
import {
  loadMigrations,
  type Migration,
  type MigrationTarget,
  runMigrations,
  splitStatements,
} from "../lib/store/migrations.ts";

const SANITIZED = { sanitizeOps: true, sanitizeResources: true };

function migrations(count: number): Migration[] {
  return Array.from({ length: count }, (_, i) => ({ version: i + 1, name: `m${i + 1}`, sql: `-- ${i + 1}` }));
}

/** A database as the runner sees it, recording every call. */
class FakeTarget implements MigrationTarget {
  version: number | null;
  released: boolean;
  failOn: number | null = null;
  readonly calls: string[] = [];

  constructor(version: number | null, released = false) {
    this.version = version;
    this.released = released;
  }

  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    this.calls.push("lock");
    try {
      return await fn();
    } finally {
      this.calls.push("unlock");
    }
  }

  readVersion(): Promise<number | null> {
    this.calls.push("readVersion");
    return Promise.resolve(this.version);
  }

  hasReleasedSchema(): Promise<boolean> {
    this.calls.push("hasReleasedSchema");
    return Promise.resolve(this.released);
  }

  apply(migration: Migration): Promise<void> {
    if (migration.version === this.failOn) {
      return Promise.reject(new Error(`migration ${migration.version} failed`));
    }
    this.calls.push(`apply ${migration.version}`);
    this.version = migration.version;
    return Promise.resolve();
  }

  recordBaseline(migration: Migration): Promise<void> {
    this.calls.push(`baseline ${migration.version}`);
    this.version = migration.version;
    return Promise.resolve();
  }
}

Deno.test(
  "runMigrations() applies every migration in order to an empty database, holding the lock",
  SANITIZED,
  async () => {
    const target = new FakeTarget(null);
    assert.deepEqual(await runMigrations(target, migrations(3)), { from: 0, to: 3, applied: [1, 2, 3] });
    assert.deepEqual(target.calls, [
      "lock",
      "readVersion",
      "hasReleasedSchema",
      "apply 1",
      "apply 2",
      "apply 3",
      "unlock",
    ]);
  },
);

Deno.test(
  "runMigrations() counts a released database without schema_version as version 1",
  SANITIZED,
  async () => {
    const target = new FakeTarget(null, true);
    assert.deepEqual(await runMigrations(target, migrations(3)), { from: 1, to: 3, applied: [2, 3] });
    assert.deepEqual(target.calls, [
      "lock",
      "readVersion",
      "hasReleasedSchema",
      "baseline 1",
      "apply 2",
      "apply 3",
      "unlock",
    ]);
  },
);

Deno.test("runMigrations() applies only the versions a database lacks", SANITIZED, async () => {
  const target = new FakeTarget(2);
  assert.deepEqual(await runMigrations(target, migrations(4)), { from: 2, to: 4, applied: [3, 4] });
  assert.ok(!target.calls.includes("hasReleasedSchema"), "a recorded version is trusted");
});

Deno.test("runMigrations() of a current database applies nothing", SANITIZED, async () => {
  const target = new FakeTarget(3);
  assert.deepEqual(await runMigrations(target, migrations(3)), { from: 3, to: 3, applied: [] });
  assert.deepEqual(target.calls, ["lock", "readVersion", "unlock"]);
});

Deno.test(
  "runMigrations() refuses a newer database with SchemaVersionError naming both versions",
  SANITIZED,
  async () => {
    const target = new FakeTarget(5);
    await assert.rejects(runMigrations(target, migrations(3)), (error: unknown) => {
      assert.ok(error instanceof SchemaVersionError);
      assert.equal(error.databaseVersion, 5);
      assert.equal(error.codeVersion, 3);
      assert.match(error.message, /schema version 5.*version 3/);
      return true;
    });
    assert.deepEqual(target.calls, ["lock", "readVersion", "unlock"], "nothing applied, the lock released");
  },
);

Deno.test("runMigrations() stops at a failing migration and rejects with its error", SANITIZED, async () => {
  const target = new FakeTarget(1);
  target.failOn = 3;
  await assert.rejects(runMigrations(target, migrations(4)), /migration 3 failed/);
  assert.deepEqual(target.calls, ["lock", "readVersion", "apply 2", "unlock"]);
  assert.equal(target.version, 2);
});

Deno.test(
  "runMigrations() refuses a list that is not numbered 1, 2, 3 … before touching the database",
  SANITIZED,
  async () => {
    for (
      const list of [
        [],
        [{ version: 1, name: "a", sql: "" }, { version: 3, name: "c", sql: "" }],
        [{ version: 1, name: "a", sql: "" }, { version: 1, name: "b", sql: "" }],
        [{ version: 2, name: "b", sql: "" }],
      ]
    ) {
      const target = new FakeTarget(null);
      await assert.rejects(runMigrations(target, list), Error);
      assert.deepEqual(target.calls, [], JSON.stringify(list));
    }
  },
);

/** Runs `fn` with a temporary `sql/` folder holding `files` under `engine/`. */
async function withSqlDir(files: Record<string, string>, fn: (dir: URL) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "migrations_test_" });
  try {
    await Deno.mkdir(`${root}/engine`);
    for (const [name, text] of Object.entries(files)) {
      await Deno.writeTextFile(`${root}/engine/${name}`, text);
    }
    await fn(new URL(`file://${root}/`));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test(
  "loadMigrations() reads NNN_name.sql files in version order and ignores other files",
  SANITIZED,
  async () => {
    await withSqlDir(
      { "002_second.sql": "two", "001_first.sql": "one", "README.md": "notes", "010_x.sql.bak": "old" },
      async (dir) => {
        assert.deepEqual(await loadMigrations("engine", dir), [
          { version: 1, name: "first", sql: "one" },
          { version: 2, name: "second", sql: "two" },
        ]);
      },
    );
  },
);

Deno.test("loadMigrations() rejects a misnamed file, a gap and a repeated number", SANITIZED, async () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ "001_first.sql": "", "2_second.sql": "" }, /2_second\.sql is not named NNN_name\.sql/],
    [{ "001_first.sql": "", "003_third.sql": "" }, /expected 2, found 3/],
    [{ "001_first.sql": "", "001_again.sql": "" }, /expected 2, found 1/],
    [{}, /no migration files/],
  ];
  for (const [files, message] of cases) {
    await withSqlDir(files, async (dir) => {
      await assert.rejects(loadMigrations("engine", dir), message);
    });
  }
});

Deno.test("loadMigrations() finds the shipped SQLite migrations", SANITIZED, async () => {
  const shipped = await loadMigrations("sqlite");
  assert.deepEqual(shipped.map((m) => [m.version, m.name]), [
    [1, "initial"],
    [2, "conversations"],
    [3, "social"],
    [4, "sent_seqs"],
  ]);
});

Deno.test("splitStatements() splits at semicolons outside quotes and comments", SANITIZED, () => {
  const sql = `-- a comment; with a semicolon
CREATE TABLE a (x TEXT DEFAULT 'a;b', "odd;name" INT); /* block; comment */
INSERT INTO a VALUES ('it''s; fine');;
  -- trailing comment only
SELECT \`x;y\` FROM a`;
  assert.deepEqual(splitStatements(sql), [
    `CREATE TABLE a (x TEXT DEFAULT 'a;b', "odd;name" INT)`,
    "INSERT INTO a VALUES ('it''s; fine')",
    "SELECT `x;y` FROM a",
  ]);
  assert.deepEqual(splitStatements("  -- nothing\n ; ;"), []);
});

Deno.test("splitStatements() rejects an unterminated quote or comment with SyntaxError", SANITIZED, () => {
  assert.throws(() => splitStatements("SELECT 'open"), SyntaxError);
  assert.throws(() => splitStatements("SELECT 1 /* open"), SyntaxError);
});
