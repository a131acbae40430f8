/**
 * What both ways of storing a chat batch in MySQL share (`mysql_append.ts`, two round trips, and
 * `mysql_append_one_trip.ts`, one): the batch's messages checked, the seqs each conversation takes, the
 * conversations' upsert that takes them, the block lookup, and the cutting of large INSERTs.
 *
 * @module
 */

import { convName, safeId, text } from "./argument_checks.ts";
import { type Conversation, parseConv, peerOf } from "../conversation_name.ts";
import { MAX_ID_BATCH, placeholders } from "./mysql_connections.ts";
import type { Statement } from "./mysql_script.ts";
import type { NewMessage } from "./store.ts";

/** Rows of a few small columns (conversations, read seqs) in one statement. */
export const MAX_SMALL_ROWS = MAX_ID_BATCH;
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

/** A message of a batch, checked. */
export interface Pending {
  message: NewMessage;
  conv: Conversation;
  /** {@linkcode cmidKey} of the message, when it has a cmid. */
  key: string | undefined;
  /** A one-to-one message: the other user, whose block of the sender refuses it. */
  peer: number | undefined;
}

/** `message` checked before any write: a caller's bug fails the batch with RangeError or TypeError. */
export function checkMessage(message: NewMessage): Pending {
  const conv = parseConv(convName(message.conv))!;
  const senderId = safeId(message.senderId, "message sender id");
  safeId(message.ts, "message ts");
  text(message.mid, "message mid");
  if (typeof message.frame !== "function") throw new TypeError("message frame must be a function of seq");
  const key = message.cmid === undefined ? undefined : cmidKey(senderId, text(message.cmid, "message cmid"));
  return { message, conv, key, peer: peerOf(conv, senderId) ?? undefined };
}

/** `(sender, cmid)` as one Map key. */
export function cmidKey(senderId: number, cmid: string): string {
  return `${senderId}\n${cmid}`;
}

/**
 * How many seqs a conversation takes in the batch, and for a one-to-one one, the position (1 to count) of the
 * last message each of its users sent among them (0: none). The upsert turns the positions into seqs.
 */
export interface Taken {
  conv: Conversation;
  count: number;
  lowSent: number;
  highSent: number;
}

/**
 * Counts `pending` as the next new message of its conversation in `counts`; returns its position among them
 * (1 for the first): it takes the conversation's old last seq plus that position.
 */
export function countSeq(counts: Map<string, Taken>, { message, conv }: Pending): number {
  let entry = counts.get(message.conv);
  if (!entry) counts.set(message.conv, entry = { conv, count: 0, lowSent: 0, highSent: 0 });
  entry.count++;
  // Seqs are taken in batch order, so the sender's last message so far takes the count-th new seq.
  if (conv.kind === "direct") {
    if (message.senderId === conv.low) entry.lowSent = entry.count;
    else entry.highSent = entry.count;
  }
  return entry.count;
}

/**
 * Statements that raise each conversation's last seq by its count, a chunk of `names` (keys of `counts`, in
 * conv order, so two nodes' batches lock the rows in one order and cannot deadlock on them) each, creating the
 * row for a new conversation, and move a one-to-one sender's sent seq column to their last seq of the batch
 * (the old last seq plus the position of their last message).
 */
export function raiseConversations(counts: Map<string, Taken>, nameChunks: string[][]): Statement[] {
  return nameChunks.map((chunk) => ({
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
}

/**
 * The condition of a read of the blocks by the (blocker, blocked) `pairs`' blockers of their blocked users:
 * two IN lists (an index range of the primary key, cheap for MariaDB to plan) rather than an OR of pairs
 * (planned anew at every execution, which cost a tenth of a cluster's chat throughput). It finds a superset of
 * the pairs, which the caller filters.
 */
export function blocksOf(pairs: readonly [number, number][]): Statement {
  const blockers = [...new Set(pairs.map(([blocker]) => blocker))];
  const blocked = [...new Set(pairs.map(([, blocked]) => blocked))];
  return {
    sql: `blocker IN ${placeholders(blockers.length)} AND blocked IN ${placeholders(blocked.length)}`,
    values: [...blockers, ...blocked],
  };
}

/** The upsert clause that moves a read seq only forward. */
export const RAISE_READ_SEQ = " ON DUPLICATE KEY UPDATE readseq = GREATEST(readseq, VALUES(readseq))";

/**
 * `rows` cut for multi-row INSERTs: {@linkcode MAX_MESSAGE_ROWS} at a time and the rest in one, halved while
 * their frames (of `frameLengths`, in UTF-16 units) could exceed {@linkcode MAX_INSERT_CHARS} (a single larger
 * frame goes alone).
 */
export function messageChunks<T>(rows: T[], frameLengths: number[]): T[][] {
  // Prefix sums of an upper bound of each frame's hex literal (3 UTF-8 bytes per UTF-16 unit, 2 digits each).
  const upTo = [0];
  for (const length of frameLengths) upTo.push(upTo[upTo.length - 1] + length * 6);
  const out: T[][] = [];
  let start = 0;
  while (start < rows.length) {
    let size = Math.min(MAX_MESSAGE_ROWS, rows.length - start);
    while (size > 1 && upTo[start + size] - upTo[start] > MAX_INSERT_CHARS) size >>= 1;
    out.push(rows.slice(start, start + size));
    start += size;
  }
  return out;
}
