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

  /** Sets the display copy of a user's presence; a missing user is ignored. */
  setUserState(id: number, online: boolean): Promise<void> {
    return this.#db.run(() =>
      this.#db.withoutSync(() => {
        this.#db.statement(SQL.setState).run(online ? "online" : "offline", bindId(id, "user id"));
      })
    );
  }

  /** Marks `ids` offline, or every user when `ids` is omitted; an empty array changes nothing. */
  setUsersOffline(ids?: number[]): Promise<void> {
    return this.#db.run(() =>
      this.#db.withoutSync(() => {
        if (ids === undefined) this.#db.statement(SQL.setAllOffline).run();
        else if (ids.length > 0) this.#db.statement(SQL.setOffline).run(idList(ids, "user id"));
      })
    );
  }
}
