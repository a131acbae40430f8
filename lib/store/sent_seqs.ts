/**
 * The sender's own read seq of a one-to-one conversation (sql/sqlite/004_sent_seqs.sql): sending moves it to
 * the message's seq (PROTOCOL.md), and the stores keep that move on the conversation's row, one column per
 * user (`lowsentseq`, `highsentseq`), written by the update that raises its last seq anyway. A user's read
 * seq is max(what READ stored, the last seq they sent). Groups keep the move in their read seq rows.
 *
 * @module
 */

import { parseConv } from "../conversation_name.ts";
import type { Row } from "./row_records.ts";

/**
 * The last seq `userId` sent in the one-to-one conversation `conv`, from a row holding its `lowsentseq` and
 * `highsentseq`; 0 for a group or a user who is not one of its two.
 *
 * @example
 * ```ts
 * sentSeqOf("u:3:7", 7, { lowsentseq: 4, highsentseq: 5 }); // 5
 * sentSeqOf("g:1", 7, { lowsentseq: 0, highsentseq: 0 }); // 0
 * ```
 */
export function sentSeqOf(conv: string, userId: number, row: Row): number {
  const parsed = parseConv(conv);
  if (parsed?.kind !== "direct") return 0;
  if (parsed.low === userId) return Number(row.lowsentseq);
  if (parsed.high === userId) return Number(row.highsentseq);
  return 0;
}
