/**
 * The embedded store: {@linkcode Store} over `node:sqlite`, the default when no MySQL URL is configured.
 *
 * This file assembles the store; the plumbing (the connection, its statement cache, transactions, what counts
 * as unavailable) is in `sqlite_connection.ts`, and each table group's statements in `sqlite_users.ts`,
 * `sqlite_friends.ts`, `sqlite_groups.ts` and `sqlite_offline.ts`.
 *
 * @module
 */

import { SqliteConnection } from "./sqlite_connection.ts";
import { SqliteFriends } from "./sqlite_friends.ts";
import { SqliteGroups } from "./sqlite_groups.ts";
import { SqliteOffline } from "./sqlite_offline.ts";
import { SqliteUsers } from "./sqlite_users.ts";
import type { GroupRecord, OfflineEntry, OfflineMessage, Store, UserRecord, UserSummary } from "./store.ts";

/** Options for {@linkcode SqliteStore.open}. */
export interface SqliteStoreOptions {
  /**
   * How long a statement waits for another connection's lock before failing with
   * {@linkcode StoreUnavailableError}, in ms. Defaults to 5000.
   */
  busyTimeoutMs?: number;
}

const DEFAULT_BUSY_TIMEOUT_MS = 5000;

/** SQLite's embedded implementation of {@linkcode Store}. */
export class SqliteStore implements Store {
  readonly #db: SqliteConnection;
  readonly #users: SqliteUsers;
  readonly #friends: SqliteFriends;
  readonly #groups: SqliteGroups;
  readonly #offline: SqliteOffline;

  private constructor(connection: SqliteConnection) {
    this.#db = connection;
    this.#users = new SqliteUsers(connection);
    this.#friends = new SqliteFriends(connection);
    this.#groups = new SqliteGroups(connection);
    this.#offline = new SqliteOffline(connection);
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
    return new SqliteStore(SqliteConnection.open(path, { busyTimeoutMs }));
  }

  /** Creates the tables and indexes of `sql/schema_sqlite.sql` when missing; never drops data. */
  async migrate(): Promise<void> {
    const schema = await Deno.readTextFile(new URL("../../sql/schema_sqlite.sql", import.meta.url));
    // DDL is transactional in SQLite: a failed migration leaves the previous schema as it was.
    await this.#db.run(() => this.#db.transaction((db) => db.exec(schema)));
  }

  /** Runs a trivial query; rejects with {@linkcode StoreUnavailableError} when closed or unusable. */
  ping(): Promise<void> {
    return this.#db.run(() => {
      this.#db.statement("SELECT 1").get();
    });
  }

  /** Creates a user; rejects with {@linkcode NameTakenError} when `name` exists. */
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

  /** Creates a group and its creator membership atomically; rejects with {@linkcode NameTakenError}. */
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

  /** Closes the database; idempotent. Later calls reject with {@linkcode StoreUnavailableError}. */
  close(): Promise<void> {
    this.#db.close();
    return Promise.resolve();
  }

  /** Same as {@linkcode SqliteStore.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
