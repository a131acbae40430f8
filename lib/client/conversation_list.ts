/**
 * The user's conversations as the last SYNC list gave them (PROTOCOL.md msgid 16): last seq, read seqs and
 * unread counts, kept current by READ replies and RECEIPTs until the next list.
 */
import { parseConv, peerOf } from "../conversation_name.ts";
import type { ConvSummary, Receipt } from "./model.ts";
import type { Unread } from "./render.ts";

/**
 * Conversations by name.
 *
 * @example
 * ```ts
 * const list = new ConversationList();
 * list.replace([{ conv: "u:1:2", lastseq: 3, readseq: 1, peerread: 2, unread: 2 }]);
 * list.unread(1, () => "bob").users.get(2); // { name: "bob", count: 2 }
 * ```
 */
export class ConversationList {
  #convs = new Map<string, ConvSummary>();

  /** Takes a new SYNC list in place of the old one. */
  replace(list: readonly ConvSummary[]): void {
    this.#convs = new Map(list.map((summary) => [summary.conv, { ...summary }]));
  }

  get(conv: string): Readonly<ConvSummary> | undefined {
    return this.#convs.get(conv);
  }

  /** The user read `conv` up to `readseq` (their READ's reply, or a RECEIPT from their other device). */
  read(conv: string, readseq: number): void {
    const summary = this.#convs.get(conv);
    if (!summary || readseq <= summary.readseq) return;
    summary.readseq = readseq;
    // Only the messages of others count, and the list does not say whose the later ones are: all were
    // read when the read seq reached the last one; otherwise the count stays until the next list.
    if (readseq >= summary.lastseq) summary.unread = 0;
  }

  /** A RECEIPT: the user's own (another device read) or the other side's (`peerread`). */
  receipt(receipt: Receipt, me: number): void {
    if (receipt.id === me) return this.read(receipt.conv, receipt.seq);
    const summary = this.#convs.get(receipt.conv);
    if (summary) summary.peerread = Math.max(summary.peerread ?? 0, receipt.seq);
  }

  /** Unread counts by the other user (one-to-one) and by group, named with `nameOf`. */
  unread(me: number, nameOf: (id: number) => string): Unread {
    const users = new Map<number, { name: string; count: number }>();
    const groups = new Map<number, number>();
    for (const summary of this.#convs.values()) {
      const conv = parseConv(summary.conv);
      if (!conv) continue;
      if (conv.kind === "group") {
        groups.set(conv.groupId, summary.unread);
        continue;
      }
      const peer = peerOf(conv, me);
      if (peer !== null) users.set(peer, { name: nameOf(peer), count: summary.unread });
    }
    return { users, groups };
  }

  clear(): void {
    this.#convs.clear();
  }
}
