/**
 * Friend lists in MySQL: the `friend` table's part of `Store`.
 *
 * @module
 */

import { safeId } from "./argument_checks.ts";
import type { MysqlConnections } from "./mysql_connections.ts";
import { userSummary } from "./row_records.ts";
import type { FriendMethods, FriendRequestOutcome, FriendRequestRecord, UserSummary } from "./store.ts";

/**
 * The `friend` table over pooled MySQL connections.
 *
 * @example
 * ```ts
 * import type { MysqlConnections } from "./mysql_connections.ts";
 *
 * declare const connections: MysqlConnections;
 * const friends = new MysqlFriends(connections);
 * await friends.addFriend(1, 2);
 * ```
 */
export class MysqlFriends implements FriendMethods {
  readonly #connections: MysqlConnections;

  /** Statements run on `connections`, which stay the caller's to close. */
  constructor(connections: MysqlConnections) {
    this.#connections = connections;
  }

  /** Adds `friendId` to `userId`'s list; adding twice is a no-op. */
  async addFriend(userId: number, friendId: number): Promise<void> {
    const params = [safeId(userId, "user id"), safeId(friendId, "friend id")];
    return await this.#connections.use(async (db) => {
      // A repeat updates the key to itself: a no-op that, unlike INSERT IGNORE, still reports every other error.
      await db.write(
        "INSERT INTO friend (userid, friendid) VALUES (?, ?) ON DUPLICATE KEY UPDATE userid = userid",
        params,
      );
    });
  }

  /** The user's friends, ordered by id. */
  async listFriends(userId: number): Promise<UserSummary[]> {
    const user = safeId(userId, "user id");
    return await this.#connections.use(async (db) => {
      const rows = await db.read(
        "SELECT u.id, u.name FROM friend f JOIN user u ON u.id = f.friendid WHERE f.userid = ? ORDER BY u.id",
        [user],
      );
      return rows.map(userSummary);
    });
  }

  /** Ids of the users who have `userId` in their friend list, ordered by id. */
  async listFollowers(userId: number): Promise<number[]> {
    const user = safeId(userId, "user id");
    return await this.#connections.use(async (db) => {
      const rows = await db.read("SELECT userid FROM friend WHERE friendid = ? ORDER BY userid", [user]);
      return rows.map((row) => Number(row.userid));
    });
  }

  // Temporary stubs so that the tree type-checks; the MySQL side of issue 13 replaces them.
  requestFriend(_fromId: number, _toId: number, _note: string): Promise<FriendRequestOutcome> {
    return Promise.reject(new Error("not implemented"));
  }

  answerFriendRequest(_userId: number, _requesterId: number, _accept: boolean): Promise<boolean> {
    return Promise.reject(new Error("not implemented"));
  }

  listFriendRequests(_userId: number): Promise<FriendRequestRecord[]> {
    return Promise.reject(new Error("not implemented"));
  }

  removeFriend(_userId: number, _friendId: number): Promise<void> {
    return Promise.reject(new Error("not implemented"));
  }

  setBlock(_blockerId: number, _blockedId: number, _on: boolean): Promise<void> {
    return Promise.reject(new Error("not implemented"));
  }

  isBlocked(_blockerId: number, _blockedId: number): Promise<boolean> {
    return Promise.reject(new Error("not implemented"));
  }

  listBlocks(_userId: number): Promise<{ blocking: number[]; blockedBy: number[] }> {
    return Promise.reject(new Error("not implemented"));
  }
}
