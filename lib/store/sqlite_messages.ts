/**
 * Conversations and their messages in SQLite: the `conversations`, `messages` and `read_seqs` tables' part of
 * `Store` (sql/sqlite/002_conversations.sql).
 *
 * Storing is the server's hot path (every chat message, DESIGN.md "Delivery without loss"), so a batch costs
 * one BEGIN IMMEDIATE/COMMIT, one INSERT per message, and per batch one read and one write of each
 * conversation's last seq and one read-seq upsert per (sender, conversation); the last seqs are kept in
 * memory while the batch runs. Every statement is prepared once and cached by the connection.
 *
 * @module
 */

import { parseConv } from "../conversation_name.ts";
import { convName, rowLimit, safeId, seqNumber, text } from "./argument_checks.ts";
import { MESSAGE_COLUMNS, type Row, storedMessage } from "./row_records.ts";
import { bindId, type SqliteConnection } from "./sqlite_connection.ts";
import type {
  AppendedMessage,
  ConversationSummary,
  MessageMethods,
  NewMessage,
  StoredMessage,
} from "./store.ts";

const SQL = {
  lastSeq: "SELECT lastseq FROM conversations WHERE conv = ?",
  setLastSeq: "INSERT INTO conversations (conv, lastseq) VALUES (?, ?) " +
    "ON CONFLICT (conv) DO UPDATE SET lastseq = excluded.lastseq",
  // A repeated (sender, cmid) inserts nothing; the caller then reads the first message back. Only that
  // index's conflict is ignored: a taken (conv, seq) would still fail the batch.
  insert: "INSERT INTO messages (conv, seq, sender, ts, mid, cmid, frame) VALUES (?, ?, ?, ?, ?, ?, ?) " +
    "ON CONFLICT (sender, cmid) WHERE cmid IS NOT NULL DO NOTHING",
  byCmid: `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE sender = ? AND cmid = ?`,
  // Both users of a new one-to-one conversation get a read_seqs row: it lists the conversation as theirs.
  joinDirect:
    "INSERT INTO read_seqs (userid, conv, readseq) VALUES (?, ?, 0) ON CONFLICT (userid, conv) DO NOTHING",
  moveRead: "INSERT INTO read_seqs (userid, conv, readseq) VALUES (?, ?, ?) " +
    "ON CONFLICT (userid, conv) DO UPDATE SET readseq = max(readseq, excluded.readseq) RETURNING readseq",
  readSeq: "SELECT readseq FROM read_seqs WHERE userid = ? AND conv = ?",
  after:
    `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE conv = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?`,
  before: `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE conv = ? AND seq < ? AND seq <= ? ` +
    "ORDER BY seq DESC LIMIT ?",
  unread: "SELECT count(*) AS unread FROM messages WHERE conv = ? AND seq > ? AND seq <= ? AND sender <> ?",
  // The user's one-to-one conversations (their read_seqs rows named "u:…"), the groups they are in (read seq
  // at least the seq they joined at), and the groups they left (capped at the seq they left at).
  conversations: "SELECT r.conv, c.lastseq, r.readseq FROM read_seqs r " +
    "JOIN conversations c ON c.conv = r.conv " +
    "WHERE r.userid = ?1 AND r.conv >= 'u:' AND r.conv < 'u;' " +
    "UNION ALL " +
    "SELECT c.conv, c.lastseq, max(g.joinseq, coalesce(r.readseq, 0)) FROM groupuser g " +
    "JOIN conversations c ON c.conv = 'g:' || g.groupid " +
    "LEFT JOIN read_seqs r ON r.userid = g.userid AND r.conv = c.conv " +
    "WHERE g.userid = ?1 " +
    "UNION ALL " +
    "SELECT c.conv, l.leftseq, min(l.leftseq, coalesce(r.readseq, 0)) FROM groupleft l " +
    "JOIN conversations c ON c.conv = 'g:' || l.groupid " +
    "LEFT JOIN read_seqs r ON r.userid = l.userid AND r.conv = c.conv " +
    "WHERE l.userid = ?1 AND l.leftseq > 0 " +
    "ORDER BY 1",
  // Retention deletes in chunks (DELETE ... LIMIT is not compiled into SQLite by default).
  deleteOld: "DELETE FROM messages WHERE rowid IN (SELECT rowid FROM messages WHERE ts < ? LIMIT ?)",
} as const;

/** Rows deleted per retention statement: each chunk blocks the event loop only briefly. */
const DELETE_CHUNK = 2000;

/** A message checked before the transaction starts, its ids bound as SQLite integers. */
interface Checked {
  message: NewMessage;
  conv: string;
  sender: bigint;
  ts: bigint;
  cmid: string | null;
}

function check(message: NewMessage): Checked {
  const conv = convName(message.conv);
  safeId(message.ts, "message ts");
  text(message.mid, "message mid");
  if (message.cmid !== undefined) text(message.cmid, "message cmid");
  if (typeof message.frame !== "function") throw new TypeError("message frame must be a function of seq");
  return {
    message,
    conv,
    sender: bindId(message.senderId, "message sender id"),
    ts: BigInt(message.ts),
    cmid: message.cmid ?? null,
  };
}

/**
 * The conversation tables over one SQLite connection.
 *
 * @example
 * ```ts
 * import type { SqliteConnection } from "./sqlite_connection.ts";
 *
 * declare const connection: SqliteConnection;
 * const messages = new SqliteMessages(connection);
 * const [stored] = await messages.appendMessages([
 *   { conv: "u:1:2", senderId: 1, mid: "m1", ts: Date.now(), frame: (seq) => JSON.stringify({ seq }) },
 * ]);
 * ```
 */
export class SqliteMessages implements MessageMethods {
  readonly #db: SqliteConnection;

  /** Statements run on `connection`, which stays the caller's to close. */
  constructor(connection: SqliteConnection) {
    this.#db = connection;
  }

  /**
   * Stores the messages in one transaction, in order, each with the next seq of its conversation; a repeated
   * (sender, cmid) is not stored again and answers the first message with `dup: true`. All or none.
   */
  appendMessages(messages: NewMessage[]): Promise<AppendedMessage[]> {
    return this.#db.run(() => {
      // Every argument is checked before the transaction: a caller's bug fails the batch before any write.
      const checked = messages.map(check);
      if (checked.length === 0) return [];
      return this.#db.transaction(() => this.#append(checked));
    });
  }

  #append(checked: Checked[]): AppendedMessage[] {
    const db = this.#db;
    const insert = db.statement(SQL.insert);
    // conv → its last seq before the batch, and as the batch goes on.
    const firstSeqs = new Map<string, number>();
    const lastSeqs = new Map<string, number>();
    // (sender, conv) → the sender's newest seq in it; "sender conv" keys.
    const readMoves = new Map<string, { sender: bigint; conv: string; seq: number }>();
    // (sender, cmid) → the first message stored with it in this batch.
    const firstByCmid = new Map<string, AppendedMessage>();
    const results: AppendedMessage[] = [];
    for (const { message, conv, sender, ts, cmid } of checked) {
      const cmidKey = cmid === null ? "" : `${sender} ${cmid}`;
      const earlier = cmid === null ? undefined : firstByCmid.get(cmidKey);
      if (earlier !== undefined) {
        results.push({ ...earlier, dup: true });
        continue;
      }
      let last = lastSeqs.get(conv);
      if (last === undefined) {
        last = Number(db.statement(SQL.lastSeq).get(conv)?.lastseq ?? 0);
        firstSeqs.set(conv, last);
        lastSeqs.set(conv, last);
      }
      const seq = last + 1;
      const frame = text(message.frame(seq), "message frame");
      if (insert.run(conv, seq, sender, ts, message.mid, cmid, frame).changes === 0) {
        // Stored by an earlier batch: answer with the first message; this one takes no seq.
        results.push({ ...storedMessage(db.statement(SQL.byCmid).get(sender, cmid) as Row), dup: true });
        continue;
      }
      lastSeqs.set(conv, seq);
      const stored: AppendedMessage = {
        conv,
        seq,
        senderId: message.senderId,
        mid: message.mid,
        ts: message.ts,
        frame,
        dup: false,
      };
      results.push(stored);
      if (cmid !== null) firstByCmid.set(cmidKey, stored);
      readMoves.set(`${sender} ${conv}`, { sender, conv, seq });
    }
    const setLastSeq = db.statement(SQL.setLastSeq);
    for (const [conv, seq] of lastSeqs) {
      const first = firstSeqs.get(conv)!;
      if (seq === first) continue;
      setLastSeq.run(conv, seq);
      if (first === 0) this.#joinDirect(conv);
    }
    const moveRead = db.statement(SQL.moveRead);
    for (const { sender, conv, seq } of readMoves.values()) moveRead.get(sender, conv, seq);
    return results;
  }

  /** Lists a new one-to-one conversation as both users' (a group's members come from `groupuser`). */
  #joinDirect(conv: string): void {
    const parsed = parseConv(conv);
    if (parsed?.kind !== "direct") return;
    const join = this.#db.statement(SQL.joinDirect);
    join.run(BigInt(parsed.low), conv);
    join.run(BigInt(parsed.high), conv);
  }

  /** The conversation's last seq (0 when it has no messages). */
  lastSeq(conv: string): Promise<number> {
    return this.#db.run(() => {
      const row = this.#db.statement(SQL.lastSeq).get(convName(conv));
      return row === undefined ? 0 : Number(row.lastseq);
    });
  }

  /** Up to `limit` messages with `after` < seq ≤ `upTo` (default: no bound), ascending. */
  messagesAfter(conv: string, after: number, limit: number, upTo?: number): Promise<StoredMessage[]> {
    return this.#db.run(() => {
      const rows = this.#db.statement(SQL.after).all(
        convName(conv),
        seqNumber(after, "after"),
        seqNumber(upTo ?? Number.MAX_SAFE_INTEGER, "upTo"),
        BigInt(rowLimit(limit)),
      );
      return rows.map(storedMessage);
    });
  }

  /** The newest `limit` messages with seq < `before` and seq ≤ `upTo`, ascending. */
  messagesBefore(conv: string, before: number, limit: number, upTo?: number): Promise<StoredMessage[]> {
    return this.#db.run(() => {
      const rows = this.#db.statement(SQL.before).all(
        convName(conv),
        seqNumber(before, "before"),
        seqNumber(upTo ?? Number.MAX_SAFE_INTEGER, "upTo"),
        BigInt(rowLimit(limit)),
      );
      return rows.reverse().map(storedMessage);
    });
  }

  /**
   * Every conversation of the user that has messages (one-to-one, groups they are in, groups they left,
   * capped at the seq they left at), ordered by conv, with unread counts of others' messages.
   */
  listConversations(userId: number): Promise<ConversationSummary[]> {
    return this.#db.run(() => {
      const user = bindId(userId, "user id");
      const unread = this.#db.statement(SQL.unread);
      const readSeq = this.#db.statement(SQL.readSeq);
      return this.#db.statement(SQL.conversations).all(user).map((row) => {
        const conv = String(row.conv);
        const lastseq = Number(row.lastseq);
        const readseq = Number(row.readseq);
        const count = lastseq > readseq ? Number(unread.get(conv, readseq, lastseq, user)?.unread) : 0;
        const summary: ConversationSummary = { conv, lastseq, readseq, unread: count };
        const parsed = parseConv(conv);
        if (parsed?.kind === "direct") {
          const peer = parsed.low === userId ? parsed.high : parsed.low;
          summary.peerread = Number(readSeq.get(BigInt(peer), conv)?.readseq ?? 0);
        }
        return summary;
      });
    });
  }

  /** Moves the user's read seq of `conv` to max(old, seq) and returns the result. */
  markRead(userId: number, conv: string, seq: number): Promise<number> {
    return this.#db.run(() => {
      const row = this.#db.statement(SQL.moveRead).get(
        bindId(userId, "user id"),
        convName(conv),
        seqNumber(seq, "seq"),
      );
      return Number(row?.readseq);
    });
  }

  /**
   * Deletes messages stored before `ts` and returns how many, a chunk at a time with the event loop free in
   * between. Conversations keep their last seq: seq never starts again.
   */
  async deleteMessagesBefore(ts: number): Promise<number> {
    const before = BigInt(safeId(ts, "ts"));
    let deleted = 0;
    for (;;) {
      const changes = await this.#db.run(() =>
        Number(this.#db.statement(SQL.deleteOld).run(before, DELETE_CHUNK).changes)
      );
      deleted += changes;
      if (changes < DELETE_CHUNK) return deleted;
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  }
}
