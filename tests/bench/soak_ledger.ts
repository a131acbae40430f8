/**
 * The soak's bookkeeping, per device: which devices must receive each chat message and which did. A message
 * becomes expected only once the sender's v2 ACK said the server stored it; then every device of every
 * recipient must get it (live, in LOGIN_ACK's `offlinemsg`, or by SYNC after a dropped connection), and a
 * receipt may come before the ACK.
 *
 * Verdicts (PROTOCOL.md "Conversations and sequence numbers", "Devices and resume tokens"):
 * - lost: an expected (message, device) that never came;
 * - duplicated: a device got one message under two server ids (`mid`) or `seq`s — stored twice, which a
 *   client cannot tell from two messages — or twice without a `seq` to tell them apart;
 * - redelivered (allowed, reported): the same `mid` and `seq` again, which a client drops by seq;
 * - out of order: by seq, which is how a client orders a conversation, one sender device's messages on a
 *   device are not in the order they were sent;
 * - late (allowed, reported): a message that arrived (live or offline) after a later one of its sender
 *   device in the same conversation; the client puts it in its place by seq;
 * - seq conflicts: two messages acknowledged with the same (conv, seq), or the ACKs gave one sender device's
 *   later message a lower seq in the same conversation.
 *
 * @module
 */

/**
 * How a device got a message: live, in LOGIN_ACK's offlinemsg, by SYNC after a connection that did not end
 * cleanly, or by the SYNC every device makes at the very end (what only that one brings was missed by live
 * and offline delivery: acceptable after a fault, a finding otherwise).
 */
export type ReceiptPath = "live" | "offline" | "sync" | "final-sync";

/** What a device read of one chat frame. */
export interface ReceivedFrame {
  /** The chat text, which starts with the message key. */
  msg: string;
  mid?: string;
  conv?: string;
  seq?: number;
}

/** What a chat ACK said. */
export interface AckInfo {
  conv: string;
  seq: number;
  mid: string;
  /** True for the ACK of a resend that the server recognised by its cmid. */
  dup: boolean;
}

/** The end-of-run figures. */
export interface SoakTally {
  sent: number;
  acknowledged: number;
  /** Acknowledged as `dup: true`: a resend of a message the server had stored before. */
  acknowledgedAsDup: number;
  /** Sends refused by the server (an errno other than "busy", which is retried). */
  refused: number;
  /** Sends whose fate stayed unknown (no ACK by the end): receipts of them are allowed, not expected. */
  unknown: number;
  /** (message, device) pairs that had to be received. */
  expected: number;
  /** First receipts of expected (message, device) pairs, by path. */
  delivered: number;
  deliveredLive: number;
  deliveredOffline: number;
  deliveredBySync: number;
  deliveredByFinalSync: number;
  lost: number;
  duplicated: number;
  /** The same mid and seq again on a device: allowed (the client drops it by seq), reported. */
  redelivered: number;
  /** Receipts on a device of a user who was not a recipient, or of a refused message. */
  unexpected: number;
  reordered: number;
  /** First receipts (live or offline) after a later message of the same sender device and conversation. */
  late: number;
  seqConflicts: number;
  /** A few lost receipts, for the report: `message key → user/device`. */
  lostSamples: string[];
  /** A few late ones. */
  lateSamples: string[];
  /** A few duplicated or reordered ones. */
  wrongSamples: string[];
}

/** What one device got of one message. */
interface Receipt {
  count: number;
  mid: string | undefined;
  seq: number | undefined;
  path: ReceiptPath;
}

/** The key's parts: `<tag>:<sender>:<sender device index>:<n>`. */
interface KeyParts {
  senderDevice: string;
  n: number;
}

function parseKey(key: string): KeyParts | undefined {
  const parts = key.split(":");
  if (parts.length !== 4) return undefined;
  return { senderDevice: `${parts[1]}:${parts[2]}`, n: Number(parts[3]) };
}

/**
 * Records sends, acknowledgements and receipts per device. Message keys are `<tag>:<sender>:<device>:<n>`
 * with n increasing in send order; the text of each message starts with its key and a space, and the key
 * doubles as the send's `cmid`.
 *
 * @example
 * ```ts
 * const ledger = new SoakLedger(32, ["phone", "laptop"]);
 * const { key, text } = ledger.newMessage(1, 0);
 * ledger.acknowledged(key, [2], { conv: "u:1:2", seq: 1, mid: "m1", dup: false });
 * ledger.received(2, "phone", { msg: text, mid: "m1", conv: "u:1:2", seq: 1 }, "live");
 * ledger.received(2, "laptop", { msg: text, mid: "m1", conv: "u:1:2", seq: 1 }, "offline");
 * ledger.tally().lost; // 0
 * ```
 */
export class SoakLedger {
  readonly #tag = crypto.randomUUID().slice(0, 8);
  readonly #msgBytes: number;
  readonly #devices: readonly string[];
  #next = 0;
  #sent = 0;
  #refused = new Set<string>();
  #unknown = new Set<string>();
  #dupAcks = 0;
  /** key → recipient user ids, set when the ACK came. */
  readonly #expected = new Map<string, number[]>();
  /** key → what its ACK said. */
  readonly #acks = new Map<string, AckInfo>();
  /** `conv#seq` → the key acknowledged with it. */
  readonly #bySeq = new Map<string, string>();
  /** `senderDevice>conv` → [n, seq] of the last ACK, for the seq order check. */
  readonly #lastAck = new Map<string, [number, number]>();
  #seqConflicts = 0;
  /** key → `user/device` → receipt. */
  readonly #receipts = new Map<string, Map<string, Receipt>>();
  /** `user/device>conv>senderDevice` → the live or offline receipt with the highest n, for late ones. */
  readonly #lastSeen = new Map<string, { n: number; seq: number | undefined; path: ReceiptPath }>();
  #late = 0;
  readonly #lateSamples: string[] = [];
  /** `user/device>conv>senderDevice` → [n, seq] of every first receipt with a seq, for the order check. */
  readonly #bySender = new Map<string, [number, number][]>();
  #duplicated = 0;
  #redelivered = 0;
  readonly #wrongSamples: string[] = [];
  /** Every receipt, first or not (for progress lines). */
  receipts = 0;

  /** Messages get at least `msgBytes` characters of text; every user has the devices `devices`. */
  constructor(msgBytes: number, devices: readonly string[]) {
    this.#msgBytes = msgBytes;
    this.#devices = devices;
  }

  /** A fresh message of `sender`'s device number `device`: its key (also its cmid) and its text. */
  newMessage(sender: number, device: number): { key: string; text: string } {
    const key = `${this.#tag}:${sender}:${device}:${this.#next++}`;
    this.#sent++;
    return { key, text: `${key} ${"x".repeat(Math.max(0, this.#msgBytes - key.length - 1))}` };
  }

  /** The server stored `key` (its ACK): every device of every one of `recipients` must receive it once. */
  acknowledged(key: string, recipients: number[], ack: AckInfo): void {
    this.#unknown.delete(key);
    if (this.#expected.has(key)) return;
    this.#expected.set(key, recipients);
    this.#acks.set(key, ack);
    if (ack.dup) this.#dupAcks++;
    const slot = `${ack.conv}#${ack.seq}`;
    const holder = this.#bySeq.get(slot);
    if (holder !== undefined && holder !== key) {
      this.#seqConflicts++;
      this.#sample(`${key} and ${holder} both acknowledged as ${slot}`);
    } else {
      this.#bySeq.set(slot, key);
    }
    const parts = parseKey(key);
    if (!parts) return;
    const order = `${parts.senderDevice}>${ack.conv}`;
    const last = this.#lastAck.get(order);
    if (last && (parts.n > last[0]) !== (ack.seq > last[1])) {
      this.#seqConflicts++;
      this.#sample(`${key} acknowledged as ${slot}, out of send order with seq ${last[1]}`);
    }
    if (!last || parts.n > last[0]) this.#lastAck.set(order, [parts.n, ack.seq]);
  }

  /** The server refused `key` (it was not stored): nothing is expected, and no one may receive it. */
  refused(key: string): void {
    this.#unknown.delete(key);
    this.#refused.add(key);
  }

  /** `key` was sent but no ACK came (yet): until one does, receipts of it are neither expected nor wrong. */
  unanswered(key: string): void {
    if (!this.#expected.has(key) && !this.#refused.has(key)) this.#unknown.add(key);
  }

  /** `device` of `user` read a chat frame of another user, by `path`. */
  received(user: number, device: string, frame: ReceivedFrame, path: ReceiptPath): void {
    this.receipts++;
    const space = frame.msg.indexOf(" ");
    const key = space < 0 ? frame.msg : frame.msg.slice(0, space);
    const who = `${user}/${device}`;
    let byDevice = this.#receipts.get(key);
    if (!byDevice) this.#receipts.set(key, byDevice = new Map());
    const earlier = byDevice.get(who);
    if (earlier) {
      earlier.count++;
      const tellBySeq = frame.seq !== undefined && earlier.seq === frame.seq && earlier.mid === frame.mid;
      if (tellBySeq) this.#redelivered++;
      else {
        this.#duplicated++;
        this.#sample(
          `${key} twice on ${who} (${earlier.mid}#${earlier.seq}, then ${frame.mid}#${frame.seq})`,
        );
      }
      return;
    }
    byDevice.set(who, { count: 1, mid: frame.mid, seq: frame.seq, path });
    const parts = parseKey(key);
    if (!parts) return;
    const order = `${who}>${frame.conv}>${parts.senderDevice}`;
    if (frame.seq !== undefined) {
      let sent = this.#bySender.get(order);
      if (!sent) this.#bySender.set(order, sent = []);
      sent.push([parts.n, frame.seq]);
    }
    if (path === "sync" || path === "final-sync") return;
    const last = this.#lastSeen.get(order);
    if (last && parts.n < last.n) {
      this.#late++;
      if (this.#lateSamples.length < 10) {
        this.#lateSamples.push(
          `${key} (seq ${frame.seq}, ${path}) on ${who} after message ${last.n} of the same sender device ` +
            `(seq ${last.seq}, ${last.path})`,
        );
      }
    } else this.#lastSeen.set(order, { n: parts.n, seq: frame.seq, path });
  }

  /** Expected receipts still missing (cheap enough for a progress line at soak sizes). */
  outstanding(): number {
    let missing = 0;
    for (const [key, recipients] of this.#expected) {
      const byDevice = this.#receipts.get(key);
      for (const user of recipients) {
        for (const device of this.#devices) if (!byDevice?.has(`${user}/${device}`)) missing++;
      }
    }
    return missing;
  }

  tally(): SoakTally {
    const tally: SoakTally = {
      sent: this.#sent,
      acknowledged: this.#expected.size,
      acknowledgedAsDup: this.#dupAcks,
      refused: this.#refused.size,
      unknown: this.#unknown.size,
      expected: 0,
      delivered: 0,
      deliveredLive: 0,
      deliveredOffline: 0,
      deliveredBySync: 0,
      deliveredByFinalSync: 0,
      lost: 0,
      duplicated: this.#duplicated,
      redelivered: this.#redelivered,
      unexpected: 0,
      reordered: 0,
      late: this.#late,
      seqConflicts: this.#seqConflicts,
      lostSamples: [],
      lateSamples: [...this.#lateSamples],
      wrongSamples: [...this.#wrongSamples],
    };
    for (const [order, sent] of this.#bySender) {
      sent.sort((a, b) => a[0] - b[0]);
      for (let i = 1; i < sent.length; i++) {
        if (sent[i][1] > sent[i - 1][1]) continue;
        tally.reordered++;
        if (tally.wrongSamples.length < 20) {
          tally.wrongSamples.push(
            `${order}: message ${sent[i][0]} has seq ${sent[i][1]}, after message ${
              sent[i - 1][0]
            } with seq ` +
              `${sent[i - 1][1]}`,
          );
        }
      }
    }
    for (const [key, recipients] of this.#expected) {
      const byDevice = this.#receipts.get(key);
      for (const user of recipients) {
        for (const device of this.#devices) {
          tally.expected++;
          const receipt = byDevice?.get(`${user}/${device}`);
          if (!receipt) {
            tally.lost++;
            if (tally.lostSamples.length < 10) tally.lostSamples.push(`${key} → ${user}/${device}`);
            continue;
          }
          tally.delivered++;
          if (receipt.path === "live") tally.deliveredLive++;
          else if (receipt.path === "offline") tally.deliveredOffline++;
          else if (receipt.path === "sync") tally.deliveredBySync++;
          else tally.deliveredByFinalSync++;
        }
      }
    }
    for (const [key, byDevice] of this.#receipts) {
      if (this.#unknown.has(key)) continue;
      const recipients = this.#expected.get(key);
      for (const who of byDevice.keys()) {
        if (!recipients?.includes(Number(who.slice(0, who.indexOf("/"))))) tally.unexpected++;
      }
    }
    return tally;
  }

  #sample(text: string): void {
    if (this.#wrongSamples.length < 10) this.#wrongSamples.push(text);
  }
}

/** The LOGIN `device` of each device index: none for one device per user (the one-session rule). */
export function deviceNames(count: number): (string | undefined)[] {
  return count === 1 ? [undefined] : Array.from({ length: count }, (_, i) => `d${i}`);
}

/**
 * What went wrong, or undefined. Messages that only the final SYNC brought were missed by live and
 * offline delivery: allowed after a fault (DESIGN.md: with Redis gone, devices get them at their next
 * sync), a finding otherwise.
 */
export function verdict(tally: SoakTally, faulted: boolean): string | undefined {
  const wrong = [
    tally.lost && `${tally.lost} lost`,
    tally.duplicated && `${tally.duplicated} duplicated`,
    tally.unexpected && `${tally.unexpected} received by a device whose user was not a recipient`,
    tally.reordered && `${tally.reordered} out of order`,
    tally.seqConflicts && `${tally.seqConflicts} seq conflicts`,
    !faulted && tally.deliveredByFinalSync &&
    `${tally.deliveredByFinalSync} reached a device only through the final SYNC`,
  ].filter(Boolean);
  return wrong.length > 0 ? wrong.join(", ") : undefined;
}
