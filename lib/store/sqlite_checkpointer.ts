/**
 * Checkpoints off the event loop: a worker thread with its own connection to the database file copies the
 * WAL into the database while the main connection keeps committing (`sqlite_checkpoint_worker.ts`).
 *
 * Why: with synchronous = NORMAL a commit only writes to the WAL; the fsyncs happen at checkpoints, and
 * SQLite runs those inside the commit that crosses `wal_autocheckpoint` pages, on the event loop. Measured on
 * the chat append path (batches of 50 messages over 100 conversations, 2-vCPU host): 31 µs of main thread per
 * message with the default 1000-page automatic checkpoints, 19 µs with no checkpoints at all; the fsyncs were
 * the difference.
 *
 * Why the main connection still checkpoints now and then: SQLite starts the WAL file over only when a
 * transaction begins while the whole WAL is in the database. A checkpoint in another thread almost never
 * catches up with a writer that commits without pause, so the WAL would grow for ever (measured: past 1 GB).
 * The main connection keeps automatic checkpoints, at {@linkcode CHECKPOINT_PAGES} rather than 1000: when
 * it crosses them, the worker has already copied all but its last few milliseconds of commits, so the main
 * connection's checkpoint copies and fsyncs little, and the next transaction restarts the WAL.
 *
 * @module
 */

import {
  type CheckpointCommand,
  type CheckpointReport,
  checkpointWorker,
} from "./sqlite_checkpoint_worker.ts";
import type { SqliteConnection } from "./sqlite_connection.ts";

/**
 * The main connection's `wal_autocheckpoint` while the worker runs: the WAL restarts about every this many
 * pages (4 KiB each). Measured on the append path with the worker: 1000 (SQLite's default) left 24 µs of main
 * thread per message (the main connection still checkpointed about as often as without the worker), 4000 left
 * 20 µs, 10,000 no better than 4000 for a WAL of 40 MB. While the worker holds the checkpoint lock the main
 * connection's attempts are skipped, so the WAL may pass this by the commits of one worker checkpoint.
 */
export const CHECKPOINT_PAGES = 4000;

/**
 * How many WAL frames the worker lets the main connection write between two checkpoints, at the rate it
 * writes: each checkpoint that catches up makes the next commit start the WAL over and fsync its new header
 * on the event loop, so fewer checkpoints mean fewer of those stalls. Light chat (1–2 frames per ms) then waits
 * 125–250 ms between checkpoints (about 4 header fsyncs a second on the main thread instead of 20); a
 * flat-out writer (pingpong, about 25 frames per ms) stays at the 10 ms floor, as before. Measured: 1000
 * made pingpong 0.87x, because checkpoints that copy more catch up less often, and the main connection's own
 * (at {@linkcode CHECKPOINT_PAGES}, on the event loop) came back.
 */
export const FRAMES_PER_CHECKPOINT = 250;

/** SQLite's own `wal_autocheckpoint`: what the main connection goes back to when the worker fails. */
export const SQLITE_CHECKPOINT_PAGES = 1000;

/** Options for {@linkcode SqliteCheckpointer.start}. */
export interface SqliteCheckpointerOptions {
  /** Shortest wait between the worker's checkpoints while the WAL grows, in ms. Defaults to 10. */
  minDelayMs?: number;
  /** Longest wait between the worker's checkpoints (an idle database), in ms. Defaults to 1000. */
  maxDelayMs?: number;
  /**
   * WAL frames the writer may add between two of the worker's checkpoints (see `sqlite_checkpoint_worker.ts`
   * for why they are paced). Defaults to {@linkcode FRAMES_PER_CHECKPOINT}.
   */
  framesPerCheckpoint?: number;
  /**
   * Called once when the worker stops checkpointing because of `error` (it cannot open the file, a checkpoint
   * failed). The main connection should then go back to checkpointing alone.
   */
  onFailure?(error: Error): void;
  /**
   * Called after each of the worker's checkpoints that found the WAL changed: it holds `log` frames, of which
   * `checkpointed` are in the database file. Costs a message between threads per checkpoint, so only when
   * given.
   */
  onCheckpoint?(log: number, checkpointed: number): void;
}

/** The worker's source: its program ({@linkcode checkpointWorker}) run on `node:sqlite`. */
const WORKER_SOURCE = `import { DatabaseSync } from "node:sqlite";
(${checkpointWorker.toString()})(self, (path) => new DatabaseSync(path, { timeout: 0 }));
`;

/**
 * The worker thread that checkpoints one database file.
 *
 * @example
 * ```ts
 * const dir = await Deno.makeTempDir();
 * const checkpointer = SqliteCheckpointer.start(`${dir}/chat.db`, {
 *   onFailure: (error) => console.error("checkpoints back on the main connection:", error.message),
 * });
 * await checkpointer.close();
 * ```
 */
export class SqliteCheckpointer {
  readonly #worker: Worker;
  readonly #onFailure: (error: Error) => void;
  readonly #onCheckpoint: ((log: number, checkpointed: number) => void) | undefined;
  /** Set once the worker has ended (stopped or failed): close() then has nothing to wait for. */
  #ended = false;
  #closed: Promise<void> | undefined;
  #stopped = Promise.withResolvers<void>();

  private constructor(worker: Worker, options: SqliteCheckpointerOptions) {
    this.#worker = worker;
    this.#onFailure = options.onFailure ?? (() => {});
    this.#onCheckpoint = options.onCheckpoint;
  }

  /** Starts checkpointing the database at `path` (a file in WAL mode) in a new worker thread. */
  static start(path: string, options: SqliteCheckpointerOptions = {}): SqliteCheckpointer {
    const minDelayMs = options.minDelayMs ?? 10;
    const maxDelayMs = options.maxDelayMs ?? 1000;
    const framesPerCheckpoint = options.framesPerCheckpoint ?? FRAMES_PER_CHECKPOINT;
    for (
      const [name, value] of [
        ["minDelayMs", minDelayMs],
        ["maxDelayMs", maxDelayMs],
        ["framesPerCheckpoint", framesPerCheckpoint],
      ] as const
    ) {
      if (!Number.isSafeInteger(value) || value < 1) {
        throw new RangeError(`${name} must be a positive integer, got ${String(value)}`);
      }
    }
    if (maxDelayMs < minDelayMs) {
      throw new RangeError(`maxDelayMs (${maxDelayMs}) must not be below minDelayMs (${minDelayMs})`);
    }
    const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "text/javascript" }));
    let worker: Worker;
    try {
      worker = new Worker(url, { type: "module", name: "sqlite-checkpointer" });
    } finally {
      URL.revokeObjectURL(url);
    }
    const checkpointer = new SqliteCheckpointer(worker, options);
    worker.onmessage = (event: MessageEvent<CheckpointReport>) => checkpointer.#report(event.data);
    worker.onerror = (event) => {
      // An error the worker's program did not catch (it catches the database's): the same as a failure.
      event.preventDefault();
      checkpointer.#report({ type: "failed", message: event.message });
    };
    checkpointer.#send({
      type: "start",
      path,
      minDelayMs,
      maxDelayMs,
      framesPerCheckpoint,
      report: options.onCheckpoint !== undefined,
    });
    return checkpointer;
  }

  /** Whether the worker still checkpoints (false once it failed or was closed). */
  get running(): boolean {
    return !this.#ended;
  }

  #send(command: CheckpointCommand): void {
    this.#worker.postMessage(command);
  }

  #report(report: CheckpointReport): void {
    if (this.#ended) return;
    if (report.type === "checkpointed") {
      this.#onCheckpoint?.(report.log, report.checkpointed);
      return;
    }
    this.#ended = true;
    this.#worker.terminate();
    this.#stopped.resolve();
    if (report.type === "failed") {
      this.#onFailure(new Error(`background checkpoints stopped: ${report.message}`));
    }
  }

  /**
   * Closes the worker's connection (after the checkpoint it may be running) and ends the worker; idempotent.
   * Close it before the main connection, so that the main connection is the last one and SQLite checkpoints
   * and removes the WAL as it closes.
   */
  close(): Promise<void> {
    this.#closed ??= this.#ended ? Promise.resolve() : (this.#send({ type: "stop" }), this.#stopped.promise);
    return this.#closed;
  }
}

/**
 * Starts a {@linkcode SqliteCheckpointer} for the file `path` that `connection` has open, and sets the
 * connection's automatic checkpoints to {@linkcode CHECKPOINT_PAGES}; should the worker fail, back to
 * {@linkcode SQLITE_CHECKPOINT_PAGES} (then `options.onFailure` is called).
 *
 * @example
 * ```ts
 * import { SqliteConnection } from "./sqlite_connection.ts";
 *
 * const path = `${await Deno.makeTempDir()}/chat.db`;
 * const connection = SqliteConnection.open(path, { busyTimeoutMs: 5000, synchronous: "normal" });
 * const checkpointer = checkpointInBackground(connection, path);
 * await checkpointer.close();
 * connection.close();
 * ```
 */
export function checkpointInBackground(
  connection: SqliteConnection,
  path: string,
  options: SqliteCheckpointerOptions = {},
): SqliteCheckpointer {
  const checkpointer = SqliteCheckpointer.start(path, {
    ...options,
    onFailure: (error) => {
      connection.setAutoCheckpoint(SQLITE_CHECKPOINT_PAGES);
      options.onFailure?.(error);
    },
  });
  connection.setAutoCheckpoint(CHECKPOINT_PAGES);
  return checkpointer;
}
