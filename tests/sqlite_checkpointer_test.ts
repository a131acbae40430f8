import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import {
  CHECKPOINT_PAGES,
  checkpointInBackground,
  SQLITE_CHECKPOINT_PAGES,
  SqliteCheckpointer,
} from "../lib/store/sqlite_checkpointer.ts";
import {
  type CheckpointCommand,
  type CheckpointDatabase,
  type CheckpointReport,
  checkpointWorker,
  type CheckpointWorkerScope,
} from "../lib/store/sqlite_checkpoint_worker.ts";
import { SqliteConnection } from "../lib/store/sqlite_connection.ts";

/** Deno 2.9 leaves the sanitizers off by default; these tests own every worker, file and timer they use. */
const SANITIZED = { sanitizeOps: true, sanitizeResources: true };

/**
 * A worker scope that records what the program reports, lets the test send it commands, and keeps a fake
 * clock: a timer only runs when the test calls {@linkcode FakeScope.fire}.
 */
class FakeScope implements CheckpointWorkerScope {
  onmessage: ((event: MessageEvent<CheckpointCommand>) => void) | null = null;
  readonly reports: CheckpointReport[] = [];
  /** Every wait the program asked for, in order. */
  readonly delays: number[] = [];
  #now = 0;
  #timer: { id: number; fn: () => void; ms: number } | undefined;
  #nextId = 1;

  readonly performance = { now: () => this.#now };

  postMessage(report: CheckpointReport): void {
    this.reports.push(report);
  }

  setTimeout(fn: () => void, ms: number): number {
    assert.equal(this.#timer, undefined, "one timer at a time");
    this.delays.push(ms);
    this.#timer = { id: this.#nextId++, fn, ms };
    return this.#timer.id;
  }

  clearTimeout(id: number | undefined): void {
    if (this.#timer?.id === id) this.#timer = undefined;
  }

  send(command: CheckpointCommand): void {
    this.onmessage?.(new MessageEvent("message", { data: command }));
  }

  /** Moves the clock to the pending timer's time and runs it. */
  fire(): void {
    const timer = this.#timer;
    assert.ok(timer, "a timer is pending");
    this.#timer = undefined;
    this.#now += timer.ms;
    timer.fn();
  }
}

/** A database whose checkpoints answer `rows` in turn (an Error is thrown), recording what was run. */
class FakeDatabase implements CheckpointDatabase {
  readonly executed: string[] = [];
  checkpoints = 0;
  closed = false;

  constructor(private readonly rows: ({ log: number; checkpointed: number } | Error)[]) {}

  exec(sql: string): void {
    this.executed.push(sql);
  }

  prepare(sql: string): { get(): unknown } {
    assert.equal(sql, "PRAGMA wal_checkpoint(PASSIVE)");
    return {
      get: () => {
        const row = this.rows[Math.min(this.checkpoints++, this.rows.length - 1)];
        if (row instanceof Error) throw row;
        return row;
      },
    };
  }

  close(): void {
    this.closed = true;
  }
}

const START = {
  type: "start",
  path: "chat.db",
  minDelayMs: 10,
  maxDelayMs: 1000,
  framesPerCheckpoint: 1000,
} as const;

Deno.test(
  "checkpointWorker() checkpoints at start with synchronous NORMAL, reports it when asked, and stops on stop",
  SANITIZED,
  () => {
    const scope = new FakeScope();
    const db = new FakeDatabase([{ log: 12, checkpointed: 12 }]);
    const opened: string[] = [];
    checkpointWorker(scope, (path) => (opened.push(path), db));
    scope.send({ ...START, report: true });
    assert.deepEqual(opened, ["chat.db"]);
    assert.deepEqual(db.executed, ["PRAGMA synchronous = NORMAL"]);
    assert.equal(db.checkpoints, 1);
    assert.deepEqual(scope.reports, [{ type: "checkpointed", log: 12, checkpointed: 12 }]);
    scope.send({ type: "stop" });
    assert.ok(db.closed);
    assert.deepEqual(scope.reports.at(-1), { type: "stopped" });
  },
);

Deno.test("checkpointWorker() reports nothing per checkpoint unless asked", SANITIZED, () => {
  const scope = new FakeScope();
  const db = new FakeDatabase([{ log: 12, checkpointed: 12 }]);
  checkpointWorker(scope, () => db);
  scope.send({ ...START, report: false });
  assert.equal(db.checkpoints, 1);
  scope.send({ type: "stop" });
  assert.deepEqual(scope.reports, [{ type: "stopped" }]);
});

Deno.test(
  "checkpointWorker() waits for about framesPerCheckpoint new frames at the rate the WAL grew, the wait at most doubling",
  SANITIZED,
  () => {
    const scope = new FakeScope();
    const db = new FakeDatabase([
      { log: 100, checkpointed: 100 }, // at 0 ms: 100 frames "in 1 ms", a fast writer: the shortest wait
      { log: 600, checkpointed: 600 }, // at 10 ms: 500 frames in 10 ms, 50/ms: 1000 frames take 20 ms
      { log: 600, checkpointed: 600 }, // at 30 ms: no new frame: the wait doubles
      { log: 600, checkpointed: 600 }, // at 70 ms: and again
      { log: 50, checkpointed: 50 }, // at 150 ms: started over, 50 frames in 80 ms: 1.6 s, but at most twice 80
      { log: -1, checkpointed: -1 }, // at 310 ms: the main connection was checkpointing: soon again, pace kept
      { log: 2000, checkpointed: 2000 }, // at 320 ms: more than 1000 since the last: the shortest wait
      { log: 2100, checkpointed: 2100 }, // at 330 ms: 100 in 10 ms: 1000 take 100 ms, but at most twice 10
    ]);
    checkpointWorker(scope, () => db);
    scope.send({ ...START, report: false });
    for (let i = 0; i < 7; i++) scope.fire();
    assert.equal(db.checkpoints, 8);
    assert.deepEqual(scope.delays, [10, 20, 40, 80, 160, 10, 10, 20]);
    scope.send({ type: "stop" });
    assert.deepEqual(scope.reports, [{ type: "stopped" }]);
  },
);

Deno.test("checkpointWorker() reports failed when the database cannot be opened", SANITIZED, () => {
  const scope = new FakeScope();
  checkpointWorker(scope, () => {
    throw new Error("unable to open database file");
  });
  scope.send({ ...START, report: false });
  assert.deepEqual(scope.reports, [{ type: "failed", message: "unable to open database file" }]);
});

Deno.test(
  "checkpointWorker() reports failed and closes the database when a checkpoint throws",
  SANITIZED,
  () => {
    const scope = new FakeScope();
    const db = new FakeDatabase([new Error("disk I/O error")]);
    checkpointWorker(scope, () => db);
    scope.send({ ...START, report: true });
    assert.deepEqual(scope.reports, [{ type: "failed", message: "disk I/O error" }]);
    assert.ok(db.closed);
  },
);

Deno.test("SqliteCheckpointer.start() rejects delays that are not positive integers, or inverted", () => {
  assert.throws(() => SqliteCheckpointer.start("x.db", { minDelayMs: 0 }), RangeError);
  assert.throws(() => SqliteCheckpointer.start("x.db", { maxDelayMs: 1.5 }), RangeError);
  assert.throws(
    () => SqliteCheckpointer.start("x.db", { minDelayMs: 50, maxDelayMs: 20 }),
    /maxDelayMs \(20\)/,
  );
  assert.throws(() => SqliteCheckpointer.start("x.db", { framesPerCheckpoint: 0 }), /framesPerCheckpoint/);
});

/** Runs `fn` with a fresh temporary directory, removed afterwards whatever happens. */
async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "sqlite_checkpointer_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test(
  "SqliteCheckpointer copies the WAL that another connection wrote into the database file",
  SANITIZED,
  async () => {
    await withTempDir(async (dir) => {
      const path = `${dir}/chat.db`;
      const writer = new DatabaseSync(path);
      try {
        // The writer never checkpoints itself: only the worker can move its pages into the file.
        writer.exec("PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0; CREATE TABLE t (v TEXT)");
        const insert = writer.prepare("INSERT INTO t (v) VALUES (?)");
        for (let i = 0; i < 100; i++) insert.run("x".repeat(1000));
        const sizeBefore = (await Deno.stat(path)).size;
        const caughtUp = Promise.withResolvers<{ log: number; checkpointed: number }>();
        const checkpointer = SqliteCheckpointer.start(path, {
          onCheckpoint: (log, checkpointed) => {
            if (log > 0 && checkpointed === log) caughtUp.resolve({ log, checkpointed });
          },
          onFailure: caughtUp.reject,
        });
        try {
          const { log } = await caughtUp.promise;
          assert.ok(log > 25, `the WAL held the writes: ${log} frames`);
          assert.ok((await Deno.stat(path)).size > sizeBefore + 100_000, "the rows are in the database file");
          assert.ok(checkpointer.running);
        } finally {
          await checkpointer.close();
        }
        assert.equal(checkpointer.running, false);
        await checkpointer.close(); // idempotent
      } finally {
        writer.close();
      }
    });
  },
);

Deno.test(
  "checkpointInBackground() raises the connection's automatic checkpoints, and puts them back when the worker fails",
  SANITIZED,
  async () => {
    await withTempDir(async (dir) => {
      const connection = SqliteConnection.open(`${dir}/chat.db`, {
        busyTimeoutMs: 1000,
        synchronous: "normal",
      });
      const autoCheckpoint = () =>
        Number(connection.statement("PRAGMA wal_autocheckpoint").get()?.wal_autocheckpoint);
      try {
        const failed = Promise.withResolvers<Error>();
        // A directory that does not exist: the worker cannot open the file there.
        const checkpointer = checkpointInBackground(connection, `${dir}/missing/chat.db`, {
          onFailure: failed.resolve,
        });
        assert.equal(autoCheckpoint(), CHECKPOINT_PAGES);
        const error = await failed.promise;
        assert.match(error.message, /^background checkpoints stopped: .*unable to open/);
        assert.equal(autoCheckpoint(), SQLITE_CHECKPOINT_PAGES);
        assert.equal(checkpointer.running, false);
        await checkpointer.close(); // nothing left to stop
      } finally {
        connection.close();
      }
    });
  },
);
