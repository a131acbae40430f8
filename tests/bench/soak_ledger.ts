/**
 * The soak's bookkeeping: which recipients must receive each chat message and which did. A message becomes
 * expected only once the sender's v2 ACK said the server accepted it (delivered or stored offline); a
 * receipt is counted whether it came live or inside LOGIN_ACK's `offlinemsg`, and may arrive before the ACK.
 *
 * @module
 */

/** The end-of-run figures. */
export interface SoakTally {
  sent: number;
  acknowledged: number;
  /** Sends refused by the server (ACK errno ≠ 0) or never answered. */
  refused: number;
  /** Recipient receipts of acknowledged messages (each message-recipient counted once). */
  delivered: number;
  /** Of which in LOGIN_ACK's offlinemsg (first receipt). */
  deliveredOffline: number;
  /** Expected receipts that never came. */
  lost: number;
  /** Receipts beyond the first, per message and recipient. */
  duplicated: number;
  /** Receipts no one expected: a user outside the recipients, or a message that was refused. */
  unexpected: number;
  /** First receipts older than one already received from the same sender (per sender → recipient). */
  reordered: number;
  /** A few lost receipts, for the report: `message key → user id`. */
  lostSamples: string[];
}

/**
 * Records sends, acknowledgements and receipts. Message keys are `<tag>:<n>` with n increasing in send
 * order, and the text of each message starts with its key.
 *
 * @example
 * ```ts
 * const ledger = new SoakLedger(16);
 * const { key, text } = ledger.newMessage(1);
 * ledger.received(2, text, false);
 * ledger.acknowledged(key, [2]);
 * ledger.tally().lost; // 0
 * ```
 */
export class SoakLedger {
  readonly #tag = crypto.randomUUID().slice(0, 8);
  readonly #msgBytes: number;
  #next = 0;
  #sent = 0;
  #refused = 0;
  /** key → recipients, set when the ACK came. */
  readonly #expected = new Map<string, number[]>();
  /** key → recipient → times received. */
  readonly #receipts = new Map<string, Map<number, number>>();
  /** key → the receipt's recipient whose first copy came in offlinemsg. */
  readonly #offline = new Set<string>();
  /** `sender>recipient` → highest message number received, for the order check. */
  readonly #lastSeen = new Map<string, number>();
  #reordered = 0;
  /** Every receipt, first or not (for progress lines). */
  receipts = 0;

  /** Messages get at least `msgBytes` characters of text. */
  constructor(msgBytes: number) {
    this.#msgBytes = msgBytes;
  }

  /** A fresh message of `sender`: its key and the text that carries it. */
  newMessage(sender: number): { key: string; text: string } {
    const key = `${this.#tag}:${sender}:${this.#next++}`;
    this.#sent++;
    return { key, text: `${key} ${"x".repeat(Math.max(0, this.#msgBytes - key.length - 1))}` };
  }

  /** The server accepted `key`: every one of `recipients` must receive it exactly once. */
  acknowledged(key: string, recipients: number[]): void {
    this.#expected.set(key, recipients);
  }

  /** The server refused `key`, or never answered (its fate is unknown, so nothing is expected). */
  refused(_key: string): void {
    this.#refused++;
  }

  /** `user` read a chat frame whose text is `text` (live, or in LOGIN_ACK's offlinemsg). */
  received(user: number, text: string, offline: boolean): void {
    this.receipts++;
    const key = text.slice(0, text.indexOf(" "));
    let byUser = this.#receipts.get(key);
    if (!byUser) this.#receipts.set(key, byUser = new Map());
    const count = (byUser.get(user) ?? 0) + 1;
    byUser.set(user, count);
    if (count > 1) return;
    if (offline) this.#offline.add(`${key}>${user}`);
    const [, sender, n] = key.split(":");
    const pair = `${sender}>${user}`;
    const seq = Number(n);
    if (seq < (this.#lastSeen.get(pair) ?? -1)) this.#reordered++;
    else this.#lastSeen.set(pair, seq);
  }

  /** Expected receipts still missing (cheap enough for a progress line at soak sizes). */
  outstanding(): number {
    let missing = 0;
    for (const [key, recipients] of this.#expected) {
      const byUser = this.#receipts.get(key);
      for (const user of recipients) if (!byUser?.get(user)) missing++;
    }
    return missing;
  }

  tally(): SoakTally {
    const tally: SoakTally = {
      sent: this.#sent,
      acknowledged: this.#expected.size,
      refused: this.#refused,
      delivered: 0,
      deliveredOffline: 0,
      lost: 0,
      duplicated: 0,
      unexpected: 0,
      reordered: this.#reordered,
      lostSamples: [],
    };
    for (const [key, recipients] of this.#expected) {
      const byUser = this.#receipts.get(key);
      for (const user of recipients) {
        if (byUser?.get(user)) {
          tally.delivered++;
          if (this.#offline.has(`${key}>${user}`)) tally.deliveredOffline++;
        } else {
          tally.lost++;
          if (tally.lostSamples.length < 10) tally.lostSamples.push(`${key} → user ${user}`);
        }
      }
    }
    for (const [key, byUser] of this.#receipts) {
      const recipients = this.#expected.get(key);
      for (const [user, count] of byUser) {
        tally.duplicated += count - 1;
        if (!recipients?.includes(user)) tally.unexpected++;
      }
    }
    return tally;
  }
}
