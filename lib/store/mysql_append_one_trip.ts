/**
 * The optimistic first attempt of a MySQL chat append (`mysql_append.ts`): the whole transaction in ONE
 * multi-statement round trip, for a batch that holds no repeated cmid of an earlier batch and no blocked
 * message (nearly every batch). The seqs are taken in SQL, where the node would need a round trip to learn them:
 *
 * 1. START TRANSACTION and the conversations' upsert that raises their last seqs (as the two-trip path does);
 * 2. for a batch with one-to-one messages, a check that fails the script (error 1690) when the blocks table
 *    holds a row of the batch's peers blocking its senders (a superset of the pairs: the two-trip path that
 *    follows reads which ones), before anything is inserted;
 * 3. the raised last seqs into user variables (`@seq0`, `@seq1`, ..., one per conversation, in conv order);
 * 4. the messages' INSERT, each seq an expression of its conversation's variable (`@seq0 - 2`) and each frame
 *    `CONCAT(prefix, seq, suffix)`, where the node cut prefix and suffix from the frame built with a probe seq
 *    ({@linkcode splitFrame}); a group sender's read seq likewise;
 * 5. the variables read back (the node builds the results' frames from them), and COMMIT.
 *
 * A failure (a block, a duplicate cmid, a lock conflict) rolls the attempt back, raised seqs included (no gap),
 * and the two-trip algorithm runs the next attempts. A batch with a frame the probe cannot cut takes the two
 * trips from the start. User variables belong to the connection; each script sets its own before using them.
 * The SQL is portable to MariaDB 10.11 and MySQL 8 (`SELECT ... INTO` before FROM is not deprecated there).
 *
 * @module
 */

import type { RowDataPacket } from "mysql2/promise";
import { mysqlErrno } from "../db/errors.ts";
import { placeholders } from "./mysql_connections.ts";
import { type MysqlScript, slices, type Statement } from "./mysql_script.ts";
import type { AppendedMessage, AppendResult } from "./store.ts";
import {
  blocksOf,
  countSeq,
  MAX_SMALL_ROWS,
  messageChunks,
  type Pending,
  RAISE_READ_SEQ,
  raiseConversations,
  type Taken,
} from "./mysql_append_batch.ts";

/** A seq no conversation reaches, whose digits mark where a frame holds its seq. */
export const PROBE_SEQ = 7_390_418_265_937_016;
const PROBE_TEXT = String(PROBE_SEQ);
/**
 * A second seq, of another length: a frame built for it must be the probe's frame with the digits replaced,
 * or the frame does not hold its seq as plain digits once (it lacks them, or a user's text holds the probe's
 * digits, or something in it depends on the seq's length) and the batch takes the two round trips.
 */
const CHECK_SEQ = 42;
/** The largest BIGINT, which the block check's count overflows ({@linkcode blockCheck}). */
const BIGINT_MAX = "9223372036854775807";
/** MySQL's "BIGINT value is out of range": the block check's failure. */
const ER_DATA_OUT_OF_RANGE = 1690;

/** A frame cut around its seq: the stored frame of seq n is prefix + n + suffix. */
export interface FrameParts {
  prefix: string;
  suffix: string;
}

/**
 * `frame` cut where it writes its seq, or `undefined` when a frame builder's text for a seq is not one text
 * with the seq's digits in one place (see {@linkcode CHECK_SEQ}).
 *
 * @example
 * ```ts
 * splitFrame((seq) => `{"seq":${seq}}`); // { prefix: '{"seq":', suffix: "}" }
 * splitFrame(() => "no seq"); // undefined
 * ```
 */
export function splitFrame(frame: (seq: number) => string): FrameParts | undefined {
  const probe = frame(PROBE_SEQ);
  if (typeof probe !== "string") return undefined; // the two-trip path reports it
  const at = probe.indexOf(PROBE_TEXT);
  if (at < 0 || probe.indexOf(PROBE_TEXT, at + 1) >= 0) return undefined;
  const parts = { prefix: probe.slice(0, at), suffix: probe.slice(at + PROBE_TEXT.length) };
  return frame(CHECK_SEQ) === parts.prefix + CHECK_SEQ + parts.suffix ? parts : undefined;
}

/** Whether `error` is the one round trip's block check finding a block (or its superset's false alarm). */
export function isBlockFound(error: unknown): boolean {
  return mysqlErrno(error) === ER_DATA_OUT_OF_RANGE;
}

/**
 * Stores `batch` in one round trip on a script that has sent nothing yet, and commits; `undefined`, having
 * sent nothing, when a frame cannot be cut ({@linkcode splitFrame}). Rejects with the server's error when the
 * batch holds a block ({@linkcode isBlockFound}), a cmid stored before (a duplicate key), or lost a lock
 * conflict: the caller rolls back and runs the two-trip path.
 */
export async function appendInOneTrip(
  script: MysqlScript,
  batch: readonly Pending[],
): Promise<AppendResult[] | undefined> {
  const parts: FrameParts[] = [];
  for (const { message } of batch) {
    const cut = splitFrame(message.frame);
    if (cut === undefined) return undefined;
    parts.push(cut);
  }
  // Each message's position among its conversation's new ones; 0 for a repeat of a cmid earlier in the batch,
  // which answers that message (`firstOf`, by cmid key).
  const counts = new Map<string, Taken>();
  const firstOf = new Map<string, number>();
  const positions = batch.map((pending, index) => {
    if (pending.key !== undefined) {
      if (firstOf.has(pending.key)) return 0;
      firstOf.set(pending.key, index);
    }
    return countSeq(counts, pending);
  });
  const names = [...counts.keys()].sort();
  const nameChunks = slices(names, MAX_SMALL_ROWS);
  const variables = new Map(names.map((name, index) => [name, `@seq${index}`]));
  /** The SQL of a new message's seq: its conversation's raised last seq, less the messages after it. */
  const seqSql = (index: number): string => {
    const { conv } = batch[index].message;
    return `${variables.get(conv)} - ${counts.get(conv)!.count - positions[index]}`;
  };

  const added = batch.flatMap((_, index) => positions[index] === 0 ? [] : [index]);
  const inserts = messageChunks(
    added,
    added.map((index) => parts[index].prefix.length + parts[index].suffix.length),
  )
    .map((chunk): Statement => ({
      sql: "INSERT INTO messages (conv, seq, sender, cmid, mid, ts, frame) VALUES " +
        // The frame reads the row's seq column, set earlier in its value list (MySQL and MariaDB allow that).
        chunk.map((index) => `(?, ${seqSql(index)}, ?, ?, ?, ?, CONCAT(?, seq, ?))`).join(", "),
      values: chunk.flatMap((index) => {
        const { conv, senderId, cmid, mid, ts } = batch[index].message;
        return [conv, senderId, cmid ?? null, mid, ts, parts[index].prefix, parts[index].suffix];
      }),
    }));
  // A group sender's read seq moves to their last message of the batch (a one-to-one one's moved with the
  // conversation's row), in key order as the two-trip path writes them.
  const reads = new Map<string, { userId: number; conv: string; index: number }>();
  for (const index of added) {
    const { message, peer } = batch[index];
    if (peer === undefined) {
      reads.set(`${message.senderId}\n${message.conv}`, {
        userId: message.senderId,
        conv: message.conv,
        index,
      });
    }
  }
  const readRows = [...reads.values()].sort((a, b) => a.userId - b.userId || (a.conv < b.conv ? -1 : 1));
  const readSeqs = slices(readRows, MAX_SMALL_ROWS).map((chunk): Statement => ({
    sql: "INSERT INTO read_seqs (userid, conv, readseq) VALUES " +
      chunk.map(({ index }) => `(?, ?, ${seqSql(index)})`).join(", ") + RAISE_READ_SEQ,
    values: chunk.flatMap(({ userId, conv }) => [userId, conv]),
  }));

  const results = await script.commit([
    ...raiseConversations(counts, nameChunks),
    ...blockCheck(batch),
    ...nameChunks.map((chunk): Statement => ({
      sql: `SELECT ${chunk.map(() => "MAX(IF(conv = ?, lastseq, NULL))").join(", ")} ` +
        `INTO ${chunk.map((name) => variables.get(name)).join(", ")} ` +
        `FROM conversations WHERE conv IN ${placeholders(chunk.length)}`,
      values: [...chunk, ...chunk],
    })),
    ...inserts,
    ...readSeqs,
    ...nameChunks.map((chunk): Statement => ({
      sql: `SELECT ${chunk.map((name) => variables.get(name)).join(", ")}`,
      values: [],
    })),
  ]);

  const lastSeqs = new Map<string, number>();
  const variableRows = results.slice(results.length - nameChunks.length);
  nameChunks.forEach((chunk, c) => {
    // One row whose columns are the chunk's variables, in its order.
    const row = Object.values((variableRows[c] as RowDataPacket[])[0]);
    chunk.forEach((name, k) => lastSeqs.set(name, Number(row[k])));
  });
  const out: AppendResult[] = [];
  batch.forEach(({ message, key }, index) => {
    if (positions[index] === 0) {
      out.push({ ...out[firstOf.get(key!)!] as AppendedMessage, dup: true });
      return;
    }
    const { conv, senderId, mid, ts } = message;
    const seq = lastSeqs.get(conv)! - counts.get(conv)!.count + positions[index];
    const frame = parts[index].prefix + seq + parts[index].suffix;
    out.push({ conv, seq, senderId, mid, ts, frame, dup: false });
  });
  return out;
}

/**
 * For a batch with one-to-one messages, a statement that fails with error 1690 ("BIGINT value is out of range")
 * exactly when the blocks table holds a row of the batch's peers blocking its senders: the largest BIGINT plus
 * their count overflows from one row on, whatever the `sql_mode`. (A scalar subquery of those rows and one
 * more, failing with 1242, costs MariaDB a temporary table per batch; `DO` lets either error pass as a warning
 * on MariaDB.)
 */
function blockCheck(batch: readonly Pending[]): Statement[] {
  const pairs = batch.flatMap(({ peer, message }): [number, number][] =>
    peer === undefined ? [] : [[peer, message.senderId]]
  );
  if (pairs.length === 0) return [];
  const where = blocksOf(pairs);
  return [{
    sql: `SELECT ${BIGINT_MAX} + COUNT(*) INTO @unblocked FROM blocks WHERE ${where.sql}`,
    values: where.values,
  }];
}
