/**
 * Friend requests in MySQL: the `friend_requests` table's part of `Store` (sql/mysql/003_social.sql). A request
 * is a row until it is answered; an accepted one becomes `friend` rows both ways.
 *
 * @module
 */

import { safeId, text } from "./argument_checks.ts";
import { LOCK_RETRIES, type MysqlConnections } from "./mysql_connections.ts";
import { addFriendRows, lockUserPair } from "./mysql_user_pair.ts";
import { friendRequestRecord } from "./row_records.ts";
import type { FriendRequestOutcome, FriendRequestRecord } from "./store.ts";

/**
 * Friend requests over pooled MySQL connections. Each change is one transaction that first locks the two users
 * (`mysql_user_pair.ts`), so two nodes acting on one pair at once act one after the other.
 *
 * @example
 * ```ts
 * import type { MysqlConnections } from "./mysql_connections.ts";
 *
 * declare const connections: MysqlConnections;
 * const requests = new MysqlFriendRequests(connections);
 * if (await requests.requestFriend(1, 2, "hi, it's Ann") === "sent") {
 *   await requests.answerFriendRequest(2, 1, true);
 * }
 * ```
 */
export class MysqlFriendRequests {
  readonly #connections: MysqlConnections;

  /** Statements run on `connections`, which stay the caller's to close. */
  constructor(connections: MysqlConnections) {
    this.#connections = connections;
  }

  /**
   * FRIEND_REQUEST from `fromId` to `toId`, decided in one transaction: a block either way refuses it, friends
   * both ways need nothing, the target's own request makes them friends, a pending one stays as it is, and
   * otherwise the request is stored.
   */
  async requestFriend(fromId: number, toId: number, note: string): Promise<FriendRequestOutcome> {
    const from = safeId(fromId, "user id");
    const to = safeId(toId, "friend id");
    text(note, "note");
    return await this.#connections.transaction(async (db) => {
      await lockUserPair(db, from, to);
      const blocks = await db.read(
        "SELECT blocker FROM blocks WHERE (blocker = ? AND blocked = ?) OR (blocker = ? AND blocked = ?)",
        [to, from, from, to],
      );
      if (blocks.some((row) => Number(row.blocker) === to)) return "blocked";
      if (blocks.length > 0) return "blocking";
      const [friends] = await db.read(
        "SELECT COUNT(*) AS n FROM friend WHERE (userid = ? AND friendid = ?) OR (userid = ? AND friendid = ?)",
        [from, to, to, from],
      );
      if (Number(friends.n) === 2) return "friends";
      const asked = await db.write("DELETE FROM friend_requests WHERE requester = ? AND target = ?", [
        to,
        from,
      ]);
      if (asked.affectedRows > 0) {
        await addFriendRows(db, from, to);
        return "accepted";
      }
      // The pair is locked: nobody else can store this request between the read and the insert.
      const pending = await db.read("SELECT 1 FROM friend_requests WHERE requester = ? AND target = ?", [
        from,
        to,
      ]);
      if (pending.length > 0) return "pending";
      await db.write("INSERT INTO friend_requests (requester, target, note) VALUES (?, ?, ?)", [
        from,
        to,
        note,
      ]);
      return "sent";
    }, { retries: LOCK_RETRIES });
  }

  /**
   * Answers the request from `requesterId` to `userId`: `false` when there is none. The DELETE decides: of two
   * answers at once, on any nodes, only the one that deleted the row goes on (to make the two friends).
   */
  async answerFriendRequest(userId: number, requesterId: number, accept: boolean): Promise<boolean> {
    const user = safeId(userId, "user id");
    const requester = safeId(requesterId, "requester id");
    if (typeof accept !== "boolean") throw new TypeError(`accept must be a boolean, got ${typeof accept}`);
    return await this.#connections.transaction(async (db) => {
      await lockUserPair(db, user, requester);
      const removed = await db.write("DELETE FROM friend_requests WHERE requester = ? AND target = ?", [
        requester,
        user,
      ]);
      if (removed.affectedRows === 0) return false;
      if (accept) await addFriendRows(db, user, requester);
      return true;
    }, { retries: LOCK_RETRIES });
  }

  /** The requests waiting for `userId`'s answer, oldest first. */
  async listFriendRequests(userId: number): Promise<FriendRequestRecord[]> {
    const user = safeId(userId, "user id");
    return await this.#connections.use(async (db) => {
      const rows = await db.read(
        "SELECT u.id, u.name, r.note FROM friend_requests r JOIN user u ON u.id = r.requester " +
          "WHERE r.target = ? ORDER BY r.id",
        [user],
      );
      return rows.map(friendRequestRecord);
    });
  }
}
