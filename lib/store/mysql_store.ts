/**
 * The cluster store: {@linkcode Store} over MySQL or MariaDB through our own connection {@linkcode Pool} of
 * single `mysql2` connections.
 *
 * This file assembles the store; the plumbing (deadlines, transactions, what counts as unavailable, batched id
 * lists) is in `mysql_connections.ts`, and each table group's statements in `mysql_users.ts`,
 * `mysql_friends.ts`, `mysql_groups.ts` and `mysql_offline.ts`.
 *
 * @module
 */

import { Pool, type PoolOptions } from "../db/pool.ts";
import { mysqlFactory } from "../db/mysql_factory.ts";
import { MysqlConnections } from "./mysql_connections.ts";
import { MysqlFriends } from "./mysql_friends.ts";
import { MysqlGroups } from "./mysql_groups.ts";
import { MysqlOffline } from "./mysql_offline.ts";
import { MysqlUsers } from "./mysql_users.ts";
import type {
  GroupRecord,
  OfflineEntry,
  OfflineMessage,
  PoolStats,
  Store,
  UserRecord,
  UserSummary,
} from "./store.ts";

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
export class MysqlStore implements Store {
  readonly #connections: MysqlConnections;
  readonly #users: MysqlUsers;
  readonly #friends: MysqlFriends;
  readonly #groups: MysqlGroups;
  readonly #offline: MysqlOffline;

  private constructor(connections: MysqlConnections) {
    this.#connections = connections;
    this.#users = new MysqlUsers(connections);
    this.#friends = new MysqlFriends(connections);
    this.#groups = new MysqlGroups(connections);
    this.#offline = new MysqlOffline(connections);
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
    const factory = mysqlFactory(url, { connectTimeout: options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT });
    const pool = new Pool(factory, { acquireTimeout: DEFAULT_ACQUIRE_TIMEOUT, ...options.pool });
    return new MysqlStore(new MysqlConnections(factory, pool, { queryTimeout }));
  }

  /** Runs each statement of `sql/schema.sql` (all `CREATE TABLE IF NOT EXISTS`); never drops data. */
  async migrate(): Promise<void> {
    const schema = await Deno.readTextFile(new URL("../../sql/schema.sql", import.meta.url));
    const statements = schema.split(/;[ \t]*$/m)
      .map((statement) => statement.trim())
      .filter((statement) =>
        statement.split("\n").some((line) => line.trim() && !line.trim().startsWith("--"))
      );
    await this.#connections.use(async ({ connection }) => {
      // DDL cannot be prepared on every server version, and this text carries no values: plain query().
      for (const sql of statements) await connection.query(sql);
    });
  }

  /** One round trip to the server. */
  async ping(): Promise<void> {
    await this.#connections.use(async ({ connection }) => {
      await connection.ping();
    });
  }

  /** Creates a user; rejects with {@linkcode NameTakenError} when `name` exists (names compare exactly). */
  createUser(name: string, passwordHash: string): Promise<number> {
    return this.#users.createUser(name, passwordHash);
  }

  /** The user with this id, or `null`. */
  findUser(id: number): Promise<UserRecord | null> {
    return this.#users.findUser(id);
  }

  /** Which of `ids` exist. */
  existingUsers(ids: number[]): Promise<Set<number>> {
    return this.#users.existingUsers(ids);
  }

  /** Sets the display copy of a user's presence; a missing user is ignored. */
  setUserState(id: number, online: boolean): Promise<void> {
    return this.#users.setUserState(id, online);
  }

  /** Marks `ids` offline, or every user when `ids` is omitted; an empty array changes nothing. */
  setUsersOffline(ids?: number[]): Promise<void> {
    return this.#users.setUsersOffline(ids);
  }

  /** Adds `friendId` to `userId`'s list; adding twice is a no-op. */
  addFriend(userId: number, friendId: number): Promise<void> {
    return this.#friends.addFriend(userId, friendId);
  }

  /** The user's friends, ordered by id. */
  listFriends(userId: number): Promise<UserSummary[]> {
    return this.#friends.listFriends(userId);
  }

  /** Ids of the users who have `userId` in their friend list, ordered by id. */
  listFollowers(userId: number): Promise<number[]> {
    return this.#friends.listFollowers(userId);
  }

  /** Creates a group and its creator membership in one transaction; rejects with {@linkcode NameTakenError}. */
  createGroup(creatorId: number, name: string, desc: string): Promise<number> {
    return this.#groups.createGroup(creatorId, name, desc);
  }

  /** Whether the group exists. */
  groupExists(groupId: number): Promise<boolean> {
    return this.#groups.groupExists(groupId);
  }

  /** Adds a normal member; joining twice (or the creator joining) is a no-op. */
  addGroupMember(groupId: number, userId: number): Promise<void> {
    return this.#groups.addGroupMember(groupId, userId);
  }

  /** Ids of the group's members, ordered by id (empty when the group does not exist). */
  listGroupMemberIds(groupId: number): Promise<number[]> {
    return this.#groups.listGroupMemberIds(groupId);
  }

  /** Every group `userId` belongs to with all its members, ordered by group id then member id. */
  listUserGroups(userId: number): Promise<GroupRecord[]> {
    return this.#groups.listUserGroups(userId);
  }

  /** Stores the frames in one transaction, in the given order: all are stored or none. */
  storeOffline(entries: OfflineEntry[]): Promise<void> {
    return this.#offline.storeOffline(entries);
  }

  /** The user's oldest `limit` offline messages, oldest first. */
  readOffline(userId: number, limit: number): Promise<OfflineMessage[]> {
    return this.#offline.readOffline(userId, limit);
  }

  /** Deletes exactly these offline message ids of this user; ids of other users are left alone. */
  deleteOffline(userId: number, ids: number[]): Promise<void> {
    return this.#offline.deleteOffline(userId, ids);
  }

  /** The connection pool's counters. */
  poolStats(): PoolStats {
    return this.#connections.stats();
  }

  /**
   * Closes the pool (waiting up to 5 s for calls in flight); idempotent. Later calls reject with
   * {@linkcode StoreUnavailableError}.
   */
  close(): Promise<void> {
    return this.#connections.close();
  }

  /** Same as {@linkcode MysqlStore.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
