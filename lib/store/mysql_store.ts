/**
 * The cluster store: {@linkcode Store} over MySQL or MariaDB through our own connection {@linkcode Pool} of
 * single `mysql2` connections.
 *
 * This file opens, migrates, pings and closes the store; `composed_store.ts` routes the other methods to
 * the table groups. The plumbing (deadlines, transactions and their retries, what counts as unavailable,
 * batched id lists) is in `mysql_connections.ts`, the versioned migrations in `mysql_migrations.ts`, and each
 * table group's statements in `mysql_users.ts`, `mysql_friends.ts` (with `mysql_friend_requests.ts`,
 * `mysql_blocks.ts` and the pair lock of `mysql_user_pair.ts`), `mysql_groups.ts` (with
 * `mysql_group_changes.ts` and `mysql_group_rows.ts`), `mysql_append.ts` (storing messages),
 * `mysql_messages.ts`, `mysql_devices.ts` and `mysql_offline.ts`.
 *
 * @module
 */

import { Pool, type PoolOptions } from "../db/pool.ts";
import { mysqlFactory } from "../db/mysql_factory.ts";
import { ComposedStore } from "./composed_store.ts";
import { MysqlConnections } from "./mysql_connections.ts";
import { MysqlDevices } from "./mysql_devices.ts";
import { MysqlFriends } from "./mysql_friends.ts";
import { MysqlGroups } from "./mysql_groups.ts";
import { MysqlMessages } from "./mysql_messages.ts";
import { migrateMysql } from "./mysql_migrations.ts";
import { MysqlOffline } from "./mysql_offline.ts";
import { MysqlUsers } from "./mysql_users.ts";
import type { PoolStats, Store } from "./store.ts";

/** Options for {@linkcode MysqlStore.open}. */
export interface MysqlStoreOptions {
  /** Sizes and timings of the connection pool; `acquireTimeout` defaults to 5_000 here. */
  pool?: PoolOptions;
  /** Milliseconds to open one connection (default 5_000). */
  connectTimeout?: number;
  /**
   * Milliseconds one store call may wait for the server's answers once it has a connection (every statement
   * of the call, including PREPARE and COMMIT). Past it the call fails with {@linkcode StoreUnavailableError}
   * and the connection is discarded (default 10_000).
   */
  queryTimeout?: number;
}

const DEFAULT_ACQUIRE_TIMEOUT = 5_000;
const DEFAULT_CONNECT_TIMEOUT = 5_000;
const DEFAULT_QUERY_TIMEOUT = 10_000;
/** Connections of the append pool at most (see {@linkcode MysqlStore.open}). */
const APPEND_POOL_MAX = 2;

/**
 * MySQL/MariaDB implementation of {@linkcode Store}.
 *
 * A call fails with {@linkcode StoreUnavailableError} (the original error as `cause`) when no connection can be
 * had in time, the connection breaks, the server does not answer within `queryTimeout`, or the store is closed.
 * A connection that broke mid-call is discarded, and the next call opens a new one: the store recovers by
 * itself when the server comes back. (A break during COMMIT cannot tell whether the commit happened; that is
 * the one case where an "unavailable" write may have been applied.)
 *
 * @example
 * ```ts
 * await using store = MysqlStore.open("mysql://chat:pw@127.0.0.1:3306/chat", { pool: { max: 8 } });
 * await store.migrate();
 * const id = await store.createUser("alice", "scrypt$...");
 * ```
 */
export class MysqlStore extends ComposedStore implements Store {
  readonly #connections: MysqlConnections;
  readonly #appends: MysqlConnections;

  private constructor(connections: MysqlConnections, appends: MysqlConnections) {
    super({
      users: new MysqlUsers(connections),
      friends: new MysqlFriends(connections),
      groups: new MysqlGroups(connections),
      messages: new MysqlMessages(connections, appends),
      devices: new MysqlDevices(connections),
      offline: new MysqlOffline(connections),
    });
    this.#connections = connections;
    this.#appends = appends;
  }

  /**
   * A store over the database at `url` (`mysql://user:password@host:port/database`). Opens nothing yet:
   * connections are made on first use, so a database that is down shows as {@linkcode StoreUnavailableError}
   * on the first call, not here. Throws TypeError/RangeError for a bad URL or option (password masked).
   *
   * @example
   * ```ts
   * const store = MysqlStore.open(Deno.env.get("CHAT_MYSQL_URL")!, { pool: { max: 16, acquireTimeout: 2_000 } });
   * ```
   */
  static open(url: string, options: MysqlStoreOptions = {}): MysqlStore {
    const queryTimeout = options.queryTimeout ?? DEFAULT_QUERY_TIMEOUT;
    if (!Number.isSafeInteger(queryTimeout) || queryTimeout < 1) {
      throw new RangeError(
        `MysqlStore option "queryTimeout" must be a positive integer, got ${queryTimeout}`,
      );
    }
    const connectTimeout = options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT;
    const factory = mysqlFactory(url, { connectTimeout });
    const pool = new Pool(factory, { acquireTimeout: DEFAULT_ACQUIRE_TIMEOUT, ...options.pool });
    // The chat append's own few connections, which take several statements per query (mysql_script.ts): a
    // node stores one batch at a time, so more would only idle.
    const appendFactory = mysqlFactory(url, { connectTimeout, multipleStatements: true });
    const appendPool = new Pool(appendFactory, {
      acquireTimeout: DEFAULT_ACQUIRE_TIMEOUT,
      ...options.pool,
      min: 0,
      max: Math.min(options.pool?.max ?? APPEND_POOL_MAX, APPEND_POOL_MAX),
    });
    return new MysqlStore(
      new MysqlConnections(factory, pool, { queryTimeout }),
      new MysqlConnections(appendFactory, appendPool, { queryTimeout }),
    );
  }

  /**
   * Brings the schema to the newest version in `sql/mysql/` (see `mysql_migrations.ts`): creates it on an
   * empty database, upgrades a database of an earlier release, does nothing on a current one; one node at a
   * time. Rejects with SchemaVersionError when the database is newer than this code.
   */
  async migrate(): Promise<void> {
    await migrateMysql(this.#connections);
  }

  /** One round trip to the server. */
  async ping(): Promise<void> {
    await this.#connections.use(async ({ connection }) => {
      await connection.ping();
    });
  }

  /** The connection pools' counters, the append pool's added to the main one's. */
  poolStats(): PoolStats {
    const main = this.#connections.stats();
    const appends = this.#appends.stats();
    return {
      size: main.size + appends.size,
      idle: main.idle + appends.idle,
      inUse: main.inUse + appends.inUse,
      waiting: main.waiting + appends.waiting,
      pending: main.pending + appends.pending,
    };
  }

  /**
   * Closes the pools (waiting up to 5 s for calls in flight); idempotent. Later calls reject with
   * {@linkcode StoreUnavailableError}.
   */
  async close(): Promise<void> {
    await Promise.all([this.#connections.close(), this.#appends.close()]);
  }
}
