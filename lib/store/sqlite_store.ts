/**
 * The embedded store: {@linkcode Store} over `node:sqlite`, the default when no MySQL URL is configured.
 *
 * `DatabaseSync` is synchronous, so every call runs to completion before the event loop moves on. That makes
 * each method atomic with respect to the others without any locking of our own, and it is why transactions
 * here are plain synchronous functions. The price is that a call blocks the event loop while SQLite works
 * (or waits for another process's lock, up to the busy timeout); for a single-node embedded store that is
 * cheaper than a worker thread.
 *
 * @module
 */

import { DatabaseSync, type StatementSync } from "node:sqlite";
import { dirname } from "node:path";
import { NameTakenError, StoreUnavailableError } from "./errors.ts";
import type {
  GroupMember,
  GroupRecord,
  OfflineEntry,
  OfflineMessage,
  Store,
  UserRecord,
  UserSummary,
} from "./store.ts";

/** Options for {@linkcode SqliteStore.open}. */
export interface SqliteStoreOptions {
  /**
   * How long a statement waits for another connection's lock before failing with
   * {@linkcode StoreUnavailableError}, in ms. Defaults to 5000.
   */
  busyTimeoutMs?: number;
}

const DEFAULT_BUSY_TIMEOUT_MS = 5000;

// SQLite result codes (https://sqlite.org/rescode.html). Extended codes carry the primary code in the low byte.
const SQLITE_CONSTRAINT_UNIQUE = 2067;
/** Primary codes meaning "the database cannot be used right now", as opposed to a bad statement or value. */
const UNAVAILABLE_CODES = new Set([
  5, // BUSY
  6, // LOCKED
  7, // NOMEM
  8, // READONLY
  10, // IOERR
  11, // CORRUPT
  13, // FULL
  14, // CANTOPEN
  26, // NOTADB
]);

// Every statement the store runs, prepared on first use and kept for the life of the connection.
// Sets of ids travel as one JSON array parameter expanded by json_each(), so one cached statement serves any
// number of ids (including none) and no SQL is ever built from values.
const SQL = {
  begin: "BEGIN IMMEDIATE",
  commit: "COMMIT",
  rollback: "ROLLBACK",
  ping: "SELECT 1",

  createUser: "INSERT INTO user (name, password) VALUES (?, ?)",
  findUser: "SELECT id, name, password FROM user WHERE id = ?",
  existingUsers: "SELECT id FROM user WHERE id IN (SELECT value FROM json_each(?))",
  setUserState: "UPDATE user SET state = ? WHERE id = ?",
  setAllOffline: "UPDATE user SET state = 'offline' WHERE state <> 'offline'",
  setUsersOffline:
    "UPDATE user SET state = 'offline' WHERE state <> 'offline' AND id IN (SELECT value FROM json_each(?))",

  // ON CONFLICT names the one constraint that makes a repeat a no-op; INSERT OR IGNORE would also swallow
  // NOT NULL and CHECK failures.
  addFriend: "INSERT INTO friend (userid, friendid) VALUES (?, ?) ON CONFLICT (userid, friendid) DO NOTHING",
  listFriends:
    "SELECT u.id, u.name FROM friend f JOIN user u ON u.id = f.friendid WHERE f.userid = ? ORDER BY u.id",
  listFollowers: "SELECT userid FROM friend WHERE friendid = ? ORDER BY userid",

  createGroup: "INSERT INTO allgroup (groupname, groupdesc) VALUES (?, ?)",
  addCreator: "INSERT INTO groupuser (groupid, userid, grouprole) VALUES (?, ?, 'creator')",
  groupExists: "SELECT 1 FROM allgroup WHERE id = ?",
  // DO NOTHING also keeps a creator who "joins" their own group a creator.
  addGroupMember: "INSERT INTO groupuser (groupid, userid, grouprole) VALUES (?, ?, 'normal') " +
    "ON CONFLICT (groupid, userid) DO NOTHING",
  listGroupMemberIds: "SELECT userid FROM groupuser WHERE groupid = ? ORDER BY userid",
  listUserGroups: "SELECT g.id, g.groupname, g.groupdesc, u.id AS userid, u.name, m.grouprole " +
    "FROM groupuser mine " +
    "JOIN allgroup g ON g.id = mine.groupid " +
    "JOIN groupuser m ON m.groupid = g.id " +
    "JOIN user u ON u.id = m.userid " +
    "WHERE mine.userid = ? ORDER BY g.id, u.id",

  storeOffline: "INSERT INTO offlinemessage (userid, message, created_at) VALUES (?, ?, ?)",
  readOffline: "SELECT id, message FROM offlinemessage WHERE userid = ? ORDER BY id LIMIT ?",
  deleteOffline: "DELETE FROM offlinemessage WHERE userid = ? AND id IN (SELECT value FROM json_each(?))",
} as const;

type StatementName = keyof typeof SQL;

/**
 * `node:sqlite` binds every JS number as a REAL; a BigInt binds as an INTEGER, which is what the columns hold.
 * Checking here also turns a fractional or unsafe id (a caller's bug) into a clear error instead of a row that
 * silently matches nothing.
 */
function int(value: number, what: string): bigint {
  if (!Number.isSafeInteger(value)) {
    throw new RangeError(`${what} must be a safe integer, got ${String(value)}`);
  }
  return BigInt(value);
}

/** Validates ids and encodes them as the JSON array that `json_each(?)` expands. */
function idList(ids: readonly number[], what: string): string {
  for (const id of ids) int(id, what);
  return JSON.stringify(ids);
}

function errcode(error: unknown): number | undefined {
  const code = (error as { errcode?: unknown } | null)?.errcode;
  return typeof code === "number" ? code : undefined;
}

/** Runs an insert of a unique name, reporting a UNIQUE violation as the name being taken. */
function uniqueName<T>(kind: "user" | "group", name: string, fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    if (errcode(error) === SQLITE_CONSTRAINT_UNIQUE) throw new NameTakenError(kind, name);
    throw error;
  }
}

/** SQLite's embedded implementation of {@linkcode Store}. */
export class SqliteStore implements Store {
  #db: DatabaseSync | null;
  readonly #path: string;
  readonly #statements = new Map<StatementName, StatementSync>();

  private constructor(db: DatabaseSync, path: string) {
    this.#db = db;
    this.#path = path;
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
    if (path !== ":memory:") Deno.mkdirSync(dirname(path), { recursive: true });
    let db: DatabaseSync;
    try {
      db = new DatabaseSync(path, { timeout: busyTimeoutMs });
    } catch (error) {
      if (error instanceof Deno.errors.NotCapable) throw error;
      throw new StoreUnavailableError(`cannot open SQLite database ${JSON.stringify(path)}`, {
        cause: error,
      });
    }
    try {
      // WAL lets reads (health checks, a second process) proceed while a write commits, and costs fewer fsyncs
      // per commit than the rollback journal.
      // synchronous = FULL syncs every commit: an acknowledged chat message must survive a power cut, not
      // only a process crash (NORMAL would risk the last commits). In-memory databases ignore both.
      db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;");
    } catch (error) {
      db.close();
      throw new StoreUnavailableError(`cannot configure SQLite database ${JSON.stringify(path)}`, {
        cause: error,
      });
    }
    return new SqliteStore(db, path);
  }

  /** Creates the tables and indexes of `sql/schema_sqlite.sql` when missing; never drops data. */
  async migrate(): Promise<void> {
    const schema = await Deno.readTextFile(new URL("../../sql/schema_sqlite.sql", import.meta.url));
    // DDL is transactional in SQLite: a failed migration leaves the previous schema as it was.
    await this.#run(() => this.#transaction((db) => db.exec(schema)));
  }

  /** Runs a trivial query; rejects with {@linkcode StoreUnavailableError} when closed or unusable. */
  ping(): Promise<void> {
    return this.#run(() => {
      this.#stmt("ping").get();
    });
  }

  /** Creates a user; rejects with {@linkcode NameTakenError} when `name` exists. */
  createUser(name: string, passwordHash: string): Promise<number> {
    return this.#run(() =>
      uniqueName("user", name, () => Number(this.#stmt("createUser").run(name, passwordHash).lastInsertRowid))
    );
  }

  /** The user with this id, or `null`. */
  findUser(id: number): Promise<UserRecord | null> {
    return this.#run(() => {
      const row = this.#stmt("findUser").get(int(id, "user id")) as
        | { id: number; name: string; password: string }
        | undefined;
      return row ? { id: Number(row.id), name: String(row.name), passwordHash: String(row.password) } : null;
    });
  }

  /** Which of `ids` exist. */
  existingUsers(ids: number[]): Promise<Set<number>> {
    return this.#run(() => {
      if (ids.length === 0) return new Set<number>();
      const rows = this.#stmt("existingUsers").all(idList(ids, "user id")) as { id: number }[];
      return new Set(rows.map((row) => Number(row.id)));
    });
  }

  /** Sets the display copy of a user's presence; a missing user is ignored. */
  setUserState(id: number, online: boolean): Promise<void> {
    return this.#run(() =>
      this.#withoutSync(() => {
        this.#stmt("setUserState").run(online ? "online" : "offline", int(id, "user id"));
      })
    );
  }

  /** Marks `ids` offline, or every user when `ids` is omitted; an empty array changes nothing. */
  setUsersOffline(ids?: number[]): Promise<void> {
    return this.#run(() =>
      this.#withoutSync(() => {
        if (ids === undefined) this.#stmt("setAllOffline").run();
        else if (ids.length > 0) this.#stmt("setUsersOffline").run(idList(ids, "user id"));
      })
    );
  }

  /**
   * Runs `fn` with synchronous = NORMAL: its commit skips the fsync (WAL: the next FULL commit or checkpoint
   * makes it durable). For the presence copy only, which the bus, not the database, is the truth of: an fsync
   * per login and logout would stall the event loop (and chat delivery) during a login storm.
   */
  #withoutSync(fn: () => void): void {
    if (this.#path === ":memory:") return fn();
    const db = this.#open();
    db.exec("PRAGMA synchronous = NORMAL");
    try {
      fn();
    } finally {
      db.exec("PRAGMA synchronous = FULL");
    }
  }

  /** Adds `friendId` to `userId`'s list; adding twice is a no-op. */
  addFriend(userId: number, friendId: number): Promise<void> {
    return this.#run(() => {
      this.#stmt("addFriend").run(int(userId, "user id"), int(friendId, "friend id"));
    });
  }

  /** The user's friends, ordered by id. */
  listFriends(userId: number): Promise<UserSummary[]> {
    return this.#run(() => {
      const rows = this.#stmt("listFriends").all(int(userId, "user id")) as { id: number; name: string }[];
      return rows.map((row) => ({ id: Number(row.id), name: String(row.name) }));
    });
  }

  /** Ids of the users who have `userId` in their friend list, ordered by id. */
  listFollowers(userId: number): Promise<number[]> {
    return this.#run(() => {
      const rows = this.#stmt("listFollowers").all(int(userId, "user id")) as { userid: number }[];
      return rows.map((row) => Number(row.userid));
    });
  }

  /** Creates a group and its creator membership atomically; rejects with {@linkcode NameTakenError}. */
  createGroup(creatorId: number, name: string, desc: string): Promise<number> {
    return this.#run(() => {
      const creator = int(creatorId, "creator id");
      return uniqueName("group", name, () =>
        this.#transaction(() => {
          const groupId = this.#stmt("createGroup").run(name, desc).lastInsertRowid;
          this.#stmt("addCreator").run(groupId, creator);
          return Number(groupId);
        }));
    });
  }

  /** Whether the group exists. */
  groupExists(groupId: number): Promise<boolean> {
    return this.#run(() => this.#stmt("groupExists").get(int(groupId, "group id")) !== undefined);
  }

  /** Adds a normal member; joining twice (or the creator joining) is a no-op. */
  addGroupMember(groupId: number, userId: number): Promise<void> {
    return this.#run(() => {
      this.#stmt("addGroupMember").run(int(groupId, "group id"), int(userId, "user id"));
    });
  }

  /** Ids of the group's members, ordered by id (empty when the group does not exist). */
  listGroupMemberIds(groupId: number): Promise<number[]> {
    return this.#run(() => {
      const rows = this.#stmt("listGroupMemberIds").all(int(groupId, "group id")) as { userid: number }[];
      return rows.map((row) => Number(row.userid));
    });
  }

  /** Every group `userId` belongs to with all its members, ordered by group id then member id. */
  listUserGroups(userId: number): Promise<GroupRecord[]> {
    return this.#run(() => {
      const rows = this.#stmt("listUserGroups").all(int(userId, "user id")) as {
        id: number;
        groupname: string;
        groupdesc: string;
        userid: number;
        name: string;
        grouprole: GroupMember["role"];
      }[];
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
        group.members.push({ id: Number(row.userid), name: String(row.name), role: row.grouprole });
      }
      return groups;
    });
  }

  /** Stores the frames in one transaction, in the given order: all are stored or none. */
  storeOffline(entries: OfflineEntry[]): Promise<void> {
    return this.#run(() => {
      if (entries.length === 0) return;
      // Validate every id before the transaction starts: a caller's bug fails the call before any write.
      const rows = entries.map((entry) =>
        [int(entry.userId, "offline message user id"), entry.frame] as const
      );
      const now = BigInt(Date.now());
      this.#transaction(() => {
        const insert = this.#stmt("storeOffline");
        for (const [userId, frame] of rows) insert.run(userId, frame, now);
      });
    });
  }

  /** The user's oldest `limit` offline messages, oldest first. */
  readOffline(userId: number, limit: number): Promise<OfflineMessage[]> {
    return this.#run(() => {
      // A negative LIMIT means "no limit" to SQLite; the caller's bound must never silently disappear.
      if (!Number.isSafeInteger(limit) || limit < 0) {
        throw new RangeError(`limit must be a non-negative integer, got ${String(limit)}`);
      }
      const rows = this.#stmt("readOffline").all(int(userId, "user id"), BigInt(limit)) as {
        id: number;
        message: string;
      }[];
      return rows.map((row) => ({ id: Number(row.id), frame: String(row.message) }));
    });
  }

  /** Deletes exactly these offline message ids of this user; ids of other users are left alone. */
  deleteOffline(userId: number, ids: number[]): Promise<void> {
    return this.#run(() => {
      const user = int(userId, "user id");
      if (ids.length > 0) this.#stmt("deleteOffline").run(user, idList(ids, "offline message id"));
    });
  }

  /** Closes the database; idempotent. Later calls reject with {@linkcode StoreUnavailableError}. */
  close(): Promise<void> {
    const db = this.#db;
    this.#db = null;
    this.#statements.clear();
    db?.close();
    return Promise.resolve();
  }

  /** Same as {@linkcode SqliteStore.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #open(): DatabaseSync {
    if (this.#db === null) {
      throw new StoreUnavailableError(`SQLite store ${JSON.stringify(this.#path)} is closed`);
    }
    return this.#db;
  }

  #stmt(name: StatementName): StatementSync {
    let statement = this.#statements.get(name);
    if (statement === undefined) {
      statement = this.#open().prepare(SQL[name]);
      this.#statements.set(name, statement);
    }
    return statement;
  }

  /**
   * Runs `fn` inside BEGIN IMMEDIATE ... COMMIT. IMMEDIATE takes the write lock up front, so waiting for
   * another process happens at BEGIN (under the busy timeout) rather than failing halfway through.
   */
  #transaction<T>(fn: (db: DatabaseSync) => T): T {
    const db = this.#open();
    this.#stmt("begin").run();
    try {
      const result = fn(db);
      this.#stmt("commit").run();
      return result;
    } catch (error) {
      // The failed statement may already have ended the transaction; only roll back one that is still open.
      if (db.isTransaction) this.#stmt("rollback").run();
      throw error;
    }
  }

  /**
   * Runs a synchronous database call as the interface's promise: every failure, argument errors included,
   * becomes a rejection, and "the database cannot be used" failures become StoreUnavailableError.
   */
  #run<T>(fn: () => T): Promise<T> {
    try {
      return Promise.resolve(fn());
    } catch (error) {
      const code = errcode(error);
      if (code !== undefined && UNAVAILABLE_CODES.has(code & 0xff)) {
        return Promise.reject(
          new StoreUnavailableError(
            `SQLite store ${JSON.stringify(this.#path)} unavailable: ${(error as Error).message}`,
            { cause: error },
          ),
        );
      }
      return Promise.reject(error);
    }
  }
}
