/**
 * Blocks in SQLite: the `blocks` table's part of `Store` (sql/sqlite/003_social.sql). A block ends every
 * friendship and pending request between the two users, in one transaction, and stops a friend request and a
 * one-to-one message from the blocked user ({@linkcode blocks}, read inside those writers' transactions).
 *
 * @module
 */

import { bindId, type SqliteConnection } from "./sqlite_connection.ts";
import type { FriendMethods } from "./store.ts";

const SQL = {
  isBlocked: "SELECT 1 FROM blocks WHERE blocker = ? AND blocked = ?",
  block: "INSERT INTO blocks (blocker, blocked) VALUES (?, ?) ON CONFLICT (blocker, blocked) DO NOTHING",
  unblock: "DELETE FROM blocks WHERE blocker = ? AND blocked = ?",
  // Both directions; each DELETE is two primary key (or UNIQUE) lookups.
  unfriend: "DELETE FROM friend WHERE (userid = ?1 AND friendid = ?2) OR (userid = ?2 AND friendid = ?1)",
  dropRequests: "DELETE FROM friend_requests " +
    "WHERE (requester = ?1 AND target = ?2) OR (requester = ?2 AND target = ?1)",
  blocking: "SELECT blocked FROM blocks WHERE blocker = ? ORDER BY blocked",
  blockedBy: "SELECT blocker FROM blocks WHERE blocked = ? ORDER BY blocker",
} as const;

/**
 * Whether `blocker` blocks `blocked`, for a caller already inside a transaction on `connection` (a friend
 * request, a message being stored): one primary key lookup.
 *
 * @example
 * ```ts
 * import type { SqliteConnection } from "./sqlite_connection.ts";
 *
 * declare const connection: SqliteConnection;
 * const refused = blocks(connection, 2n, 1n);
 * ```
 */
export function blocks(connection: SqliteConnection, blocker: bigint, blocked: bigint): boolean {
  return connection.statement(SQL.isBlocked).get(blocker, blocked) !== undefined;
}

/**
 * Removes every friend row and pending request between two users, both directions, for a caller inside a
 * transaction on `connection` (a block, a removed friendship).
 *
 * @example
 * ```ts
 * import type { SqliteConnection } from "./sqlite_connection.ts";
 *
 * declare const connection: SqliteConnection;
 * connection.transaction(() => unfriend(connection, 1n, 2n, { requests: true }));
 * ```
 */
export function unfriend(
  connection: SqliteConnection,
  a: bigint,
  b: bigint,
  options: { requests: boolean },
): void {
  connection.statement(SQL.unfriend).run(a, b);
  if (options.requests) connection.statement(SQL.dropRequests).run(a, b);
}

/** The block methods of `Store`. */
export type BlockMethods = Pick<FriendMethods, "setBlock" | "isBlocked" | "listBlocks">;

/**
 * The `blocks` table over one SQLite connection.
 *
 * @example
 * ```ts
 * import type { SqliteConnection } from "./sqlite_connection.ts";
 *
 * declare const connection: SqliteConnection;
 * const blockList = new SqliteBlocks(connection);
 * await blockList.setBlock(1, 2, true);
 * ```
 */
export class SqliteBlocks implements BlockMethods {
  readonly #db: SqliteConnection;

  /** Statements run on `connection`, which stays the caller's to close. */
  constructor(connection: SqliteConnection) {
    this.#db = connection;
  }

  /**
   * `on`: `blockerId` blocks `blockedId`, and every friendship and pending request between the two ends, in
   * one transaction. `!on`: lifts the block (nothing else comes back). Both idempotent.
   */
  setBlock(blockerId: number, blockedId: number, on: boolean): Promise<void> {
    return this.#db.run(() => {
      const blocker = bindId(blockerId, "blocker id");
      const blocked = bindId(blockedId, "blocked id");
      if (typeof on !== "boolean") throw new TypeError(`on must be a boolean, got ${typeof on}`);
      if (!on) {
        this.#db.statement(SQL.unblock).run(blocker, blocked);
        return;
      }
      this.#db.transaction(() => {
        this.#db.statement(SQL.block).run(blocker, blocked);
        unfriend(this.#db, blocker, blocked, { requests: true });
      });
    });
  }

  /** Whether `blockerId` blocks `blockedId`. */
  isBlocked(blockerId: number, blockedId: number): Promise<boolean> {
    return this.#db.run(() =>
      blocks(this.#db, bindId(blockerId, "blocker id"), bindId(blockedId, "blocked id"))
    );
  }

  /** The users `userId` blocks and those who block `userId`, each ordered by id. */
  listBlocks(userId: number): Promise<{ blocking: number[]; blockedBy: number[] }> {
    return this.#db.run(() => {
      const user = bindId(userId, "user id");
      return {
        blocking: this.#db.statement(SQL.blocking).all(user).map((row) => Number(row.blocked)),
        blockedBy: this.#db.statement(SQL.blockedBy).all(user).map((row) => Number(row.blocker)),
      };
    });
  }
}
