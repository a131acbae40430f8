/**
 * Conversations and their messages in MySQL: the `messages`, `conversations` and `read_seqs` tables'
 * part of `Store` (sql/mysql/002_conversations.sql).
 *
 * Sequence numbers are safe across nodes because they are taken inside the storing transaction: the
 * conversation's row is raised by the batch's count (`INSERT ... ON DUPLICATE KEY UPDATE lastseq = lastseq + n`)
 * and read back while this transaction holds its lock, so a second node appending to the same conversation waits
 * for the commit and continues after the last seq. A rollback undoes the raise with the rows: no gap.
 *
 * @module
 */

import { rowLimit, safeId } from "./argument_checks.ts";
import { type Conversation, parseConv } from "../conversation_name.ts";
import { mysqlErrno } from "../db/errors.ts";
import {
  chunks,
  isLockConflict,
  MAX_ROW_BATCH,
  type MysqlConnections,
  type MysqlSession,
  type Param,
  placeholders,
} from "./mysql_connections.ts";
import type { Row } from "./row_records.ts";
import type {
  AppendedMessage,
  ConversationSummary,
  MessageMethods,
  NewMessage,
  StoredMessage,
} from "./store.ts";

/** Conversations bound in one statement (each takes a few placeholders). */
const MAX_CONV_BATCH = 64;
/** Rows one retention DELETE removes, so a large sweep never holds many locks or one huge undo log. */
const DELETE_BATCH = 10_000;
/**
 * Further attempts of an append batch after a lock conflict or a duplicate (sender, cmid): see
 * {@linkcode appendConflict}. Each conflict means another transaction made progress, so a few suffice.
 */
const APPEND_RETRIES = 5;
const ER_DUP_ENTRY = 1062;

/** The columns of a {@linkcode StoredMessage}, in the order {@linkcode storedMessage} reads them. */
const MESSAGE_COLUMNS = "conv, seq, sender, mid, ts, frame";

/**
 * A row of `SELECT conv, seq, sender, mid, ts, frame FROM messages`.
 *
 * @example
 * ```ts
 * const message = storedMessage({ conv: "u:1:2", seq: 1, sender: 1, mid: "m", ts: 5, frame: "{}" });
 * ```
 */
export function storedMessage(row: Row): StoredMessage {
  return {
    conv: String(row.conv),
    seq: Number(row.seq),
    senderId: Number(row.sender),
    mid: String(row.mid),
    ts: Number(row.ts),
    frame: String(row.frame),
  };
}

/**
 * `conv` parsed; a RangeError when it is not a conversation name (a caller's bug, found before any write).
 *
 * @example
 * ```ts
 * const conv = checkedConv("g:12"); // { kind: "group", groupId: 12 }
 * ```
 */
export function checkedConv(conv: string): Conversation {
  const parsed = parseConv(conv);
  if (!parsed) throw new RangeError(`not a conversation name: ${JSON.stringify(conv)}`);
  return parsed;
}

/**
 * `conv` when it is a conversation name; otherwise a RangeError (see {@linkcode checkedConv}).
 *
 * @example
 * ```ts
 * const conv = convName("u:3:7"); // "u:3:7"
 * ```
 */
export function convName(conv: string): string {
  checkedConv(conv);
  return conv;
}

/**
 * `seq` when it is a non-negative safe integer; otherwise a RangeError naming `what` it was.
 *
 * @example
 * ```ts
 * const after = checkedSeq(0, "after"); // 0
 * ```
 */
export function checkedSeq(seq: number, what: string): number {
  if (!Number.isSafeInteger(seq) || seq < 0) {
    throw new RangeError(`${what} must be a non-negative integer, got ${String(seq)}`);
  }
  return seq;
}

/**
 * Whether an append batch that failed with `error` may run again: a lock conflict with another node's batch
 * (see {@linkcode isLockConflict}), or a duplicate key, which is another node storing the same (sender, cmid)
 * after this batch looked for it; the next attempt finds that row and answers `dup: true`.
 */
function appendConflict(error: unknown): boolean {
  return isLockConflict(error) || mysqlErrno(error) === ER_DUP_ENTRY;
}

/** A message of a batch, checked. */
interface Pending {
  message: NewMessage;
  conv: Conversation;
  /** {@linkcode cmidKey} of the message, when it has a cmid. */
  key: string | undefined;
}

/** `(sender, cmid)` as one Map key. */
function cmidKey(senderId: number, cmid: string): string {
  return `${senderId}\n${cmid}`;
}

/**
 * The conversation tables over pooled MySQL connections.
 *
 * @example
 * ```ts
 * import type { MysqlConnections } from "./mysql_connections.ts";
 *
 * declare const connections: MysqlConnections;
 * const messages = new MysqlMessages(connections);
 * const [stored] = await messages.appendMessages([
 *   { conv: "u:1:2", senderId: 1, mid: "m1", ts: Date.now(), frame: (seq) => JSON.stringify({ seq }) },
 * ]);
 * ```
 */
export class MysqlMessages implements MessageMethods {
  readonly #connections: MysqlConnections;

  /** Statements run on `connections`, which stay the caller's to close. */
  constructor(connections: MysqlConnections) {
    this.#connections = connections;
  }

  /**
   * Stores the batch in one transaction with the next seqs of its conversations (all or none); a repeated
   * (sender, cmid) answers the first message with `dup: true`. A lock conflict with another node's batch, or
   * another node storing the same cmid meanwhile, runs the batch again (a few times).
   */
  async appendMessages(messages: NewMessage[]): Promise<AppendedMessage[]> {
    if (messages.length === 0) return [];
    // Checked before the transaction: a caller's bug fails the batch before any write.
    const pending = messages.map((message): Pending => {
      const senderId = safeId(message.senderId, "sender id");
      safeId(message.ts, "message ts");
      const key = message.cmid === undefined ? undefined : cmidKey(senderId, message.cmid);
      return { message, conv: checkedConv(message.conv), key };
    });
    return await this.#connections.transaction((db) => append(db, pending), {
      retries: APPEND_RETRIES,
      retryable: appendConflict,
    });
  }

  /** The conversation's last seq (0 when it has no messages). */
  async lastSeq(conv: string): Promise<number> {
    checkedConv(conv);
    return await this.#connections.use(async (db) => {
      const [row] = await db.read("SELECT lastseq FROM conversations WHERE conv = ?", [conv]);
      return row ? Number(row.lastseq) : 0;
    });
  }

  /** Up to `limit` messages with `after` < seq ≤ `upTo` (default: no bound), ascending. */
  async messagesAfter(conv: string, after: number, limit: number, upTo?: number): Promise<StoredMessage[]> {
    const params = [
      convName(conv),
      checkedSeq(after, "after"),
      upTo === undefined ? Number.MAX_SAFE_INTEGER : checkedSeq(upTo, "upTo"),
      String(rowLimit(limit)), // LIMIT bound as a string: MySQL 8 rejects the DOUBLE mysql2 sends for a number
    ];
    return await this.#connections.use(async (db) => {
      const rows = await db.read(
        `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE conv = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?`,
        params,
      );
      return rows.map(storedMessage);
    });
  }

  /** The newest `limit` messages with seq < `before` and seq ≤ `upTo`, ascending. */
  async messagesBefore(conv: string, before: number, limit: number, upTo?: number): Promise<StoredMessage[]> {
    const params = [
      convName(conv),
      checkedSeq(before, "before"),
      upTo === undefined ? Number.MAX_SAFE_INTEGER : checkedSeq(upTo, "upTo"),
      String(rowLimit(limit)),
    ];
    return await this.#connections.use(async (db) => {
      const rows = await db.read(
        `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE conv = ? AND seq < ? AND seq <= ? ` +
          "ORDER BY seq DESC LIMIT ?",
        params,
      );
      return rows.map(storedMessage).reverse();
    });
  }

  /**
   * Every conversation of the user that has messages, ordered by conv: one-to-one ones they are in (with the
   * peer's read seq), groups they are in, and groups they left (capped at the seq when they left). A group's
   * read seq is never below the seq the user joined at: nothing before it is theirs to read as unread.
   */
  async listConversations(userId: number): Promise<ConversationSummary[]> {
    const user = safeId(userId, "user id");
    return await this.#connections.use(async (db) => {
      const direct = await db.read(
        "SELECT c.conv, c.lastseq, COALESCE(mine.readseq, 0) AS readseq, COALESCE(peer.readseq, 0) AS peerread " +
          "FROM conversations c " +
          "LEFT JOIN read_seqs mine ON mine.userid = ? AND mine.conv = c.conv " +
          "LEFT JOIN read_seqs peer ON peer.conv = c.conv AND peer.userid = IF(c.usera = ?, c.userb, c.usera) " +
          "WHERE c.usera = ? OR c.userb = ?",
        [user, user, user, user],
      );
      // Groups the user is in, then groups they left (their view capped at the seq when they left).
      const groups = await db.read(
        "SELECT c.conv, c.lastseq, GREATEST(COALESCE(r.readseq, 0), COALESCE(j.joinseq, 0)) AS readseq " +
          "FROM groupuser m JOIN conversations c ON c.groupid = m.groupid " +
          "LEFT JOIN groupjoin j ON j.groupid = m.groupid AND j.userid = m.userid " +
          "LEFT JOIN read_seqs r ON r.userid = m.userid AND r.conv = c.conv " +
          "WHERE m.userid = ? " +
          "UNION ALL " +
          "SELECT c.conv, LEAST(c.lastseq, l.leftseq), " +
          "GREATEST(COALESCE(r.readseq, 0), COALESCE(j.joinseq, 0)) " +
          "FROM groupleft l JOIN conversations c ON c.groupid = l.groupid " +
          "LEFT JOIN groupjoin j ON j.groupid = l.groupid AND j.userid = l.userid " +
          "LEFT JOIN read_seqs r ON r.userid = l.userid AND r.conv = c.conv " +
          "WHERE l.userid = ?",
        [user, user],
      );
      const summaries: ConversationSummary[] = [
        ...direct.map((row) => ({
          conv: String(row.conv),
          lastseq: Number(row.lastseq),
          readseq: Number(row.readseq),
          peerread: Number(row.peerread),
          unread: 0,
        })),
        ...groups.map((row) => ({
          conv: String(row.conv),
          lastseq: Number(row.lastseq),
          readseq: Number(row.readseq),
          unread: 0,
        })),
      ].filter((summary) => summary.lastseq > 0);
      await countUnread(db, user, summaries.filter((summary) => summary.readseq < summary.lastseq));
      return summaries.sort((a, b) => a.conv < b.conv ? -1 : a.conv > b.conv ? 1 : 0);
    });
  }

  /** Moves the user's read seq of `conv` to max(old, seq) and returns the result. */
  async markRead(userId: number, conv: string, seq: number): Promise<number> {
    const params = [safeId(userId, "user id"), convName(conv), checkedSeq(seq, "read seq")];
    return await this.#connections.transaction(async (db) => {
      await db.write(
        "INSERT INTO read_seqs (userid, conv, readseq) VALUES (?, ?, ?) " +
          "ON DUPLICATE KEY UPDATE readseq = GREATEST(readseq, VALUES(readseq))",
        params,
      );
      // This transaction holds the row's lock, so it reads the value it just wrote.
      const [row] = await db.read(
        "SELECT readseq FROM read_seqs WHERE userid = ? AND conv = ? FOR UPDATE",
        params.slice(0, 2),
      );
      return Number(row.readseq);
    });
  }

  /**
   * Deletes messages stored before `ts`, in batches of {@linkcode DELETE_BATCH} rows (each its own
   * transaction, so appends are never held up for long); returns how many. Conversations keep their last seq:
   * new messages continue after it.
   */
  async deleteMessagesBefore(ts: number): Promise<number> {
    const before = safeId(ts, "ts");
    let deleted = 0;
    for (;;) {
      const result = await this.#connections.use((db) =>
        db.write("DELETE FROM messages WHERE ts < ? LIMIT ?", [before, String(DELETE_BATCH)])
      );
      deleted += result.affectedRows;
      if (result.affectedRows < DELETE_BATCH) return deleted;
    }
  }
}

/** The body of one append transaction (see {@linkcode MysqlMessages.appendMessages}). */
async function append(db: MysqlSession, batch: Pending[]): Promise<AppendedMessage[]> {
  const earlier = await storedByCmid(db, batch);
  // How many new messages (the first of their cmid, or without one) each conversation gets.
  const counts = new Map<string, { conv: Conversation; count: number }>();
  const seen = new Set<string>();
  for (const { message, conv, key } of batch) {
    if (key !== undefined && (earlier.has(key) || seen.has(key))) continue;
    if (key !== undefined) seen.add(key);
    const entry = counts.get(message.conv);
    if (entry) entry.count++;
    else counts.set(message.conv, { conv, count: 1 });
  }
  const nextSeq = await takeSeqs(db, counts);

  const results: AppendedMessage[] = [];
  const rows: Param[][] = [];
  const reads = new Map<string, Param[]>();
  for (const { message, key } of batch) {
    const first = key === undefined ? undefined : earlier.get(key);
    if (first) {
      results.push({ ...first, dup: true });
      continue;
    }
    const seq = nextSeq.get(message.conv)!;
    nextSeq.set(message.conv, seq + 1);
    const { conv, senderId, mid, ts } = message;
    const stored: AppendedMessage = { conv, seq, senderId, mid, ts, frame: message.frame(seq), dup: false };
    results.push(stored);
    // A later repeat of this cmid in the batch answers this message.
    if (key !== undefined) earlier.set(key, stored);
    rows.push([conv, seq, senderId, message.cmid ?? null, mid, ts, stored.frame]);
    // Seqs grow within the batch: the last one per (sender, conv) is the highest.
    reads.set(`${senderId}\n${conv}`, [senderId, conv, seq]);
  }
  for (const chunk of chunks(rows, MAX_ROW_BATCH)) {
    await db.write(
      "INSERT INTO messages (conv, seq, sender, cmid, mid, ts, frame) VALUES " +
        chunk.map(() => "(?, ?, ?, ?, ?, ?, ?)").join(", "),
      chunk.flat(),
    );
  }
  await raiseReadSeqs(db, [...reads.values()]);
  return results;
}

/** The messages stored before under the batch's (sender, cmid) pairs, by {@linkcode cmidKey}. */
async function storedByCmid(db: MysqlSession, batch: Pending[]): Promise<Map<string, AppendedMessage>> {
  const pairs = new Map<string, Param[]>();
  for (const { message, key } of batch) {
    if (key !== undefined) pairs.set(key, [message.senderId, message.cmid!]);
  }
  const found = new Map<string, AppendedMessage>();
  for (const chunk of chunks([...pairs.values()], MAX_CONV_BATCH)) {
    const rows = await db.read(
      `SELECT ${MESSAGE_COLUMNS}, cmid FROM messages WHERE ` +
        chunk.map(() => "(sender = ? AND cmid = ?)").join(" OR "),
      chunk.flat(),
    );
    for (const row of rows) {
      found.set(cmidKey(Number(row.sender), String(row.cmid)), { ...storedMessage(row), dup: false });
    }
  }
  return found;
}

/**
 * Raises each conversation's last seq by its count, creating the row for a new conversation, and returns the
 * first seq each may use. The rows are touched in conv order, so two nodes' batches lock them in one order
 * and cannot deadlock on them.
 */
async function takeSeqs(
  db: MysqlSession,
  counts: Map<string, { conv: Conversation; count: number }>,
): Promise<Map<string, number>> {
  const names = [...counts.keys()].sort();
  for (const chunk of chunks(names, MAX_CONV_BATCH)) {
    await db.write(
      "INSERT INTO conversations (conv, lastseq, usera, userb, groupid) VALUES " +
        chunk.map(() => "(?, ?, ?, ?, ?)").join(", ") +
        " ON DUPLICATE KEY UPDATE lastseq = lastseq + VALUES(lastseq)",
      chunk.flatMap((name) => {
        const { conv, count } = counts.get(name)!;
        return conv.kind === "direct"
          ? [name, count, conv.low, conv.high, null]
          : [name, count, null, null, conv.groupId];
      }),
    );
  }
  const next = new Map<string, number>();
  for (const chunk of chunks(names, MAX_CONV_BATCH)) {
    // FOR UPDATE reads the newest version (the one this transaction wrote), whatever the isolation level.
    const rows = await db.read(
      `SELECT conv, lastseq FROM conversations WHERE conv IN ${placeholders(chunk.length)} FOR UPDATE`,
      chunk,
    );
    for (const row of rows) {
      const conv = String(row.conv);
      next.set(conv, Number(row.lastseq) - counts.get(conv)!.count + 1);
    }
  }
  return next;
}

/** Moves each (user, conv)'s read seq up to the given seq, in key order (see {@linkcode takeSeqs}). */
async function raiseReadSeqs(db: MysqlSession, reads: Param[][]): Promise<void> {
  reads.sort((a, b) => Number(a[0]) - Number(b[0]) || (String(a[1]) < String(b[1]) ? -1 : 1));
  for (const chunk of chunks(reads, MAX_ROW_BATCH)) {
    await db.write(
      "INSERT INTO read_seqs (userid, conv, readseq) VALUES " + chunk.map(() => "(?, ?, ?)").join(", ") +
        " ON DUPLICATE KEY UPDATE readseq = GREATEST(readseq, VALUES(readseq))",
      chunk.flat(),
    );
  }
}

/** Fills in `unread` (messages past the read seq, up to the last seq, sent by others) of `summaries`. */
async function countUnread(
  db: MysqlSession,
  userId: number,
  summaries: ConversationSummary[],
): Promise<void> {
  const byConv = new Map(summaries.map((summary) => [summary.conv, summary]));
  for (const chunk of chunks(summaries, MAX_CONV_BATCH)) {
    const rows = await db.read(
      "SELECT conv, COUNT(*) AS n FROM messages WHERE sender <> ? AND (" +
        chunk.map(() => "(conv = ? AND seq > ? AND seq <= ?)").join(" OR ") + ") GROUP BY conv",
      [userId, ...chunk.flatMap((summary) => [summary.conv, summary.readseq, summary.lastseq])],
    );
    for (const row of rows) byConv.get(String(row.conv))!.unread = Number(row.n);
  }
}
