/**
 * Taking seqs in MySQL's `conversations` rows, for `mysql_append.ts`: each row's last seq is raised by the
 * batch's count (`INSERT ... ON DUPLICATE KEY UPDATE lastseq = lastseq + n`) and read back while the storing
 * transaction holds its lock, so a second node appending to the same conversation waits for the commit and
 * continues after the last seq. A rollback undoes the raise with the rows: no gap.
 *
 * The read back also tells, for a one-to-one conversation, whether either of its users blocks the other: the
 * check that storing needs costs no statement of its own.
 *
 * @module
 */

import type { Conversation } from "../conversation_name.ts";
import { pairKey } from "./mysql_blocks.ts";
import { MAX_ID_BATCH, type MysqlSession, paddedChunks, placeholders } from "./mysql_connections.ts";

/** Rows of a few small columns written or read by one statement. */
const MAX_SMALL_ROWS = MAX_ID_BATCH;

/** How many seqs each conversation (by name) takes, or gives back when negative. */
export type SeqCounts = Map<string, { conv: Conversation; count: number }>;

/** What {@linkcode readSeqs} found. */
export interface ConversationSeqs {
  /** The first seq each conversation of the counts may use. */
  next: Map<string, number>;
  /** The blocks between the users of the one-to-one conversations read, as `pairKey(blocker, blocked)`. */
  blocks: Set<string>;
}

/**
 * Raises each conversation's last seq by its count (lowers it for a negative count), creating the row of a
 * new conversation. The rows are touched in conv order, so two nodes' batches lock them in one order and
 * cannot deadlock on them.
 *
 * @example
 * ```ts
 * import type { MysqlSession } from "./mysql_connections.ts";
 *
 * declare const db: MysqlSession;
 * const counts: SeqCounts = new Map([["g:7", { conv: { kind: "group", groupId: 7 }, count: 2 }]]);
 * await raiseSeqs(db, counts);
 * const { next } = await readSeqs(db, counts); // next.get("g:7"): the first of the two seqs taken
 * ```
 */
export async function raiseSeqs(db: MysqlSession, counts: SeqCounts): Promise<void> {
  const names = [...counts.keys()].sort();
  for (const chunk of paddedChunks(names, MAX_SMALL_ROWS)) {
    await db.write(
      "INSERT INTO conversations (conv, lastseq, usera, userb, groupid) VALUES " +
        chunk.map(() => "(?, ?, ?, ?, ?)").join(", ") +
        " ON DUPLICATE KEY UPDATE lastseq = lastseq + VALUES(lastseq)",
      chunk.flatMap((name, i) => {
        const { conv, count } = counts.get(name)!;
        // A padding row repeats the one before it and raises nothing.
        const raise = i > 0 && chunk[i - 1] === name ? 0 : count;
        return conv.kind === "direct"
          ? [name, raise, conv.low, conv.high, null]
          : [name, raise, null, null, conv.groupId];
      }),
    );
  }
}

/**
 * The first seq each conversation of `counts` may use once {@linkcode raiseSeqs} took them, and the blocks
 * between the users of its one-to-one conversations.
 */
export async function readSeqs(db: MysqlSession, counts: SeqCounts): Promise<ConversationSeqs> {
  const next = new Map<string, number>();
  const blocks = new Set<string>();
  for (const chunk of paddedChunks([...counts.keys()].sort(), MAX_SMALL_ROWS)) {
    // A plain read: InnoDB shows a transaction its own changes, and the upsert applied them to the newest
    // committed row, which no one else can change before this transaction ends. (FOR UPDATE would add nothing
    // but risk: on a small table the optimizer scans it whole and a locking read then locks every row.) Its
    // snapshot is at the latest this statement, so it sees every block committed before the batch began. A
    // group's row has no users: no block.
    const rows = await db.read(
      "SELECT c.conv, c.lastseq, c.usera, c.userb, " +
        "EXISTS (SELECT 1 FROM blocks b WHERE b.blocker = c.usera AND b.blocked = c.userb) AS lowblocks, " +
        "EXISTS (SELECT 1 FROM blocks b WHERE b.blocker = c.userb AND b.blocked = c.usera) AS highblocks " +
        `FROM conversations c WHERE c.conv IN ${placeholders(chunk.length)}`,
      chunk,
    );
    for (const row of rows) {
      const conv = String(row.conv);
      next.set(conv, Number(row.lastseq) - counts.get(conv)!.count + 1);
      if (Number(row.lowblocks) === 1) blocks.add(pairKey(Number(row.usera), Number(row.userb)));
      if (Number(row.highblocks) === 1) blocks.add(pairKey(Number(row.userb), Number(row.usera)));
    }
  }
  return { next, blocks };
}

/**
 * Removes the rows of `names` whose last seq is 0: conversations that this transaction created and then took
 * every seq back from (each of their messages refused), so that no empty conversation is left.
 */
export async function dropEmpty(db: MysqlSession, names: string[]): Promise<void> {
  for (const chunk of paddedChunks(names.toSorted(), MAX_SMALL_ROWS)) {
    await db.write(
      `DELETE FROM conversations WHERE conv IN ${placeholders(chunk.length)} AND lastseq = 0`,
      chunk,
    );
  }
}
