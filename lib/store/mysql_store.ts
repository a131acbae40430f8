/**
 * The cluster store: {@linkcode Store} over MySQL or MariaDB through our own connection {@linkcode Pool} of
 * single `mysql2` connections.
 *
 * Every statement that carries a value is a prepared statement with placeholders (`execute`); no SQL is ever
 * built from values. Statements that take a list of ids use fixed batch sizes (powers of two), so each
 * connection prepares a handful of statements however the lists vary, far below the server's
 * `max_prepared_stmt_count`.
 *
 * @module
 */

import type { Connection, ResultSetHeader, RowDataPacket } from "mysql2/promise";
import { Pool, type PoolOptions } from "../db/pool.ts";
import {
  AcquireTimeoutError,
  isFatalMysqlError,
  mysqlErrorKind,
  PoolClosedError,
  PoolFullError,
} from "../db/errors.ts";
import { type MysqlFactory, mysqlFactory } from "../db/mysql_factory.ts";
import { describeError } from "../describe_error.ts";
import { NameTakenError, StoreUnavailableError } from "./errors.ts";
import type {
  GroupMember,
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
/** Largest id list bound in one statement. */
const MAX_ID_BATCH = 256;
/** Largest number of offline messages inserted by one statement (64 frames of 100 KB stay under 16 MiB). */
const MAX_ROW_BATCH = 64;

/** Thrown when ROLLBACK itself failed: the connection may still be inside a transaction, so it is discarded. */
class RollbackFailedError extends Error {
  /** Read by isFatalMysqlError: the pool destroys the connection instead of reusing it. */
  readonly fatal = true;
  constructor(cause: unknown) {
    super("ROLLBACK failed; the connection is discarded", { cause });
    this.name = "RollbackFailedError";
  }
}

/** What the store binds to placeholders. */
type Param = string | number;

/**
 * A call got no answer within `queryTimeout`. `fatal`: the answer may still arrive later, so the connection is
 * discarded. (mysql2's own `timeout` option covers only the execute step, not the PREPARE before it.)
 */
class QueryTimeoutError extends Error {
  readonly fatal = true;
  readonly code = "QUERY_TIMEOUT";
  constructor(timeout: number) {
    super(`no answer from the server within ${timeout} ms`);
    this.name = "QueryTimeoutError";
  }
}

/** A safe integer id, or a RangeError naming what it was (a caller's bug, not an unavailable store). */
function int(value: number, what: string): number {
  if (!Number.isSafeInteger(value)) {
    throw new RangeError(`${what} must be a safe integer, got ${String(value)}`);
  }
  return value;
}

/** Validated, de-duplicated ids. */
function idSet(ids: readonly number[], what: string): number[] {
  return [...new Set(ids.map((id) => int(id, what)))];
}

/** `items` cut into power-of-two sized chunks of at most `max` (so few distinct statements are prepared). */
function chunks<T>(items: readonly T[], max: number): T[][] {
  const out: T[][] = [];
  let start = 0;
  while (start < items.length) {
    let size = max;
    while (size > items.length - start) size >>= 1;
    out.push(items.slice(start, start + size));
    start += size;
  }
  return out;
}

/** `(?, ?, ?)` for `n` values. */
function placeholders(n: number): string {
  return `(${Array.from({ length: n }, () => "?").join(", ")})`;
}

/** A BIGINT column read with `supportBigNumbers`: a number, or a string when beyond 2^53. */
function bigId(value: unknown): number {
  const id = Number(value);
  if (!Number.isSafeInteger(id)) throw new RangeError(`id beyond 2^53 from the database: ${String(value)}`);
  return id;
}

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
 * ```ts ignore
 * await using store = MysqlStore.open("mysql://chat:pw@127.0.0.1:3306/chat", { pool: { max: 8 } });
 * await store.migrate();
 * const id = await store.createUser("alice", passwordHash);
 * ```
 */
export class MysqlStore implements Store {
  readonly #pool: Pool<Connection>;
  readonly #factory: MysqlFactory;
  readonly #queryTimeout: number;
  #closing: Promise<void> | null = null;

  private constructor(factory: MysqlFactory, pool: Pool<Connection>, queryTimeout: number) {
    this.#factory = factory;
    this.#pool = pool;
    this.#queryTimeout = queryTimeout;
  }

  /**
   * A store over the database at `url` (`mysql://user:password@host:port/database`). Opens nothing yet:
   * connections are made on first use, so a database that is down shows as {@linkcode StoreUnavailableError}
   * on the first call, not here. Throws TypeError/RangeError for a bad URL or option (password masked).
   *
   * @example
   * ```ts ignore
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
    return new MysqlStore(factory, pool, queryTimeout);
  }

  /** Runs each statement of `sql/schema.sql` (all `CREATE TABLE IF NOT EXISTS`); never drops data. */
  async migrate(): Promise<void> {
    const schema = await Deno.readTextFile(new URL("../../sql/schema.sql", import.meta.url));
    const statements = schema.split(/;[ \t]*$/m)
      .map((statement) => statement.trim())
      .filter((statement) =>
        statement.split("\n").some((line) => line.trim() && !line.trim().startsWith("--"))
      );
    await this.#use(async (db) => {
      // DDL cannot be prepared on every server version, and this text carries no values: plain query().
      for (const sql of statements) await db.query(sql);
    });
  }

  /** One round trip to the server. */
  async ping(): Promise<void> {
    await this.#use(async (db) => {
      await db.ping();
    });
  }

  /** Creates a user; rejects with {@linkcode NameTakenError} when `name` exists (names compare exactly). */
  async createUser(name: string, passwordHash: string): Promise<number> {
    return await this.#use(async (db) => {
      try {
        const result = await this.#write(db, "INSERT INTO user (name, password) VALUES (?, ?)", [
          name,
          passwordHash,
        ]);
        return result.insertId;
      } catch (error) {
        if (mysqlErrorKind(error) === "duplicate") throw new NameTakenError("user", name);
        throw error;
      }
    });
  }

  /** The user with this id, or `null`. */
  async findUser(id: number): Promise<UserRecord | null> {
    const userId = int(id, "user id");
    return await this.#use(async (db) => {
      const [row] = await this.#read(db, "SELECT id, name, password FROM user WHERE id = ?", [userId]);
      return row ? { id: Number(row.id), name: String(row.name), passwordHash: String(row.password) } : null;
    });
  }

  /** Which of `ids` exist. */
  async existingUsers(ids: number[]): Promise<Set<number>> {
    const wanted = idSet(ids, "user id");
    return await this.#use(async (db) => {
      const found = new Set<number>();
      for (const batch of chunks(wanted, MAX_ID_BATCH)) {
        const rows = await this.#read(
          db,
          `SELECT id FROM user WHERE id IN ${placeholders(batch.length)}`,
          batch,
        );
        for (const row of rows) found.add(Number(row.id));
      }
      return found;
    });
  }

  /** Sets the display copy of a user's presence; a missing user is ignored. */
  async setUserState(id: number, online: boolean): Promise<void> {
    const userId = int(id, "user id");
    return await this.#use(async (db) => {
      await this.#write(db, "UPDATE user SET state = ? WHERE id = ?", [
        online ? "online" : "offline",
        userId,
      ]);
    });
  }

  /** Marks `ids` offline, or every user when `ids` is omitted; an empty array changes nothing. */
  async setUsersOffline(ids?: number[]): Promise<void> {
    const users = ids === undefined ? undefined : idSet(ids, "user id");
    return await this.#use(async (db) => {
      if (users === undefined) {
        await this.#write(db, "UPDATE user SET state = 'offline' WHERE state <> 'offline'", []);
        return;
      }
      for (const batch of chunks(users, MAX_ID_BATCH)) {
        await this.#write(
          db,
          `UPDATE user SET state = 'offline' WHERE state <> 'offline' AND id IN ${
            placeholders(batch.length)
          }`,
          batch,
        );
      }
    });
  }

  /** Adds `friendId` to `userId`'s list; adding twice is a no-op. */
  async addFriend(userId: number, friendId: number): Promise<void> {
    const params = [int(userId, "user id"), int(friendId, "friend id")];
    return await this.#use(async (db) => {
      // A repeat updates the key to itself: a no-op that, unlike INSERT IGNORE, still reports every other error.
      await this.#write(
        db,
        "INSERT INTO friend (userid, friendid) VALUES (?, ?) ON DUPLICATE KEY UPDATE userid = userid",
        params,
      );
    });
  }

  /** The user's friends, ordered by id. */
  async listFriends(userId: number): Promise<UserSummary[]> {
    const user = int(userId, "user id");
    return await this.#use(async (db) => {
      const rows = await this.#read(
        db,
        "SELECT u.id, u.name FROM friend f JOIN user u ON u.id = f.friendid WHERE f.userid = ? ORDER BY u.id",
        [user],
      );
      return rows.map((row) => ({ id: Number(row.id), name: String(row.name) }));
    });
  }

  /** Ids of the users who have `userId` in their friend list, ordered by id. */
  async listFollowers(userId: number): Promise<number[]> {
    const user = int(userId, "user id");
    return await this.#use(async (db) => {
      const rows = await this.#read(db, "SELECT userid FROM friend WHERE friendid = ? ORDER BY userid", [
        user,
      ]);
      return rows.map((row) => Number(row.userid));
    });
  }

  /** Creates a group and its creator membership in one transaction; rejects with {@linkcode NameTakenError}. */
  async createGroup(creatorId: number, name: string, desc: string): Promise<number> {
    const creator = int(creatorId, "creator id");
    return await this.#transaction(async (db) => {
      let groupId: number;
      try {
        const result = await this.#write(db, "INSERT INTO allgroup (groupname, groupdesc) VALUES (?, ?)", [
          name,
          desc,
        ]);
        groupId = result.insertId;
      } catch (error) {
        if (mysqlErrorKind(error) === "duplicate") throw new NameTakenError("group", name);
        throw error;
      }
      await this.#write(db, "INSERT INTO groupuser (groupid, userid, grouprole) VALUES (?, ?, 'creator')", [
        groupId,
        creator,
      ]);
      return groupId;
    });
  }

  /** Whether the group exists. */
  async groupExists(groupId: number): Promise<boolean> {
    const group = int(groupId, "group id");
    return await this.#use(async (db) =>
      (await this.#read(db, "SELECT 1 FROM allgroup WHERE id = ?", [group])).length > 0
    );
  }

  /** Adds a normal member; joining twice (or the creator joining) is a no-op. */
  async addGroupMember(groupId: number, userId: number): Promise<void> {
    const params = [int(groupId, "group id"), int(userId, "user id")];
    return await this.#use(async (db) => {
      // The no-op update keeps a creator who "joins" their own group a creator.
      await this.#write(
        db,
        "INSERT INTO groupuser (groupid, userid, grouprole) VALUES (?, ?, 'normal') " +
          "ON DUPLICATE KEY UPDATE grouprole = grouprole",
        params,
      );
    });
  }

  /** Ids of the group's members, ordered by id (empty when the group does not exist). */
  async listGroupMemberIds(groupId: number): Promise<number[]> {
    const group = int(groupId, "group id");
    return await this.#use(async (db) => {
      const rows = await this.#read(db, "SELECT userid FROM groupuser WHERE groupid = ? ORDER BY userid", [
        group,
      ]);
      return rows.map((row) => Number(row.userid));
    });
  }

  /** Every group `userId` belongs to with all its members, ordered by group id then member id. */
  async listUserGroups(userId: number): Promise<GroupRecord[]> {
    const user = int(userId, "user id");
    return await this.#use(async (db) => {
      const rows = await this.#read(
        db,
        "SELECT g.id, g.groupname, g.groupdesc, u.id AS userid, u.name, m.grouprole " +
          "FROM groupuser mine " +
          "JOIN allgroup g ON g.id = mine.groupid " +
          "JOIN groupuser m ON m.groupid = g.id " +
          "JOIN user u ON u.id = m.userid " +
          "WHERE mine.userid = ? ORDER BY g.id, u.id",
        [user],
      );
      // One query, rows sorted by group: a new group starts wherever the group id changes.
      const groups: GroupRecord[] = [];
      for (const row of rows) {
        let group = groups.at(-1);
        if (group?.id !== Number(row.id)) {
          group = {
            id: Number(row.id),
            name: String(row.groupname),
            desc: String(row.groupdesc),
            members: [],
          };
          groups.push(group);
        }
        group.members.push({
          id: Number(row.userid),
          name: String(row.name),
          role: row.grouprole as GroupMember["role"],
        });
      }
      return groups;
    });
  }

  /** Stores the frames in one transaction, in the given order: all are stored or none. */
  async storeOffline(entries: OfflineEntry[]): Promise<void> {
    if (entries.length === 0) return;
    // Validated before the transaction: a caller's bug fails the call before any write.
    const rows = entries.map((entry): Param[] => [int(entry.userId, "offline message user id"), entry.frame]);
    return await this.#transaction(async (db) => {
      // Multi-row inserts in the given order: InnoDB numbers the rows of one INSERT consecutively.
      for (const batch of chunks(rows, MAX_ROW_BATCH)) {
        await this.#write(
          db,
          `INSERT INTO offlinemessage (userid, message) VALUES ${batch.map(() => "(?, ?)").join(", ")}`,
          batch.flat(),
        );
      }
    });
  }

  /** The user's oldest `limit` offline messages, oldest first. */
  async readOffline(userId: number, limit: number): Promise<OfflineMessage[]> {
    const user = int(userId, "user id");
    if (!Number.isSafeInteger(limit) || limit < 0) {
      throw new RangeError(`limit must be a non-negative integer, got ${String(limit)}`);
    }
    return await this.#use(async (db) => {
      // LIMIT is bound as a string: MySQL 8 rejects a DOUBLE there, which is how mysql2 sends a JS number.
      const rows = await this.#read(
        db,
        "SELECT id, message FROM offlinemessage WHERE userid = ? ORDER BY id LIMIT ?",
        [user, String(limit)],
      );
      return rows.map((row) => ({ id: bigId(row.id), frame: String(row.message) }));
    });
  }

  /** Deletes exactly these offline message ids of this user; ids of other users are left alone. */
  async deleteOffline(userId: number, ids: number[]): Promise<void> {
    const user = int(userId, "user id");
    const messages = idSet(ids, "offline message id");
    return await this.#use(async (db) => {
      for (const batch of chunks(messages, MAX_ID_BATCH)) {
        await this.#write(
          db,
          `DELETE FROM offlinemessage WHERE userid = ? AND id IN ${placeholders(batch.length)}`,
          [user, ...batch],
        );
      }
    });
  }

  /** The connection pool's counters. */
  poolStats(): PoolStats {
    const pool = this.#pool;
    return {
      size: pool.size,
      idle: pool.idle,
      inUse: pool.inUse,
      waiting: pool.waiting,
      pending: pool.pending,
    };
  }

  /**
   * Closes the pool (waiting up to 5 s for calls in flight); idempotent. Later calls reject with
   * {@linkcode StoreUnavailableError}.
   */
  close(): Promise<void> {
    this.#closing ??= this.#pool.close();
    return this.#closing;
  }

  /** Same as {@linkcode MysqlStore.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #read(db: Connection, sql: string, values: Param[]): Promise<RowDataPacket[]> {
    const [rows] = await db.execute<RowDataPacket[]>(sql, values);
    return rows;
  }

  async #write(db: Connection, sql: string, values: Param[]): Promise<ResultSetHeader> {
    const [result] = await db.execute<ResultSetHeader>(sql, values);
    return result;
  }

  /**
   * Runs `fn` with a pooled connection. A connection-level failure discards the connection and becomes
   * StoreUnavailableError; other errors (NameTakenError, a caller's bad value) pass through and the
   * connection is reused.
   */
  async #use<R>(fn: (db: Connection) => Promise<R>): Promise<R> {
    if (this.#closing) throw new StoreUnavailableError(`MySQL store ${this.#factory.redactedUrl} is closed`);
    let lease;
    try {
      lease = await this.#pool.acquire();
    } catch (error) {
      throw this.#unavailable(error);
    }
    let broken: unknown;
    const work = fn(lease.connection);
    // After a timeout the work fails later, when the discarded connection is cut; nobody waits for it then.
    work.catch(() => {});
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new QueryTimeoutError(this.#queryTimeout)), this.#queryTimeout);
    });
    try {
      return await Promise.race([work, deadline]);
    } catch (error) {
      if (isFatalMysqlError(error)) broken = error;
      if (broken !== undefined || mysqlErrorKind(error) === "unavailable") throw this.#unavailable(error);
      throw error;
    } finally {
      clearTimeout(timer);
      lease.release(broken);
    }
  }

  /** {@linkcode MysqlStore.#use} inside START TRANSACTION ... COMMIT; any failure rolls back. */
  async #transaction<R>(fn: (db: Connection) => Promise<R>): Promise<R> {
    return await this.#use(async (db) => {
      await db.query("START TRANSACTION");
      let result: R;
      try {
        result = await fn(db);
        await db.query("COMMIT");
      } catch (error) {
        // A broken connection rolls back on the server by itself; on a live one, roll back before reuse.
        if (!isFatalMysqlError(error)) {
          try {
            await db.query("ROLLBACK");
          } catch (rollbackError) {
            throw new RollbackFailedError(rollbackError);
          }
        }
        throw error;
      }
      return result;
    });
  }

  #unavailable(error: unknown): StoreUnavailableError {
    const url = this.#factory.redactedUrl;
    if (error instanceof PoolClosedError) {
      return new StoreUnavailableError(`MySQL store ${url} is closed`, { cause: error });
    }
    if (error instanceof AcquireTimeoutError) {
      const reason = error.cause === undefined ? "all connections busy" : describeError(error.cause);
      return new StoreUnavailableError(
        `MySQL ${url}: no connection within ${error.timeout} ms (${reason})`,
        { cause: error },
      );
    }
    if (error instanceof PoolFullError) {
      return new StoreUnavailableError(`MySQL ${url}: too many callers waiting for a connection`, {
        cause: error,
      });
    }
    return new StoreUnavailableError(`MySQL ${url}: ${describeError(error)}`, { cause: error });
  }
}
