/**
 * The embedded store: {@linkcode Store} over `node:sqlite`, the default when no MySQL URL is configured.
 *
 * This file opens, migrates, pings and closes the store; `composed_store.ts` routes the other methods to
 * the table groups. The plumbing (the connection, its statement cache, transactions, what counts
 * as unavailable) is in `sqlite_connection.ts`, the worker thread that checkpoints the WAL off the event loop
 * in `sqlite_checkpointer.ts`, the schema's versions in `sqlite_migrations.ts`, and each
 * table group's statements in `sqlite_users.ts`, `sqlite_friends.ts` (with `sqlite_blocks.ts`),
 * `sqlite_groups.ts` (with `sqlite_group_members.ts` and `sqlite_group_roles.ts`), `sqlite_messages.ts`,
 * `sqlite_devices.ts` and `sqlite_offline.ts`.
 *
 * @module
 */

import { ComposedStore } from "./composed_store.ts";
import { checkpointInBackground, type SqliteCheckpointer } from "./sqlite_checkpointer.ts";
import { SqliteConnection, type SqliteSync } from "./sqlite_connection.ts";
import { SqliteDevices } from "./sqlite_devices.ts";
import { SqliteFriends } from "./sqlite_friends.ts";
import { SqliteGroups } from "./sqlite_groups.ts";
import { SqliteMessages } from "./sqlite_messages.ts";
import { migrateSqlite } from "./sqlite_migrations.ts";
import { SqliteOffline } from "./sqlite_offline.ts";
import { SqliteUsers } from "./sqlite_users.ts";
import type { Store } from "./store.ts";

/** Options for {@linkcode SqliteStore.open}. */
export interface SqliteStoreOptions {
  /**
   * How long a statement waits for another connection's lock before failing with
   * {@linkcode StoreUnavailableError}, in ms. Defaults to 5000.
   */
  busyTimeoutMs?: number;
  /**
   * `"normal"` (the default) makes a commit durable against the process dying, `"full"` against a power cut
   * too, at the price of an fsync per commit that stalls the event loop (see `sqlite_connection.ts`).
   */
  synchronous?: SqliteSync;
  /**
   * Whether a worker thread checkpoints the WAL (`sqlite_checkpointer.ts`), so that commits on the event loop
   * rarely do. Defaults to true; ignored for `":memory:"`.
   */
  backgroundCheckpoints?: boolean;
  /**
   * Called when the background checkpoints stop because of `error`; the store goes on, its own commits
   * checkpointing every 1000 pages (SQLite's default) as without them.
   */
  onCheckpointFailure?(error: Error): void;
}

const DEFAULT_BUSY_TIMEOUT_MS = 5000;

/** SQLite's embedded implementation of {@linkcode Store}. */
export class SqliteStore extends ComposedStore implements Store {
  readonly #db: SqliteConnection;
  readonly #users: SqliteUsers;
  readonly #checkpointer: SqliteCheckpointer | null;
  #closed: Promise<void> | undefined;

  private constructor(connection: SqliteConnection, checkpointer: SqliteCheckpointer | null) {
    const users = new SqliteUsers(connection);
    super({
      users,
      friends: new SqliteFriends(connection),
      groups: new SqliteGroups(connection),
      messages: new SqliteMessages(connection),
      devices: new SqliteDevices(connection),
      offline: new SqliteOffline(connection),
    });
    this.#db = connection;
    this.#users = users;
    this.#checkpointer = checkpointer;
  }

  /**
   * Opens (or creates) the database at `path`; `":memory:"` gives a private in-memory database. The parent
   * directory of a file path is created when missing. Call {@linkcode SqliteStore.migrate} before use.
   *
   * Missing Deno permissions surface as `Deno.errors.NotCapable`, whose message names the flag to add; any
   * other failure to open throws {@linkcode StoreUnavailableError}.
   *
   * @example
   * ```ts
   * await using store = SqliteStore.open(":memory:");
   * await store.migrate();
   * const id = await store.createUser("alice", "scrypt$...");
   * ```
   */
  static open(path: string, options: SqliteStoreOptions = {}): SqliteStore {
    const busyTimeoutMs = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
    if (!Number.isSafeInteger(busyTimeoutMs) || busyTimeoutMs < 0) {
      throw new RangeError(`busyTimeoutMs must be a non-negative integer, got ${String(busyTimeoutMs)}`);
    }
    const synchronous = options.synchronous ?? "normal";
    if (synchronous !== "normal" && synchronous !== "full") {
      throw new RangeError(`synchronous must be "normal" or "full", got ${JSON.stringify(synchronous)}`);
    }
    const connection = SqliteConnection.open(path, { busyTimeoutMs, synchronous });
    if (path === ":memory:" || options.backgroundCheckpoints === false) {
      return new SqliteStore(connection, null);
    }
    try {
      return new SqliteStore(
        connection,
        checkpointInBackground(connection, path, { onFailure: options.onCheckpointFailure }),
      );
    } catch (error) {
      connection.close();
      throw error;
    }
  }

  /** Whether a worker thread checkpoints the WAL (false for `":memory:"`, once it failed, or once closed). */
  get backgroundCheckpoints(): boolean {
    return this.#checkpointer?.running ?? false;
  }

  /**
   * Brings the database to the newest schema version (`sql/sqlite/NNN_name.sql`), each missing version once,
   * all in one transaction; never drops data. A database of the first release counts as version 1. Rejects
   * with {@linkcode SchemaVersionError} when the database is newer than this code.
   */
  async migrate(): Promise<void> {
    await this.#db.runAsync(() => migrateSqlite(this.#db));
  }

  /** Runs a trivial query; rejects with {@linkcode StoreUnavailableError} when closed or unusable. */
  ping(): Promise<void> {
    return this.#db.run(() => {
      this.#db.statement("SELECT 1").get();
    });
  }

  /** Closes the database; idempotent. Later calls reject with {@linkcode StoreUnavailableError}. */
  close(): Promise<void> {
    // The checkpointer's connection first: the main connection, closing last, checkpoints and removes the WAL.
    this.#closed ??= (async () => {
      // Presence copies still waiting for their batch are written while the connection is open.
      this.#users.flushStates();
      try {
        await this.#checkpointer?.close();
      } finally {
        this.#db.close();
      }
    })();
    return this.#closed;
  }
}
