/**
 * Conversations and their messages in MySQL: the `messages`, `conversations` and `read_seqs` tables'
 * part of `Store` (sql/mysql/002_conversations.sql).
 *
 * Storing (the transaction that takes the seqs) is in `mysql_append.ts`; this module reads: pages of a
 * conversation, the user's conversations with their unread counts, read seqs, and retention.
 *
 * @module
 */

import { convName, rowLimit, safeId, seqNumber } from "./argument_checks.ts";
import { appendMessages as appendBatch } from "./mysql_append.ts";
import { chunks, type MysqlConnections, type MysqlSession } from "./mysql_connections.ts";
import { MESSAGE_COLUMNS, storedMessage } from "./row_records.ts";
import { sentSeqOf } from "./sent_seqs.ts";
import { parseConv } from "../conversation_name.ts";
import type {
  AppendResult,
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
  readonly #appends: MysqlConnections;

  /**
   * Statements run on `connections`, and the append transaction on `appends` (default `connections`), whose
   * connections allow multiple statements (`mysql_script.ts`); both stay the caller's to close.
   */
  constructor(connections: MysqlConnections, appends: MysqlConnections = connections) {
    this.#connections = connections;
    this.#appends = appends;
  }

  /**
   * Stores the batch in one transaction with the next seqs of its conversations (all or none), except
   * one-to-one messages whose other user blocks the sender; see `mysql_append.ts`.
   */
  appendMessages(messages: NewMessage[]): Promise<AppendResult[]> {
    return appendBatch(this.#appends, messages);
  }

  /** The conversation's last seq (0 when it has no messages). */
  async lastSeq(conv: string): Promise<number> {
    convName(conv);
    return await this.#connections.use(async (db) => {
      const [row] = await db.read("SELECT lastseq FROM conversations WHERE conv = ?", [conv]);
      return row ? Number(row.lastseq) : 0;
    });
  }

  /** Up to `limit` messages with `after` < seq ≤ `upTo` (default: no bound), ascending. */
  async messagesAfter(conv: string, after: number, limit: number, upTo?: number): Promise<StoredMessage[]> {
    const params = [
      convName(conv),
      seqNumber(after, "after"),
      upTo === undefined ? Number.MAX_SAFE_INTEGER : seqNumber(upTo, "upTo"),
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
      seqNumber(before, "before"),
      upTo === undefined ? Number.MAX_SAFE_INTEGER : seqNumber(upTo, "upTo"),
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
        // A user's read seq is at least the last seq they sent (sent_seqs.ts): usera sent lowsentseq.
        "SELECT c.conv, c.lastseq, " +
          "GREATEST(COALESCE(mine.readseq, 0), IF(c.usera = ?, c.lowsentseq, c.highsentseq)) AS readseq, " +
          "GREATEST(COALESCE(peer.readseq, 0), IF(c.usera = ?, c.highsentseq, c.lowsentseq)) AS peerread " +
          "FROM conversations c " +
          "LEFT JOIN read_seqs mine ON mine.userid = ? AND mine.conv = c.conv " +
          "LEFT JOIN read_seqs peer ON peer.conv = c.conv AND peer.userid = IF(c.usera = ?, c.userb, c.usera) " +
          "WHERE c.usera = ? OR c.userb = ?",
        [user, user, user, user, user, user],
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
          "LEAST(l.leftseq, GREATEST(COALESCE(r.readseq, 0), COALESCE(j.joinseq, 0))) " +
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

  /**
   * Moves the user's read seq of `conv` to max(old, seq) and returns the result; in a one-to-one conversation
   * it is never below the last seq the user sent (sent_seqs.ts).
   */
  async markRead(userId: number, conv: string, seq: number): Promise<number> {
    const params = [safeId(userId, "user id"), convName(conv), seqNumber(seq, "read seq")];
    const direct = parseConv(conv)?.kind === "direct";
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
      const stored = Number(row.readseq);
      if (!direct) return stored;
      // A plain read: the conversation's row is the appends' lock, which a READ need not wait for.
      const [sent] = await db.read(
        "SELECT lowsentseq, highsentseq FROM conversations WHERE conv = ?",
        [params[1]],
      );
      return sent ? Math.max(stored, sentSeqOf(conv, userId, sent)) : stored;
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
