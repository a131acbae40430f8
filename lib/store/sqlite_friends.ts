/**
 * Friend lists in SQLite: the `friend` table's part of `Store`.
 *
 * @module
 */

import { bindId, type SqliteConnection } from "./sqlite_connection.ts";
import { userSummary } from "./row_records.ts";
import type { FriendMethods, UserSummary } from "./store.ts";

const SQL = {
  // ON CONFLICT names the one constraint that makes a repeat a no-op; INSERT OR IGNORE would also swallow
  // NOT NULL and CHECK failures.
  add: "INSERT INTO friend (userid, friendid) VALUES (?, ?) ON CONFLICT (userid, friendid) DO NOTHING",
  friends:
    "SELECT u.id, u.name FROM friend f JOIN user u ON u.id = f.friendid WHERE f.userid = ? ORDER BY u.id",
  followers: "SELECT userid FROM friend WHERE friendid = ? ORDER BY userid",
} as const;

/**
 * The `friend` table over one SQLite connection.
 *
 * @example
 * ```ts
 * import type { SqliteConnection } from "./sqlite_connection.ts";
 *
 * declare const connection: SqliteConnection;
 * const friends = new SqliteFriends(connection);
 * const list = await friends.listFriends(1);
 * ```
 */
export class SqliteFriends implements FriendMethods {
  readonly #db: SqliteConnection;

  /** Statements run on `connection`, which stays the caller's to close. */
  constructor(connection: SqliteConnection) {
    this.#db = connection;
  }

  /** Adds `friendId` to `userId`'s list; adding twice is a no-op. */
  addFriend(userId: number, friendId: number): Promise<void> {
    return this.#db.run(() => {
      this.#db.statement(SQL.add).run(bindId(userId, "user id"), bindId(friendId, "friend id"));
    });
  }

  /** The user's friends, ordered by id. */
  listFriends(userId: number): Promise<UserSummary[]> {
    return this.#db.run(() =>
      this.#db.statement(SQL.friends).all(bindId(userId, "user id")).map(userSummary)
    );
  }

  /** Ids of the users who have `userId` in their friend list, ordered by id. */
  listFollowers(userId: number): Promise<number[]> {
    return this.#db.run(() => {
      const rows = this.#db.statement(SQL.followers).all(bindId(userId, "user id"));
      return rows.map((row) => Number(row.userid));
    });
  }
}
