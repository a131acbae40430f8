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

import { convName, safeId, text } from "./argument_checks.ts";
import { type Conversation, parseConv, peerOf } from "../conversation_name.ts";
import { mysqlErrno } from "../db/errors.ts";
import {
  isLockConflict,
  MAX_ID_BATCH,
  type MysqlConnections,
  type Param,
  placeholders,
} from "./mysql_connections.ts";
import { type MysqlScript, scriptTransaction, slices, type Statement } from "./mysql_script.ts";
import { pairKey } from "./mysql_blocks.ts";
import type { RowDataPacket } from "mysql2/promise";
import { MESSAGE_COLUMNS, storedMessage } from "./row_records.ts";
import type { AppendedMessage, AppendResult, NewMessage } from "./store.ts";

/** cmids looked up by one statement (an OR of pairs: kept short for the range optimizer). */
const MAX_CMID_BATCH = 64;
/** Rows of a few small columns (conversations, read seqs) in one statement. */
const MAX_SMALL_ROWS = MAX_ID_BATCH;
/**
 * Message rows inserted by one statement at most; fewer when their frames are large (see messageChunks).
 */
const MAX_MESSAGE_ROWS = 64;
/**
 * Characters of frames one INSERT carries at most, as hex literals (`mysql_script.ts`): well under the
 * server's packet limit (`max_allowed_packet`, 16 MiB by default on MariaDB, 64 MiB on MySQL 8), so a batch
 * of large frames is split rather than refused.
 */
const MAX_INSERT_CHARS = 4 * 1024 * 1024;
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

/** A message of a batch, checked. */
interface Pending {
  message: NewMessage;
  conv: Conversation;
  /** {@linkcode cmidKey} of the message, when it has a cmid. */
  key: string | undefined;
  /** A one-to-one message: the other user, whose block of the sender refuses it. */
  peer: number | undefined;
}

/** `message` checked before any write: a caller's bug fails the batch with RangeError or TypeError. */
function checkMessage(message: NewMessage): Pending {
  const conv = parseConv(convName(message.conv))!;
  const senderId = safeId(message.senderId, "message sender id");
  safeId(message.ts, "message ts");
  text(message.mid, "message mid");
  if (typeof message.frame !== "function") throw new TypeError("message frame must be a function of seq");
  const key = message.cmid === undefined ? undefined : cmidKey(senderId, text(message.cmid, "message cmid"));
  return { message, conv, key, peer: peerOf(conv, senderId) ?? undefined };
}

/** `(sender, cmid)` as one Map key. */
function cmidKey(senderId: number, cmid: string): string {
  return `${senderId}\n${cmid}`;
}

/**
 * Stores the batch in one transaction with the next seqs of its conversations (all or none); a repeated
 * (sender, cmid) answers the first message with `dup: true`, and a new one-to-one message whose other user
 * blocks the sender is not stored (`{blocked: true, conv}`). A lock conflict with another node's batch, or
 * another node storing the same cmid meanwhile, runs the batch again (a few times).
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
): Promise<AppendResult[]> {
  if (messages.length === 0) return [];
  // Checked before the transaction: a caller's bug fails the batch before any write.
  const pending = messages.map(checkMessage);
  // Optimistic: a repeated cmid is rare (a client's resend), so the first attempt does not look for one; the
  // unique key refuses a repeat, and the attempts after that look first.
  let lookUp = false;
  // Unknown until an attempt found blocks: the first attempt checks them along with the seqs.
  let blocks: ReadonlySet<string> | undefined;
  return await scriptTransaction(connections, (script) => append(script, pending, lookUp, blocks), {
    retries: APPEND_RETRIES,
    retryable(error) {
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
    const { message, conv, key } = pending;
    if (key !== undefined && (earlier.has(key) || seen.has(key))) continue;
    if (blocked.has(pending)) continue;
    if (key !== undefined) seen.add(key);
    let entry = counts.get(message.conv);
    if (!entry) counts.set(message.conv, entry = { conv, count: 0, lowSent: 0, highSent: 0 });
    entry.count++;
    // Seqs are taken in batch order, so the sender's last message so far takes the count-th new seq.
    if (conv.kind === "direct") {
      if (message.senderId === conv.low) entry.lowSent = entry.count;
      else entry.highSent = entry.count;
    }
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
    ...messageChunks(rows, frames).map((chunk) => ({
      sql: "INSERT INTO messages (conv, seq, sender, cmid, mid, ts, frame) VALUES " +
        chunk.map(() => "(?, ?, ?, ?, ?, ?, ?)").join(", "),
      values: chunk.flat(),
    })),
    ...raiseReadSeqs([...reads.values()]),
  ]);
  return results;
}

/**
 * How many seqs a conversation takes in the batch, and for a one-to-one one, the position (1 to count) of the
 * last message each of its users sent among them (0: none). The upsert turns the positions into seqs.
 */
interface Taken {
  conv: Conversation;
  count: number;
  lowSent: number;
  highSent: number;
}

/** Whether a one-to-one message (`peer` defined) is refused by `blocks`. */
function isBlocked(blocks: ReadonlySet<string>, peer: number | undefined, senderId: number): boolean {
  return peer !== undefined && blocks.has(pairKey(peer, senderId));
}

/**
 * `rows` cut for multi-row INSERTs: {@linkcode MAX_MESSAGE_ROWS} at a time and the rest in one, halved while their `frames` could exceed {@linkcode MAX_INSERT_CHARS} (a single larger frame goes alone).
 */
function messageChunks(rows: Param[][], frames: string[]): Param[][][] {
  // Prefix sums of an upper bound of each frame's hex literal (3 UTF-8 bytes per UTF-16 unit, 2 digits each).
  const upTo = [0];
  for (const frame of frames) upTo.push(upTo[upTo.length - 1] + frame.length * 6);
  const out: Param[][][] = [];
  let start = 0;
  while (start < rows.length) {
    let size = Math.min(MAX_MESSAGE_ROWS, rows.length - start);
    while (size > 1 && upTo[start + size] - upTo[start] > MAX_INSERT_CHARS) size >>= 1;
    out.push(rows.slice(start, start + size));
    start += size;
  }
  return out;
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
  const raises: Statement[] = nameChunks.map((chunk) => ({
    // A new row's sent seqs are the positions themselves (its seqs start at 1). The sent seqs are assigned
    // before lastseq, so they read the old one: the same whether the server assigns left to right (MySQL,
    // MariaDB by default) or all at once (MariaDB's SIMULTANEOUS_ASSIGNMENT).
    sql: "INSERT INTO conversations (conv, lastseq, usera, userb, groupid, lowsentseq, highsentseq) VALUES " +
      chunk.map(() => "(?, ?, ?, ?, ?, ?, ?)").join(", ") +
      " ON DUPLICATE KEY UPDATE " +
      "lowsentseq = IF(VALUES(lowsentseq) = 0, lowsentseq, lastseq + VALUES(lowsentseq)), " +
      "highsentseq = IF(VALUES(highsentseq) = 0, highsentseq, lastseq + VALUES(highsentseq)), " +
      "lastseq = lastseq + VALUES(lastseq)",
    values: chunk.flatMap((name) => {
      const { conv, count, lowSent, highSent } = counts.get(name)!;
      return conv.kind === "direct"
        ? [name, count, conv.low, conv.high, null, lowSent, highSent]
        : [name, count, null, null, conv.groupId, 0, 0];
    }),
  }));
  // The blocks by the batch's peers of the batch's senders: two IN lists (an index range of the primary key,
  // cheap for MariaDB to plan) rather than an OR of pairs (planned anew at every execution, which cost a
  // tenth of a cluster's chat throughput). A superset of the pairs, filtered here.
  const wanted = new Set(pairs.map(([blocker, blocked]) => pairKey(blocker, blocked)));
  const blockers = [...new Set(pairs.map(([blocker]) => blocker))];
  const blocked = [...new Set(pairs.map(([, blocked]) => blocked))];
  // A plain read: InnoDB shows a transaction its own changes, and the upsert above applied them to the newest
  // committed row, which no one else can change before this transaction ends. (FOR UPDATE would add nothing
  // but risk: on a small table the optimizer scans it whole and a locking read then locks every row.)
  const reads: Statement[] = nameChunks.map((chunk) => ({
    sql: `SELECT conv, lastseq FROM conversations WHERE conv IN ${placeholders(chunk.length)}`,
    values: chunk,
  }));
  if (pairs.length > 0) {
    reads.push({
      sql: `SELECT blocker, blocked FROM blocks WHERE blocker IN ${placeholders(blockers.length)} ` +
        `AND blocked IN ${placeholders(blocked.length)}`,
      values: [...blockers, ...blocked],
    });
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
      " ON DUPLICATE KEY UPDATE readseq = GREATEST(readseq, VALUES(readseq))",
    values: chunk.flat(),
  }));
}
