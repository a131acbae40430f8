/**
 * What every change between two users does first in MySQL (friend requests, their answers, removing a friend,
 * blocking): lock both users' rows, then change the `friend`, `friend_requests` and `blocks` rows of the pair.
 *
 * Why lock the users: these changes decide on what they read (is there a block? a request the other way?), and
 * a plain read under REPEATABLE READ does not stop another node from changing the pair meanwhile; locking reads
 * of rows that may not exist take gap locks, which deadlock with each other's inserts. Two `user` rows locked in
 * id order serialise every change of one pair on every node, and never deadlock among themselves. A plain read
 * made after the locks sees every such change committed before them.
 *
 * @module
 */

import type { MysqlSession } from "./mysql_connections.ts";

/**
 * Locks the two users' rows (`SELECT ... FOR UPDATE`, lower id first) until the transaction ends.
 *
 * @example
 * ```ts
 * import type { MysqlConnections } from "./mysql_connections.ts";
 *
 * declare const connections: MysqlConnections;
 * await connections.transaction(async (db) => {
 *   await lockUserPair(db, 7, 3);
 *   await addFriendRows(db, 3, 7);
 * });
 * ```
 */
export async function lockUserPair(db: MysqlSession, userId: number, otherId: number): Promise<void> {
  // One statement: the primary key is scanned in ascending order, so the lower id is locked first.
  await db.read("SELECT id FROM user WHERE id IN (?, ?) ORDER BY id FOR UPDATE", [userId, otherId]);
}

/** Makes the two friends both ways, adding whichever direction is missing. */
export async function addFriendRows(db: MysqlSession, userId: number, otherId: number): Promise<void> {
  // A row that exists is updated to itself: a no-op that, unlike INSERT IGNORE, still reports every other error.
  await db.write(
    "INSERT INTO friend (userid, friendid) VALUES (?, ?), (?, ?) ON DUPLICATE KEY UPDATE userid = userid",
    [userId, otherId, otherId, userId],
  );
}

/** Ends the friendship both ways (a no-op when there is none). */
export async function deleteFriendRows(db: MysqlSession, userId: number, otherId: number): Promise<void> {
  await db.write(
    "DELETE FROM friend WHERE (userid = ? AND friendid = ?) OR (userid = ? AND friendid = ?)",
    [userId, otherId, otherId, userId],
  );
}
