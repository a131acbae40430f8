/**
 * Friend lists in SQLite: the `friend` and `friend_requests` tables' part of `Store`, plus the blocks
 * (`sqlite_blocks.ts`) that stop requests. Friends means both directions of `friend`; a one-way row is what
 * v1 ADD_FRIEND makes.
 *
 * @module
 */

import { text } from "./argument_checks.ts";
import { friendRequestRecord, userSummary } from "./row_records.ts";
import { blocks, SqliteBlocks, unfriend } from "./sqlite_blocks.ts";
import { bindId, type SqliteConnection } from "./sqlite_connection.ts";
import type { FriendMethods, FriendRequestOutcome, FriendRequestRecord, UserSummary } from "./store.ts";

const SQL = {
  // ON CONFLICT names the one constraint that makes a repeat a no-op; INSERT OR IGNORE would also swallow
  // NOT NULL and CHECK failures.
  add: "INSERT INTO friend (userid, friendid) VALUES (?, ?) ON CONFLICT (userid, friendid) DO NOTHING",
  friends:
    "SELECT u.id, u.name FROM friend f JOIN user u ON u.id = f.friendid WHERE f.userid = ? ORDER BY u.id",
  followers: "SELECT userid FROM friend WHERE friendid = ? ORDER BY userid",
  isFriend: "SELECT 1 FROM friend WHERE userid = ? AND friendid = ?",
  isRequested: "SELECT 1 FROM friend_requests WHERE requester = ? AND target = ?",
  request: "INSERT INTO friend_requests (requester, target, note) VALUES (?, ?, ?)",
  dropRequest: "DELETE FROM friend_requests WHERE requester = ? AND target = ?",
  requests: "SELECT u.id, u.name, r.note FROM friend_requests r JOIN user u ON u.id = r.requester " +
    "WHERE r.target = ? ORDER BY r.id",
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
  readonly #blocks: SqliteBlocks;

  /** Statements run on `connection`, which stays the caller's to close. */
  constructor(connection: SqliteConnection) {
    this.#db = connection;
    this.#blocks = new SqliteBlocks(connection);
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

  /**
   * FRIEND_REQUEST from `fromId` to `toId`, decided in one transaction: refused by a block either way
   * (`blocked` before `blocking`), `friends` when both directions exist, `accepted` when the target had asked
   * first (both directions now; that request gone), `pending` when asked before, else `sent`.
   */
  requestFriend(fromId: number, toId: number, note: string): Promise<FriendRequestOutcome> {
    return this.#db.run(() => {
      const from = bindId(fromId, "requester id");
      const to = bindId(toId, "target id");
      text(note, "friend request note");
      return this.#db.transaction((): FriendRequestOutcome => {
        if (blocks(this.#db, to, from)) return "blocked";
        if (blocks(this.#db, from, to)) return "blocking";
        if (this.#isFriend(from, to) && this.#isFriend(to, from)) return "friends";
        if (this.#db.statement(SQL.dropRequest).run(to, from).changes > 0) {
          this.#befriend(from, to);
          return "accepted";
        }
        if (this.#db.statement(SQL.isRequested).get(from, to) !== undefined) return "pending";
        this.#db.statement(SQL.request).run(from, to, note);
        return "sent";
      });
    });
  }

  /**
   * Removes the pending request from `requesterId` to `userId` and, on `accept`, makes the two friends both
   * ways; `false` when there is none. The DELETE decides: of two answers, only the one that removed the row
   * goes on.
   */
  answerFriendRequest(userId: number, requesterId: number, accept: boolean): Promise<boolean> {
    return this.#db.run(() => {
      const user = bindId(userId, "user id");
      const requester = bindId(requesterId, "requester id");
      if (typeof accept !== "boolean") throw new TypeError(`accept must be a boolean, got ${typeof accept}`);
      return this.#db.transaction(() => {
        if (this.#db.statement(SQL.dropRequest).run(requester, user).changes === 0) return false;
        if (accept) this.#befriend(user, requester);
        return true;
      });
    });
  }

  /** The requests waiting for `userId`'s answer, oldest first. */
  listFriendRequests(userId: number): Promise<FriendRequestRecord[]> {
    return this.#db.run(() =>
      this.#db.statement(SQL.requests).all(bindId(userId, "user id")).map(friendRequestRecord)
    );
  }

  /** Removes the friendship in both directions (a no-op when there is none); pending requests stay. */
  removeFriend(userId: number, friendId: number): Promise<void> {
    return this.#db.run(() => {
      unfriend(this.#db, bindId(userId, "user id"), bindId(friendId, "friend id"), { requests: false });
    });
  }

  /** Blocks (ending friendship and requests both ways) or unblocks; see `sqlite_blocks.ts`. */
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

  #isFriend(userId: bigint, friendId: bigint): boolean {
    return this.#db.statement(SQL.isFriend).get(userId, friendId) !== undefined;
  }

  /** Adds whichever direction of the friendship is missing. */
  #befriend(a: bigint, b: bigint): void {
    const add = this.#db.statement(SQL.add);
    add.run(a, b);
    add.run(b, a);
  }
}
