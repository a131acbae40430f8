/**
 * One chat send of a soak device, as a client that must not lose or double a message does it: every message
 * carries its ledger key as `cmid`, stays pending until an ACK settles it, and is sent again with the same
 * `cmid` after errno 11 or a connection that ended first.
 *
 * @module
 */

import { directConv, groupConv } from "../../lib/conversation_name.ts";
import { Errno } from "../../lib/protocol/errno.ts";
import { MsgId } from "../../lib/protocol/msg_id.ts";
import type { PendingSend, SoakAccount, SoakCounters, SoakDevice } from "./soak_device.ts";
import type { SoakLedger } from "./soak_ledger.ts";

/** Share of sends that are GROUP_CHAT (each fans out to ~20 members, so deliveries are mostly group ones). */
export const GROUP_SHARE = 0.2;

/** What sends need to know of the run. */
export interface SendContext {
  accounts: SoakAccount[];
  /** Group id → member ids (fixed for the run: a message's recipients are known at send time). */
  members: Map<number, number[]>;
  ledger: SoakLedger;
  counters: SoakCounters;
}

const pick = <T>(items: T[]): T => items[Math.floor(Math.random() * items.length)];

/**
 * A new message of `device`: a GROUP_CHAT to one of its user's groups (`GROUP_SHARE` of the time, when it has
 * any) or a ONE_CHAT to another user, with its recipients and its conversation.
 */
export function newSend(run: SendContext, device: SoakDevice, groupShare = GROUP_SHARE): PendingSend {
  const me = device.userId;
  const { key, text } = run.ledger.newMessage(me, device.index);
  const { groups } = device.account;
  if (groups.length > 0 && Math.random() < groupShare) {
    const groupid = pick(groups);
    return {
      key,
      conv: groupConv(groupid),
      frame: { msgid: MsgId.GROUP_CHAT, groupid, msg: text, cmid: key },
      recipients: run.members.get(groupid)!.filter((id) => id !== me),
    };
  }
  let to = pick(run.accounts).user.id;
  while (to === me) to = pick(run.accounts).user.id;
  return {
    key,
    conv: directConv(me, to),
    frame: { msgid: MsgId.ONE_CHAT, toid: to, msg: text, cmid: key },
    recipients: [to],
  };
}

/**
 * Sends the device's pending message, or a new one, and records the outcome: acknowledged (expected at
 * every device of its recipients), busy (stays pending), refused. A connection that ends first leaves it
 * pending (the request rejects). Resolves false when the server was busy.
 */
export async function sendOne(run: SendContext, device: SoakDevice): Promise<boolean> {
  const resend = device.pendingSend !== undefined;
  const send = device.pendingSend ??= newSend(run, device);
  if (resend) run.counters.resends++;
  run.ledger.unanswered(send.key);
  const ack = await device.request(send.frame);
  if (ack.errno === Errno.BUSY) {
    run.counters.busy++;
    return false;
  }
  device.pendingSend = undefined;
  if (ack.errno !== Errno.OK) {
    run.ledger.refused(send.key);
    run.counters.error(`chat refused: ${JSON.stringify(ack)}`);
    return true;
  }
  if (ack.conv !== send.conv || typeof ack.seq !== "number") {
    run.counters.error(`chat ACK without the conv ${send.conv} and a seq: ${JSON.stringify(ack)}`);
  }
  const seq = typeof ack.seq === "number" ? ack.seq : NaN;
  const mid = String(ack.mid);
  run.ledger.acknowledged(send.key, send.recipients, { conv: send.conv, seq, mid, dup: ack.dup === true });
  if (Number.isFinite(seq)) device.seen.add(send.conv, seq);
  const node = mid.split(".").slice(1, -1).join(".") || "?";
  run.counters.acksByNode.set(node, (run.counters.acksByNode.get(node) ?? 0) + 1);
  return true;
}
