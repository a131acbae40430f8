/**
 * Conversations and their messages in SQLite: the `conversations`, `messages` and `read_seqs` tables' part of
 * `Store` (sql/sqlite/002_conversations.sql).
 *
 * Storing is the server's hot path (every chat message, DESIGN.md "Delivery without loss"), so a batch costs
 * one BEGIN IMMEDIATE/COMMIT, one INSERT per message, one UPDATE of each conversation's last seq (which also
 * moves a one-to-one sender's read seq: its sent seq columns, `sent_seqs.ts`) and one of each
 * (sender, group)'s read seq, plus one primary key lookup per (sender, peer) of one-to-one messages: whether
 * the peer blocks the sender, read inside the transaction so that no committed block is missed. Last seqs are
 * remembered between batches, so they are read from the database only after another process wrote to it.
 * Every statement is prepared once and cached by the connection. What remains is mostly SQLite's own: the
 * COMMIT writes one index page per conversation of the batch to the WAL (the (conv, seq) index keeps each
 * conversation together). Checkpoints, which fsync, run in a worker thread (`sqlite_checkpointer.ts`); a
 * commit checkpoints only the remainder, every 4000 pages.
 *
 * @module
 */

import { parseConv } from "../conversation_name.ts";
import { convName, rowLimit, safeId, seqNumber, text } from "./argument_checks.ts";
import { MESSAGE_COLUMNS, type Row, storedMessage } from "./row_records.ts";
import { sentSeqOf } from "./sent_seqs.ts";
import { blocks } from "./sqlite_blocks.ts";
import { bindId, type SqliteConnection } from "./sqlite_connection.ts";
import type {
  AppendedMessage,
  AppendResult,
  ConversationSummary,
  MessageMethods,
  NewMessage,
  StoredMessage,
} from "./store.ts";

const SQL = {
  lastSeq: "SELECT lastseq FROM conversations WHERE conv = ?",
  // The last seq, and the last seq each user of a one-to-one conversation sent (0: unchanged; groups: 0).
  newConv: "INSERT INTO conversations (conv, lastseq, lowsentseq, highsentseq) VALUES (?, ?, ?, ?)",
  setLastSeq: "UPDATE conversations SET lastseq = ?2, lowsentseq = max(lowsentseq, ?3), " +
    "highsentseq = max(highsentseq, ?4) WHERE conv = ?1",
  sentSeqs: "SELECT lowsentseq, highsentseq FROM conversations WHERE conv = ?",
  // Changes whenever another connection (another process) commits: then cached last seqs may be stale.
  dataVersion: "PRAGMA data_version",
  // A repeated (sender, cmid) inserts nothing; the caller then reads the first message back. Only that
  // index's conflict is ignored: a taken (conv, seq) would still fail the batch.
  insert: "INSERT INTO messages (conv, seq, sender, ts, mid, cmid, frame) VALUES (?, ?, ?, ?, ?, ?, ?) " +
    "ON CONFLICT (sender, cmid) WHERE cmid IS NOT NULL DO NOTHING",
  byCmid: `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE sender = ? AND cmid = ?`,
  // Both users of a new one-to-one conversation get a read_seqs row: it lists the conversation as theirs.
  joinDirect:
    "INSERT INTO read_seqs (userid, conv, readseq) VALUES (?, ?, 0) ON CONFLICT (userid, conv) DO NOTHING",
  // A group message moves its sender's read seq. The append path updates first and inserts only when there is
  // no row: cheaper than an upsert, which tries the insert first.
  raiseRead: "UPDATE read_seqs SET readseq = max(readseq, ?3) WHERE userid = ?1 AND conv = ?2",
  addRead: "INSERT INTO read_seqs (userid, conv, readseq) VALUES (?, ?, ?)",
  markRead: "INSERT INTO read_seqs (userid, conv, readseq) VALUES (?, ?, ?) " +
    "ON CONFLICT (userid, conv) DO UPDATE SET readseq = max(readseq, excluded.readseq) RETURNING readseq",
  readSeq: "SELECT readseq FROM read_seqs WHERE userid = ? AND conv = ?",
  after:
    `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE conv = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?`,
  before: `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE conv = ? AND seq < ? AND seq <= ? ` +
    "ORDER BY seq DESC LIMIT ?",
  unread: "SELECT count(*) AS unread FROM messages WHERE conv = ? AND seq > ? AND seq <= ? AND sender <> ?",
  // The user's one-to-one conversations (their read_seqs rows named "u:…", with the seqs each side sent), the
  // groups they are in (read seq at least the seq they joined at), and the groups they left (capped at the seq
  // they left at).
  conversations: "SELECT r.conv, c.lastseq, r.readseq, c.lowsentseq, c.highsentseq FROM read_seqs r " +
    "JOIN conversations c ON c.conv = r.conv " +
    "WHERE r.userid = ?1 AND r.conv >= 'u:' AND r.conv < 'u;' " +
    "UNION ALL " +
    "SELECT c.conv, c.lastseq, max(g.joinseq, coalesce(r.readseq, 0)), 0, 0 FROM groupuser g " +
    "JOIN conversations c ON c.conv = 'g:' || g.groupid " +
    "LEFT JOIN read_seqs r ON r.userid = g.userid AND r.conv = c.conv " +
    "WHERE g.userid = ?1 " +
    "UNION ALL " +
    "SELECT c.conv, l.leftseq, min(l.leftseq, coalesce(r.readseq, 0)), 0, 0 FROM groupleft l " +
    "JOIN conversations c ON c.conv = 'g:' || l.groupid " +
    "LEFT JOIN read_seqs r ON r.userid = l.userid AND r.conv = c.conv " +
    "WHERE l.userid = ?1 AND l.leftseq > 0 " +
    "ORDER BY 1",
  // Retention deletes in chunks (DELETE ... LIMIT is not compiled into SQLite by default).
  deleteOld: "DELETE FROM messages WHERE rowid IN (SELECT rowid FROM messages WHERE ts < ? LIMIT ?)",
} as const;

/** Rows deleted per retention statement: each chunk blocks the event loop only briefly. */
const DELETE_CHUNK = 2000;

/** Conversations whose last seq is kept in memory at most; past it the cache starts afresh. */
const MAX_CACHED_CONVS = 100_000;

/** A message checked before the transaction starts, its ids bound as SQLite integers. */
interface Checked {
  message: NewMessage;
  conv: string;
  sender: bigint;
  /** One-to-one only: the other user, who may block the sender. */
  peer: bigint | null;
  ts: bigint;
  cmid: string | null;
}

function check(message: NewMessage): Checked {
  const conv = convName(message.conv);
  const parsed = parseConv(conv);
  safeId(message.ts, "message ts");
  text(message.mid, "message mid");
  if (message.cmid !== undefined) text(message.cmid, "message cmid");
  if (typeof message.frame !== "function") throw new TypeError("message frame must be a function of seq");
  return {
    message,
    conv,
    sender: bindId(message.senderId, "message sender id"),
    peer: parsed?.kind === "direct"
      ? BigInt(parsed.low === message.senderId ? parsed.high : parsed.low)
      : null,
    ts: BigInt(message.ts),
    cmid: message.cmid ?? null,
  };
}

/** What one appendMessages() call has done so far. */
class Batch {
  /** conv → its last seq before the batch. */
  readonly firstSeqs = new Map<string, number>();
  /** conv → its last seq as the batch goes on. */
  readonly lastSeqs = new Map<string, number>();
  /** "sender conv" → the sender's newest seq in a group conversation (its read seq moves there). */
  readonly readMoves = new Map<string, { sender: bigint; conv: string; seq: number }>();
  /** One-to-one conv → the newest seq each of its users sent in this batch (0: none). */
  readonly sentSeqs = new Map<string, { low: number; high: number }>();
  /** "sender cmid" → the first message stored with it in this batch. */
  readonly firstByCmid = new Map<string, AppendedMessage>();
  /** "peer sender" → whether the peer blocks the sender, as read in this batch's transaction. */
  readonly blocked = new Map<string, boolean>();
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
  /**
   * conv → last seq, as this connection last committed or read it: saves a read per conversation per batch.
   * Valid while no other connection commits (`PRAGMA data_version` unchanged), which each batch checks.
   */
  readonly #lastSeqs = new Map<string, number>();
  #dataVersion = -1;

  /** Statements run on `connection`, which stays the caller's to close. */
  constructor(connection: SqliteConnection) {
    this.#db = connection;
  }

  /**
   * Stores the messages in one transaction, in order, each with the next seq of its conversation; a repeated
   * (sender, cmid) is not stored again and answers the first message with `dup: true`. A new one-to-one
   * message whose other user blocks the sender is not stored and answers `{ blocked: true }`. All or none.
   */
  appendMessages(messages: NewMessage[]): Promise<AppendResult[]> {
    return this.#db.run(() => {
      // Every argument is checked before the transaction: a caller's bug fails the batch before any write.
      const checked = messages.map(check);
      if (checked.length === 0) return [];
      const batch = new Batch();
      const results = this.#db.transaction(() => this.#append(checked, batch));
      // Only a committed batch's seqs may be remembered.
      if (this.#lastSeqs.size + batch.lastSeqs.size > MAX_CACHED_CONVS) this.#lastSeqs.clear();
      for (const [conv, seq] of batch.lastSeqs) this.#lastSeqs.set(conv, seq);
      return results;
    });
  }

  #append(checked: Checked[], batch: Batch): AppendResult[] {
    const db = this.#db;
    // The write lock is held from BEGIN IMMEDIATE: nobody else commits until this batch does.
    const version = Number(db.statement(SQL.dataVersion).get()?.data_version);
    if (version !== this.#dataVersion) {
      this.#lastSeqs.clear();
      this.#dataVersion = version;
    }
    const insert = db.statement(SQL.insert);
    const results: AppendResult[] = [];
    for (const { message, conv, sender, peer, ts, cmid } of checked) {
      const cmidKey = cmid === null ? "" : `${sender} ${cmid}`;
      const earlier = cmid === null ? undefined : batch.firstByCmid.get(cmidKey);
      if (earlier !== undefined) {
        results.push({ ...earlier, dup: true });
        continue;
      }
      if (peer !== null && this.#blocks(batch, peer, sender)) {
        // A message stored before the block is still answered as the dup it is; a new one takes no seq.
        const first = cmid === null ? undefined : db.statement(SQL.byCmid).get(sender, cmid);
        results.push(first === undefined ? { blocked: true, conv } : { ...storedMessage(first), dup: true });
        continue;
      }
      let last = batch.lastSeqs.get(conv);
      if (last === undefined) {
        last = this.#lastSeqs.get(conv) ?? Number(db.statement(SQL.lastSeq).get(conv)?.lastseq ?? 0);
        batch.firstSeqs.set(conv, last);
        batch.lastSeqs.set(conv, last);
      }
      const seq = last + 1;
      const frame = text(message.frame(seq), "message frame");
      if (insert.run(conv, seq, sender, ts, message.mid, cmid, frame).changes === 0) {
        // Stored by an earlier batch: answer with the first message; this one takes no seq.
        results.push({ ...storedMessage(db.statement(SQL.byCmid).get(sender, cmid) as Row), dup: true });
        continue;
      }
      batch.lastSeqs.set(conv, seq);
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
      if (cmid !== null) batch.firstByCmid.set(cmidKey, stored);
      if (peer === null) {
        batch.readMoves.set(`${sender} ${conv}`, { sender, conv, seq });
      } else {
        const sent = batch.sentSeqs.get(conv) ?? { low: 0, high: 0 };
        if (sender < peer) sent.low = seq;
        else sent.high = seq;
        batch.sentSeqs.set(conv, sent);
      }
    }
    for (const [conv, seq] of batch.lastSeqs) {
      const first = batch.firstSeqs.get(conv)!;
      if (seq === first) continue;
      const sent = batch.sentSeqs.get(conv) ?? { low: 0, high: 0 };
      if (first > 0) {
        db.statement(SQL.setLastSeq).run(conv, seq, sent.low, sent.high);
      } else {
        db.statement(SQL.newConv).run(conv, seq, sent.low, sent.high);
        this.#joinDirect(conv);
      }
    }
    const raiseRead = db.statement(SQL.raiseRead);
    for (const { sender, conv, seq } of batch.readMoves.values()) {
      if (raiseRead.run(sender, conv, seq).changes === 0) db.statement(SQL.addRead).run(sender, conv, seq);
    }
    return results;
  }

  /** Whether `peer` blocks `sender`: one primary key lookup per pair and batch. */
  #blocks(batch: Batch, peer: bigint, sender: bigint): boolean {
    const key = `${peer} ${sender}`;
    let blocked = batch.blocked.get(key);
    if (blocked === undefined) {
      blocked = blocks(this.#db, peer, sender);
      batch.blocked.set(key, blocked);
    }
    return blocked;
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
        // One-to-one: a user's read seq is at least the last seq they sent (sent_seqs.ts).
        const readseq = Math.max(Number(row.readseq), sentSeqOf(conv, userId, row));
        const count = lastseq > readseq ? Number(unread.get(conv, readseq, lastseq, user)?.unread) : 0;
        const summary: ConversationSummary = { conv, lastseq, readseq, unread: count };
        const parsed = parseConv(conv);
        if (parsed?.kind === "direct") {
          const peer = parsed.low === userId ? parsed.high : parsed.low;
          const stored = Number(readSeq.get(BigInt(peer), conv)?.readseq ?? 0);
          summary.peerread = Math.max(stored, sentSeqOf(conv, peer, row));
        }
        return summary;
      });
    });
  }

  /**
   * Moves the user's read seq of `conv` to max(old, seq) and returns the result; in a one-to-one conversation
   * it is never below the last seq the user sent (sent_seqs.ts).
   */
  markRead(userId: number, conv: string, seq: number): Promise<number> {
    return this.#db.run(() => {
      const row = this.#db.statement(SQL.markRead).get(
        bindId(userId, "user id"),
        convName(conv),
        seqNumber(seq, "seq"),
      );
      const stored = Number(row?.readseq);
      if (parseConv(conv)?.kind !== "direct") return stored;
      const sent = this.#db.statement(SQL.sentSeqs).get(conv);
      return sent === undefined ? stored : Math.max(stored, sentSeqOf(conv, userId, sent));
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
