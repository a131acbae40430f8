/**
 * Users and their presence in SQLite: the `user` table's part of `Store`.
 *
 * @module
 */

import { bindId, idList, type SqliteConnection, uniqueName } from "./sqlite_connection.ts";
import { userRecord } from "./row_records.ts";
import type { UserMethods, UserRecord } from "./store.ts";

const SQL = {
  create: "INSERT INTO user (name, password) VALUES (?, ?)",
  find: "SELECT id, name, password FROM user WHERE id = ?",
  existing: "SELECT id FROM user WHERE id IN (SELECT value FROM json_each(?))",
  setState: "UPDATE user SET state = ? WHERE id = ?",
  setAllOffline: "UPDATE user SET state = 'offline' WHERE state <> 'offline'",
  setOffline:
    "UPDATE user SET state = 'offline' WHERE state <> 'offline' AND id IN (SELECT value FROM json_each(?))",
} as const;

/**
 * How long presence copies wait to share one write transaction. A reconnect storm logs in thousands of users
 * a second, and a commit each cost about 50 µs of the event loop; nothing reads the copy on a hot path.
 */
export const STATE_BATCH_MS = 10;
/**
 * At most this many copies per transaction, so a mass disconnect (or the shutdown of a node with 10,000
 * sessions) is not one transaction that holds the event loop for tens of milliseconds.
 */
export const STATE_BATCH_MAX = 200;

/**
 * The `user` table over one SQLite connection.
 *
 * @example
 * ```ts
 * import type { SqliteConnection } from "./sqlite_connection.ts";
 *
 * declare const connection: SqliteConnection;
 * const users = new SqliteUsers(connection);
 * const found = await users.findUser(1);
 * ```
 */
export class SqliteUsers implements UserMethods {
  readonly #db: SqliteConnection;
  /** Presence copies waiting for their batch: user → state (the last one asked for wins). */
  #states = new Map<bigint, "online" | "offline">();
  #batch: { done: PromiseWithResolvers<void>; timer: ReturnType<typeof setTimeout> } | undefined;

  /** Statements run on `connection`, which stays the caller's to close. */
  constructor(connection: SqliteConnection) {
    this.#db = connection;
  }

  /** Creates a user; rejects with {@linkcode NameTakenError} when `name` exists. */
  createUser(name: string, passwordHash: string): Promise<number> {
    return this.#db.run(() =>
      uniqueName(() => Number(this.#db.statement(SQL.create).run(name, passwordHash).lastInsertRowid), {
        kind: "user",
        name,
      })
    );
  }

  /** The user with this id, or `null`. */
  findUser(id: number): Promise<UserRecord | null> {
    return this.#db.run(() => {
      const row = this.#db.statement(SQL.find).get(bindId(id, "user id"));
      return row ? userRecord(row) : null;
    });
  }

  /** Which of `ids` exist. */
  existingUsers(ids: number[]): Promise<Set<number>> {
    return this.#db.run(() => {
      if (ids.length === 0) return new Set<number>();
      const rows = this.#db.statement(SQL.existing).all(idList(ids, "user id"));
      return new Set(rows.map((row) => Number(row.id)));
    });
  }

  /**
   * Sets the display copy of a user's presence; a missing user is ignored. Resolves once written: in one
   * transaction with the others asked for within {@linkcode STATE_BATCH_MS} (up to
   * {@linkcode STATE_BATCH_MAX}).
   */
  setUserState(id: number, online: boolean): Promise<void> {
    let user: bigint;
    try {
      user = bindId(id, "user id");
    } catch (error) {
      return Promise.reject(error);
    }
    this.#states.set(user, online ? "online" : "offline");
    const batch = this.#batch ??= {
      done: Promise.withResolvers<void>(),
      timer: setTimeout(() => this.flushStates(), STATE_BATCH_MS),
    };
    if (this.#states.size >= STATE_BATCH_MAX) this.flushStates();
    return batch.done.promise;
  }

  /** Writes the presence copies waiting for their batch now (the store calls it before closing). */
  flushStates(): void {
    const batch = this.#batch;
    if (!batch) return;
    clearTimeout(batch.timer);
    this.#batch = undefined;
    const states = this.#states;
    this.#states = new Map();
    this.#db.run(() =>
      this.#db.withoutSync(() =>
        this.#db.transaction(() => {
          const setState = this.#db.statement(SQL.setState);
          for (const [user, state] of states) setState.run(state, user);
        })
      )
    ).then(batch.done.resolve, batch.done.reject);
  }

  /** Marks `ids` offline, or every user when `ids` is omitted; an empty array changes nothing. */
  setUsersOffline(ids?: number[]): Promise<void> {
    // The copies asked for before are written first, so this one is not overwritten by them.
    this.flushStates();
    return this.#db.run(() =>
      this.#db.withoutSync(() => {
        if (ids === undefined) this.#db.statement(SQL.setAllOffline).run();
        else if (ids.length > 0) this.#db.statement(SQL.setOffline).run(idList(ids, "user id"));
      })
    );
  }
}
