/**
 * Blocks in MySQL: the `blocks` table's part of `Store` (sql/mysql/003_social.sql), and the lookup that storing
 * one-to-one messages makes ({@linkcode blockedPairs}).
 *
 * @module
 */

import { safeId } from "./argument_checks.ts";
import {
  LOCK_RETRIES,
  MAX_ID_BATCH,
  type MysqlConnections,
  type MysqlSession,
  paddedChunks,
} from "./mysql_connections.ts";
import { deleteFriendRows, lockUserPair } from "./mysql_user_pair.ts";

/**
 * (blocker, blocked) pairs looked up by one statement: an OR of primary key lookups, which the range optimizer
 * serves as that many point ranges. As many as the conversation rows of one append statement, so that a batch of
 * one node's writer (a message in flight per busy pair) reads its blocks in one round trip.
 */
const MAX_PAIR_BATCH = MAX_ID_BATCH;

/**
 * The `blocks` table over pooled MySQL connections. A change is one transaction that first locks the two users
 * (`mysql_user_pair.ts`), as friend requests do, so a request and a block of one pair never interleave.
 *
 * @example
 * ```ts
 * import type { MysqlConnections } from "./mysql_connections.ts";
 *
 * declare const connections: MysqlConnections;
 * const blocks = new MysqlBlocks(connections);
 * await blocks.setBlock(1, 2, true);
 * await blocks.isBlocked(1, 2); // true
 * ```
 */
export class MysqlBlocks {
  readonly #connections: MysqlConnections;

  /** Statements run on `connections`, which stay the caller's to close. */
  constructor(connections: MysqlConnections) {
    this.#connections = connections;
  }

  /**
   * `on`: `blockerId` blocks `blockedId`, and any friendship and pending request between the two, either way,
   * ends in the same transaction. `!on`: lifts the block. Both are idempotent.
   */
  async setBlock(blockerId: number, blockedId: number, on: boolean): Promise<void> {
    const blocker = safeId(blockerId, "blocker id");
    const blocked = safeId(blockedId, "blocked id");
    if (typeof on !== "boolean") throw new TypeError(`on must be a boolean, got ${typeof on}`);
    await this.#connections.transaction(async (db) => {
      await lockUserPair(db, blocker, blocked);
      if (!on) {
        await db.write("DELETE FROM blocks WHERE blocker = ? AND blocked = ?", [blocker, blocked]);
        return;
      }
      await db.write(
        "INSERT INTO blocks (blocker, blocked) VALUES (?, ?) ON DUPLICATE KEY UPDATE blocker = blocker",
        [blocker, blocked],
      );
      await deleteFriendRows(db, blocker, blocked);
      await db.write(
        "DELETE FROM friend_requests WHERE (requester = ? AND target = ?) OR (requester = ? AND target = ?)",
        [blocker, blocked, blocked, blocker],
      );
    }, { retries: LOCK_RETRIES });
  }

  /** Whether `blockerId` blocks `blockedId`. */
  async isBlocked(blockerId: number, blockedId: number): Promise<boolean> {
    const pair = [safeId(blockerId, "blocker id"), safeId(blockedId, "blocked id")];
    return await this.#connections.use(async (db) =>
      (await db.read("SELECT 1 FROM blocks WHERE blocker = ? AND blocked = ?", pair)).length > 0
    );
  }

  /** The users `userId` blocks and those who block `userId`, each ordered by id. */
  async listBlocks(userId: number): Promise<{ blocking: number[]; blockedBy: number[] }> {
    const user = safeId(userId, "user id");
    return await this.#connections.use(async (db) => {
      const rows = await db.read(
        "SELECT blocked AS id, 1 AS mine FROM blocks WHERE blocker = ? " +
          "UNION ALL SELECT blocker, 0 FROM blocks WHERE blocked = ? ORDER BY id",
        [user, user],
      );
      const blocking: number[] = [];
      const blockedBy: number[] = [];
      for (const row of rows) (Number(row.mine) === 1 ? blocking : blockedBy).push(Number(row.id));
      return { blocking, blockedBy };
    });
  }
}

/**
 * Which of the (blocker, blocked) `pairs` are blocks, as `"blocker blocked"` keys: one statement for up to
 * {@linkcode MAX_PAIR_BATCH} distinct pairs, each a primary key lookup. A plain read: inside a transaction it
 * sees every block committed before the transaction's first read.
 *
 * @example
 * ```ts
 * import type { MysqlSession } from "./mysql_connections.ts";
 *
 * declare const db: MysqlSession;
 * const found = await blockedPairs(db, [[2, 1], [3, 1]]);
 * found.has(pairKey(2, 1)); // true when user 2 blocks user 1
 * ```
 */
export async function blockedPairs(db: MysqlSession, pairs: [number, number][]): Promise<Set<string>> {
  const distinct = new Map(
    pairs.map(([blocker, blocked]) => [pairKey(blocker, blocked), [blocker, blocked]]),
  );
  const found = new Set<string>();
  // A padding pair repeats the one before it: the OR finds it once.
  for (const chunk of paddedChunks([...distinct.values()], MAX_PAIR_BATCH)) {
    const rows = await db.read(
      `SELECT blocker, blocked FROM blocks WHERE ${
        chunk.map(() => "(blocker = ? AND blocked = ?)").join(" OR ")
      }`,
      chunk.flat(),
    );
    for (const row of rows) found.add(pairKey(Number(row.blocker), Number(row.blocked)));
  }
  return found;
}

/**
 * The key of one (blocker, blocked) pair in {@linkcode blockedPairs}' answer.
 *
 * @example
 * ```ts
 * pairKey(2, 1); // "2 1"
 * ```
 */
export function pairKey(blocker: number, blocked: number): string {
  return `${blocker} ${blocked}`;
}
