/**
 * What runs inside the checkpoint worker (`sqlite_checkpointer.ts` starts it): a second connection to the
 * database that copies the WAL's pages into the database file (PASSIVE checkpoints) on its own thread, so
 * that the copies and their two fsyncs no longer stall the event loop at a commit.
 *
 * Why the checkpoints are paced by the WAL's growth (about `framesPerCheckpoint` new frames between two)
 * rather than run every few milliseconds: each time a checkpoint has copied the whole WAL, the next commit
 * on the main connection starts the WAL over, and SQLite then writes a new WAL header and fsyncs it inside
 * that commit, on the event loop (so that a power cut cannot replay old frames under the new ones). Measured
 * during light chat (`idle` bench, 100 pairs at 10 msg/s each, checkpoints every 10 ms): about 20 such
 * fsyncs a second on the main thread, each a stall as long as the disk makes it. Fewer, larger checkpoints
 * start the WAL over less often.
 *
 * {@linkcode checkpointWorker} is the worker's whole program. It refers to nothing outside its parameters, so
 * that its source text can run as a worker of its own (`sqlite_checkpointer.ts` builds it from
 * `checkpointWorker.toString()`: a worker from a module file would need read permission for the server's
 * code, which the server is not given).
 *
 * @module
 */

/** What the worker needs of `node:sqlite`'s `DatabaseSync` (a parameter, so tests can hand it a fake). */
export interface CheckpointDatabase {
  exec(sql: string): void;
  prepare(sql: string): { get(): unknown };
  close(): void;
}

/** Commands from the main thread. */
export type CheckpointCommand =
  | {
    type: "start";
    path: string;
    /** Shortest wait between checkpoints while the WAL grows, in ms. */
    minDelayMs: number;
    /** Wait between checkpoints at most, in ms: an idle database costs one cheap check per this. */
    maxDelayMs: number;
    /**
     * WAL frames (pages) to let the writer add between two checkpoints: the wait is this over the rate the
     * WAL grew at, within `minDelayMs` and `maxDelayMs`.
     */
    framesPerCheckpoint: number;
    /** Whether to report each checkpoint that found new frames ("checkpointed"). */
    report: boolean;
  }
  | { type: "stop" };

/** Reports to the main thread. */
export type CheckpointReport =
  /** The connection is closed; the worker does nothing more. */
  | { type: "stopped" }
  /** A checkpoint found new frames: the WAL holds `log` frames, `checkpointed` of them in the database. */
  | { type: "checkpointed"; log: number; checkpointed: number }
  /** Opening or checkpointing failed; the connection is closed and the worker does nothing more. */
  | { type: "failed"; message: string };

/** The part of a worker's global scope that {@linkcode checkpointWorker} uses (tests pass a fake clock). */
export interface CheckpointWorkerScope {
  onmessage: ((event: MessageEvent<CheckpointCommand>) => void) | null;
  postMessage(report: CheckpointReport): void;
  setTimeout(fn: () => void, ms: number): number;
  clearTimeout(id: number | undefined): void;
  performance: { now(): number };
}

/**
 * The worker's program: on "start", opens `path` with `open` and runs a PASSIVE checkpoint about every
 * `framesPerCheckpoint` new WAL frames while the WAL grows (the wait computed from the rate it grew at since
 * the previous checkpoint, within `minDelayMs` and `maxDelayMs`), backing off to `maxDelayMs` (doubling)
 * while it does not (with `report`, each checkpoint after the WAL changed reports "checkpointed"); on
 * "stop", closes the connection and reports "stopped". A failure reports "failed" and ends the checkpoints: the main connection's
 * own automatic checkpoints go on without it.
 *
 * PASSIVE never waits for a lock and never blocks the writer: it copies what the WAL holds when it starts.
 * Like any checkpoint with synchronous NORMAL or FULL it fsyncs the WAL before copying and the database
 * after, and SQLite restarts the WAL only once all of it is in the database file: a power cut leaves the
 * database consistent, as before.
 *
 * @example
 * ```ts
 * import { DatabaseSync } from "node:sqlite";
 * import type { CheckpointWorkerScope } from "./sqlite_checkpoint_worker.ts";
 *
 * declare const scope: CheckpointWorkerScope; // the worker's `self`
 * checkpointWorker(scope, (path) => new DatabaseSync(path));
 * ```
 */
export function checkpointWorker(
  scope: CheckpointWorkerScope,
  open: (path: string) => CheckpointDatabase,
): void {
  let db: CheckpointDatabase | undefined;
  let timer: number | undefined;

  const close = () => {
    scope.clearTimeout(timer);
    timer = undefined;
    const open = db;
    db = undefined;
    try {
      open?.close();
    } catch {
      // Closing after a failure: the failure is what gets reported.
    }
  };
  const fail = (error: unknown) => {
    close();
    scope.postMessage({ type: "failed", message: error instanceof Error ? error.message : String(error) });
  };

  const start = (command: Extract<CheckpointCommand, { type: "start" }>) => {
    let checkpoint: { get(): unknown };
    try {
      db = open(command.path);
      // Never OFF: a checkpoint must fsync the WAL before it copies and the database before the WAL restarts.
      db.exec("PRAGMA synchronous = NORMAL");
      checkpoint = db.prepare("PRAGMA wal_checkpoint(PASSIVE)");
    } catch (error) {
      fail(error);
      return;
    }
    let lastLog = -1;
    let lastAt = scope.performance.now();
    let delay = command.minDelayMs;
    const tick = () => {
      timer = undefined;
      const at = scope.performance.now();
      let log: number;
      let checkpointed: number;
      try {
        const row = checkpoint.get() as { busy: number; log: number; checkpointed: number };
        log = Number(row.log);
        checkpointed = Number(row.checkpointed);
      } catch (error) {
        fail(error);
        return;
      }
      if (log < 0) {
        // The main connection was checkpointing (SQLite answers busy, log and checkpointed -1): try again
        // soon, the pace unchanged.
        timer = scope.setTimeout(tick, command.minDelayMs);
        return;
      }
      if (command.report && log !== lastLog) scope.postMessage({ type: "checkpointed", log, checkpointed });
      // `log` is the WAL's length in frames: it grows when a commit wrote, and falls when the WAL restarted
      // (after a checkpoint that had copied all of it: then `log` is what was written since).
      if (log === lastLog) {
        delay = Math.min(delay * 2, command.maxDelayMs);
      } else {
        // The rate can be understated: after the WAL started over, `log` misses what was written before (the
        // main connection's own checkpoint restarted it), and after an idle spell the wait was long. So more
        // than the target since the last checkpoint means check again soon, and the wait at most doubles.
        const grown = log > lastLog && lastLog >= 0 ? log - lastLog : log;
        const perMs = grown / Math.max(at - lastAt, 1);
        const wait = grown >= command.framesPerCheckpoint
          ? command.minDelayMs
          : perMs > 0
          ? Math.min(Math.round(command.framesPerCheckpoint / perMs), delay * 2)
          : delay * 2;
        delay = Math.min(Math.max(wait, command.minDelayMs), command.maxDelayMs);
      }
      lastLog = log;
      lastAt = at;
      timer = scope.setTimeout(tick, delay);
    };
    tick();
  };

  scope.onmessage = (event) => {
    const command = event.data;
    if (command.type === "start" && db === undefined) {
      start(command);
    } else if (command.type === "stop") {
      close();
      scope.postMessage({ type: "stopped" });
    }
  };
}
