/**
 * Storing chat messages in MySQL: the transaction behind `Store.appendMessages` (tables of
 * sql/mysql/002_conversations.sql).
 *
 * Sequence numbers are safe across nodes because they are taken inside the storing transaction: each
 * conversation's row is raised by the batch's count (`INSERT ... ON DUPLICATE KEY UPDATE lastseq = lastseq + n`)
 * and read back while this transaction holds its lock, so a second node appending to the same conversation waits
 * for the commit and continues after the last seq. A rollback undoes the raise with the rows: no gap.
 *
 * One transaction per batch, whatever its size, in TWO round trips (`mysql_script.ts`: multi-statement text
 * queries on the store's append connections): START TRANSACTION with the upsert and the read of the
 * conversations' rows, then the multi-row INSERTs of the messages, the upsert of the group senders' read seqs
 * and COMMIT. A one-to-one sender's read seq moves in the conversation's upsert (its sent seq columns,
 * `sent_seqs.ts`): no row of its own. Round trips, not rows, are what a batch waits for (a node stores its
 * batches one after another): six prepared statements one after another took 2.0 ms for a batch of 25 where
 * the two take 1.8 ms, with 10% less CPU in the node per message and 3-8% more in MariaDB
 * (`tests/bench/append_mysql.ts`, README).
 *
 * Blocks (a one-to-one message whose other user blocks the sender is not stored) cost no round trip of their
 * own: the read of the conversations' rows also reads the blocks between the batch's (peer, sender) pairs.
 * That read comes after the seqs were taken as if nothing were blocked, so when it finds a block the attempt
 * is rolled back (its raised seqs with it: no gap) and the next attempt leaves the blocked messages out.
 * Blocked messages are rare, and a batch pays that second attempt only when it holds one.
 *
 * @module
 */

import { text } from "./argument_checks.ts";
import { mysqlErrno } from "../db/errors.ts";
import { isLockConflict, type MysqlConnections, type Param, placeholders } from "./mysql_connections.ts";
import { type MysqlScript, scriptTransaction, slices, type Statement } from "./mysql_script.ts";
import { pairKey } from "./mysql_blocks.ts";
import type { RowDataPacket } from "mysql2/promise";
import { MESSAGE_COLUMNS, storedMessage } from "./row_records.ts";
import type { AppendedMessage, AppendResult, NewMessage } from "./store.ts";
import {
  blocksOf,
  checkMessage,
  cmidKey,
  countSeq,
  MAX_SMALL_ROWS,
  messageChunks,
  type Pending,
  RAISE_READ_SEQ,
  raiseConversations,
  type Taken,
} from "./mysql_append_batch.ts";
import { appendInOneTrip, isBlockFound } from "./mysql_append_one_trip.ts";

/** cmids looked up by one statement (an OR of pairs: kept short for the range optimizer). */
const MAX_CMID_BATCH = 64;
/**
 * Further attempts of an append batch, each a new transaction after a ROLLBACK (which also undoes the raised
 * last seqs: no gap). Two failures are worth another attempt:
 * - a lock conflict with another node's batch ({@linkcode isLockConflict}): InnoDB gave this transaction up
 *   to let the other finish, so running it again succeeds once that one committed;
 * - a duplicate (sender, cmid): a client's resend, or the same message stored meanwhile through another node;
 *   the next attempt finds the first message and answers `dup: true`.
 * Each conflict means another transaction made progress, so a few attempts suffice.
 */
const APPEND_RETRIES = 5;
const ER_DUP_ENTRY = 1062;

/**
 * Ends an attempt that took seqs for one-to-one messages whose other user blocks the sender: the attempt is
 * rolled back, and the next one refuses the messages of these (blocker, blocked) pairs ({@linkcode pairKey}).
 */
class BlocksFound extends Error {
  constructor(readonly pairs: ReadonlySet<string>) {
    super("the batch holds messages to users who block their sender");
  }
}

/**
 * Stores the batch in one transaction with the next seqs of its conversations (all or none); a repeated
 * (sender, cmid) answers the first message with `dup: true`, and a new one-to-one message whose other user
 * blocks the sender is not stored (`{blocked: true, conv}`). A lock conflict with another node's batch, or
 * another node storing the same cmid meanwhile, runs the batch again (a few times). `options.oneTrip`: false
 * takes the two round trips from the first attempt (tests compare the two paths).
 *
 * @example
 * ```ts
 * import type { MysqlConnections } from "./mysql_connections.ts";
 *
 * declare const connections: MysqlConnections;
 * const [result] = await appendMessages(connections, [
 *   { conv: "u:1:2", senderId: 1, mid: "m1", ts: Date.now(), frame: (seq) => JSON.stringify({ seq }) },
 * ]);
 * if (!("blocked" in result)) console.log(result.seq); // 1 in a new conversation
 * ```
 */
export async function appendMessages(
  connections: MysqlConnections,
  messages: NewMessage[],
  options: { oneTrip?: boolean } = {},
): Promise<AppendResult[]> {
  if (messages.length === 0) return [];
  // Checked before the transaction: a caller's bug fails the batch before any write.
  const pending = messages.map(checkMessage);
  // Optimistic: a repeated cmid is rare (a client's resend), so the first attempt does not look for one; the
  // unique key refuses a repeat, and the attempts after that look first.
  let lookUp = false;
  // Unknown until an attempt found blocks: the first attempt checks them along with the seqs.
  let blocks: ReadonlySet<string> | undefined;
  // The first attempt tries the one round trip (`mysql_append_one_trip.ts`); a batch it does not fit, and
  // every attempt after a failure of any kind, takes the two.
  let oneTrip = options.oneTrip ?? true;
  return await scriptTransaction(connections, async (script) => {
    if (oneTrip) {
      oneTrip = false;
      const results = await appendInOneTrip(script, pending);
      if (results !== undefined) return results;
    }
    return await append(script, pending, lookUp, blocks);
  }, {
    retries: APPEND_RETRIES,
    retryable(error) {
      // The one round trip found a block, or a superset's false alarm: the next attempt reads which.
      if (isBlockFound(error)) return true;
      if (error instanceof BlocksFound) {
        blocks = error.pairs;
        return true;
      }
      if (mysqlErrno(error) !== ER_DUP_ENTRY) return isLockConflict(error);
      lookUp = true;
      return true;
    },
  });
}

/**
 * The body of one append transaction (see {@linkcode appendMessages}). `blocks`: the (blocker, blocked) pairs
 * an earlier attempt found, or `undefined` on the first attempt, which checks them with the seqs.
 */
async function append(
  script: MysqlScript,
  batch: Pending[],
  lookUp: boolean,
  blocks: ReadonlySet<string> | undefined,
): Promise<AppendResult[]> {
  const earlier = lookUp ? await storedByCmid(script, batch) : new Map<string, AppendedMessage>();
  const blocked = new Set(
    blocks === undefined
      ? []
      : batch.filter(({ peer, message }) => isBlocked(blocks, peer, message.senderId)),
  );
  if (!lookUp && blocked.size > 0) {
    // A resend of a message stored before the block is still its dup, which the optimistic first attempt would
    // not notice (nothing is inserted): only then are the refused messages' cmids looked up.
    const refused = batch.filter((pending) => blocked.has(pending) && pending.key !== undefined);
    for (const [key, first] of await storedByCmid(script, refused)) earlier.set(key, first);
  }
  // How many new messages (the first of their cmid, or without one, and not blocked) each conversation gets.
  // A blocked message claims no cmid: a later message of the batch with the same one is stored.
  const counts = new Map<string, Taken>();
  const seen = new Set<string>();
  for (const pending of batch) {
    const { key } = pending;
    if (key !== undefined && (earlier.has(key) || seen.has(key))) continue;
    if (blocked.has(pending)) continue;
    if (key !== undefined) seen.add(key);
    countSeq(counts, pending);
  }
  // On the first attempt, the pairs of the one-to-one messages about to take a seq: read with the seqs.
  const check = blocks !== undefined ? [] : [
    ...new Map(
      batch.filter(({ peer, key }) => peer !== undefined && !(key !== undefined && earlier.has(key)))
        .map(({ peer, message }): [string, [number, number]] => [
          pairKey(peer!, message.senderId),
          [peer!, message.senderId],
        ]),
    ).values(),
  ];
  const { nextSeq, found } = await takeSeqs(script, counts, check);
  if (found.size > 0) throw new BlocksFound(found);

  const results: AppendResult[] = [];
  const rows: Param[][] = [];
  const frames: string[] = [];
  const reads = new Map<string, Param[]>();
  for (const pending of batch) {
    const { message, key } = pending;
    const first = key === undefined ? undefined : earlier.get(key);
    if (first) {
      results.push({ ...first, dup: true });
      continue;
    }
    if (blocked.has(pending)) {
      results.push({ blocked: true, conv: message.conv });
      continue;
    }
    const seq = nextSeq.get(message.conv)!;
    nextSeq.set(message.conv, seq + 1);
    const { conv, senderId, mid, ts } = message;
    const frame = text(message.frame(seq), "message frame");
    const stored: AppendedMessage = { conv, seq, senderId, mid, ts, frame, dup: false };
    results.push(stored);
    // A later repeat of this cmid in the batch answers this message.
    if (key !== undefined) earlier.set(key, stored);
    rows.push([conv, seq, senderId, message.cmid ?? null, mid, ts, frame]);
    frames.push(frame);
    // A group sender's read seq moves (a one-to-one one's moved with the conversation's row). Seqs grow within
    // the batch: the last one per (sender, conv) is the highest.
    if (pending.peer === undefined) reads.set(`${senderId}\n${conv}`, [senderId, conv, seq]);
  }
  // The rows and the read seqs go with the COMMIT: one round trip (a few for a batch of large frames).
  await script.commit([
    ...messageChunks(rows, frames.map((frame) => frame.length)).map((chunk) => ({
      sql: "INSERT INTO messages (conv, seq, sender, cmid, mid, ts, frame) VALUES " +
        chunk.map(() => "(?, ?, ?, ?, ?, ?, ?)").join(", "),
      values: chunk.flat(),
    })),
    ...raiseReadSeqs([...reads.values()]),
  ]);
  return results;
}

/** Whether a one-to-one message (`peer` defined) is refused by `blocks`. */
function isBlocked(blocks: ReadonlySet<string>, peer: number | undefined, senderId: number): boolean {
  return peer !== undefined && blocks.has(pairKey(peer, senderId));
}

/** The messages stored before under the batch's (sender, cmid) pairs, by {@linkcode cmidKey}. */
async function storedByCmid(
  script: MysqlScript,
  batch: readonly Pending[],
): Promise<Map<string, AppendedMessage>> {
  const pairs = new Map<string, Param[]>();
  for (const { message, key } of batch) {
    if (key !== undefined) pairs.set(key, [message.senderId, message.cmid!]);
  }
  const results = await script.run(
    slices([...pairs.values()], MAX_CMID_BATCH).map((chunk) => ({
      sql: `SELECT ${MESSAGE_COLUMNS}, cmid FROM messages WHERE ` +
        chunk.map(() => "(sender = ? AND cmid = ?)").join(" OR "),
      values: chunk.flat(),
    })),
  );
  const found = new Map<string, AppendedMessage>();
  for (const row of results.flatMap((rows) => rows as RowDataPacket[])) {
    found.set(cmidKey(Number(row.sender), String(row.cmid)), { ...storedMessage(row), dup: false });
  }
  return found;
}

/**
 * Raises each conversation's last seq by its count, creating the row for a new conversation, and moves a
 * one-to-one sender's sent seq column to their last seq of the batch (the old last seq plus the position of
 * their last message); returns the first seq each may use (`nextSeq`) and which of the (blocker, blocked)
 * `pairs` are blocks (`found`, by {@linkcode pairKey}), read in this transaction after the raise: every block
 * committed before the read is seen. The rows are touched in conv order, so two nodes' batches lock them in one order and cannot
 * deadlock on them. The upserts and the reads are one round trip.
 */
async function takeSeqs(
  script: MysqlScript,
  counts: Map<string, Taken>,
  pairs: [number, number][],
): Promise<{ nextSeq: Map<string, number>; found: Set<string> }> {
  const names = [...counts.keys()].sort();
  const nameChunks = slices(names, MAX_SMALL_ROWS);
  const raises = raiseConversations(counts, nameChunks);
  const wanted = new Set(pairs.map(([blocker, blocked]) => pairKey(blocker, blocked)));
  // A plain read: InnoDB shows a transaction its own changes, and the upsert above applied them to the newest
  // committed row, which no one else can change before this transaction ends. (FOR UPDATE would add nothing
  // but risk: on a small table the optimizer scans it whole and a locking read then locks every row.)
  const reads: Statement[] = nameChunks.map((chunk) => ({
    sql: `SELECT conv, lastseq FROM conversations WHERE conv IN ${placeholders(chunk.length)}`,
    values: chunk,
  }));
  if (pairs.length > 0) {
    const where = blocksOf(pairs);
    reads.push({ sql: `SELECT blocker, blocked FROM blocks WHERE ${where.sql}`, values: where.values });
  }
  const results = await script.run([...raises, ...reads]);
  const next = new Map<string, number>();
  for (const rows of results.slice(raises.length, raises.length + nameChunks.length)) {
    for (const row of rows as RowDataPacket[]) {
      const conv = String(row.conv);
      next.set(conv, Number(row.lastseq) - counts.get(conv)!.count + 1);
    }
  }
  const found = new Set<string>();
  for (const rows of results.slice(raises.length + nameChunks.length)) {
    for (const row of rows as RowDataPacket[]) {
      const key = pairKey(Number(row.blocker), Number(row.blocked));
      if (wanted.has(key)) found.add(key);
    }
  }
  return { nextSeq: next, found };
}

/** Statements that move each (user, conv)'s read seq up to the given seq, in key order (see {@linkcode takeSeqs}). */
function raiseReadSeqs(reads: Param[][]): Statement[] {
  reads.sort((a, b) => Number(a[0]) - Number(b[0]) || (String(a[1]) < String(b[1]) ? -1 : 1));
  return slices(reads, MAX_SMALL_ROWS).map((chunk) => ({
    sql: "INSERT INTO read_seqs (userid, conv, readseq) VALUES " + chunk.map(() => "(?, ?, ?)").join(", ") +
      RAISE_READ_SEQ,
    values: chunk.flat(),
  }));
}
