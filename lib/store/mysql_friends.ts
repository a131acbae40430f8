/**
 * Friends in MySQL: the `friend` table's part of `Store`, with friend requests (`mysql_friend_requests.ts`) and
 * blocks (`mysql_blocks.ts`), which change the same rows.
 *
 * @module
 */

import { safeId } from "./argument_checks.ts";
import { MysqlBlocks } from "./mysql_blocks.ts";
import { LOCK_RETRIES, type MysqlConnections } from "./mysql_connections.ts";
import { MysqlFriendRequests } from "./mysql_friend_requests.ts";
import { deleteFriendRows, lockUserPair } from "./mysql_user_pair.ts";
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
  readonly #requests: MysqlFriendRequests;
  readonly #blocks: MysqlBlocks;

  /** Statements run on `connections`, which stay the caller's to close. */
  constructor(connections: MysqlConnections) {
    this.#connections = connections;
    this.#requests = new MysqlFriendRequests(connections);
    this.#blocks = new MysqlBlocks(connections);
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

  /** Ends the friendship both ways (a no-op when there is none), in the pair's order with requests and blocks. */
  async removeFriend(userId: number, friendId: number): Promise<void> {
    const user = safeId(userId, "user id");
    const friend = safeId(friendId, "friend id");
    await this.#connections.transaction(async (db) => {
      await lockUserPair(db, user, friend);
      await deleteFriendRows(db, user, friend);
    }, { retries: LOCK_RETRIES });
  }

  /** FRIEND_REQUEST (see `mysql_friend_requests.ts`). */
  requestFriend(fromId: number, toId: number, note: string): Promise<FriendRequestOutcome> {
    return this.#requests.requestFriend(fromId, toId, note);
  }

  /** FRIEND_REPLY: `false` when there is no such request (see `mysql_friend_requests.ts`). */
  answerFriendRequest(userId: number, requesterId: number, accept: boolean): Promise<boolean> {
    return this.#requests.answerFriendRequest(userId, requesterId, accept);
  }

  /** The requests waiting for `userId`'s answer, oldest first. */
  listFriendRequests(userId: number): Promise<FriendRequestRecord[]> {
    return this.#requests.listFriendRequests(userId);
  }

  /** Sets or lifts a block, ending any friendship and request between the two (see `mysql_blocks.ts`). */
  setBlock(blockerId: number, blockedId: number, on: boolean): Promise<void> {
    return this.#blocks.setBlock(blockerId, blockedId, on);
  }

  /** Whether `blockerId` blocks `blockedId`. */
  isBlocked(blockerId: number, blockedId: number): Promise<boolean> {
    return this.#blocks.isBlocked(blockerId, blockedId);
  }

  /** The users `userId` blocks and those who block `userId`, each ordered by id. */
  listBlocks(userId: number): Promise<{ blocking: number[]; blockedBy: number[] }> {
    return this.#blocks.listBlocks(userId);
  }
}
