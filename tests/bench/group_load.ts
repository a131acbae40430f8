/**
 * The group fan-out engine shared by `group` (and its `--baseline` rounds) and `kick`: a group set up over the
 * protocol, and one run of N GROUP_CHAT messages from one sender to the receivers, keeping at most `window`
 * not yet received by every receiver.
 *
 * @module
 */

import { MsgId } from "../../lib/protocol/msg_id.ts";
import { hasErrnoZero, type LoadClient, msgidAt } from "./load_client.ts";
import { fmtInt, fmtMs, progress } from "./report.ts";
import { Histogram, type LatencySummary } from "./stats.ts";

const encoder = new TextEncoder();
/** A run with no delivery for this long has stalled (the server is stuck, or a receiver is not in the group). */
const STALL_MS = 5_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Creates a group as `creator` and makes every one of `joiners` join (ADD_GROUP); returns the group id.
 *
 * @example
 * ```ts ignore
 * const groupid = await setUpGroup(clients[0], clients.slice(1));
 * ```
 */
export async function setUpGroup(creator: LoadClient, joiners: LoadClient[]): Promise<number> {
  const groupname = `bench_${crypto.randomUUID().slice(0, 8)}`;
  const created = await creator.request({ msgid: MsgId.CREATE_GROUP, groupname, groupdesc: "load test" });
  if (created.errno !== 0) throw new Error(`CREATE_GROUP failed: ${JSON.stringify(created)}`);
  const groupid = created.groupid as number;
  let joined = 0;
  await Promise.all(joiners.map(async (member) => {
    const reply = await member.request({ msgid: MsgId.ADD_GROUP, groupid });
    if (reply.errno !== 0) throw new Error(`ADD_GROUP failed: ${JSON.stringify(reply)}`);
    if (++joined % 100 === 0) progress(`group: members joined ${joined}/${joiners.length}`);
  }));
  // What the joins pushed (GROUP_EVENT, presence) is of no use to the runs.
  for (const client of [creator, ...joiners]) client.unclaimed.length = 0;
  return groupid;
}

/** What one run sends. */
export interface GroupRunOptions {
  /** Measured messages (after the warm-up). */
  messages: number;
  /** Messages not yet received by every receiver, at most. */
  window: number;
  /** Unmeasured seconds first. */
  warmup: number;
  msgBytes: number;
}

/** The figures of one run. */
export interface GroupRun {
  /** Receivers each measured message had to reach. */
  receivers: number;
  /** From the first measured send to the last measured message's last receipt. */
  seconds: number;
  /** Measured deliveries (receipts of measured messages). */
  deliveries: number;
  deliveriesPerSecond: number;
  messagesPerSecond: number;
  /** Send → read by a receiver, per delivery. */
  latency: LatencySummary;
  /** Send → read by the last receiver. */
  fanoutLatency: LatencySummary;
  /** Failed ACKs and ERROR frames, to the sender or a receiver. */
  errors: number;
}

/**
 * Sends `options.messages` measured GROUP_CHAT messages (after `options.warmup` seconds of unmeasured ones)
 * from `sender` to `groupid`, each counted once every one of `receivers` read it; resolves when the last
 * measured one reached them all. Throws when nothing was delivered for 5 s. The clients' raw handlers are
 * taken for the run and released afterwards (their later frames go to the slow path again).
 *
 * @example
 * ```ts ignore
 * const run = await runGroupMessages(sender, members, groupid, { messages: 1000, window: 1, warmup: 0, msgBytes: 32 }, "group");
 * console.log(run.deliveriesPerSecond);
 * ```
 */
export async function runGroupMessages(
  sender: LoadClient,
  receivers: LoadClient[],
  groupid: number,
  options: GroupRunOptions,
  label: string,
): Promise<GroupRun> {
  const g = receivers.length;
  const frame = encoder.encode(
    JSON.stringify({
      msgid: MsgId.GROUP_CHAT,
      v: 2,
      cid: 1,
      groupid,
      msg: "g".repeat(options.msgBytes),
      time: "2026-01-01 00:00:00",
    }) + "\n",
  );
  const delivery = new Histogram();
  const fanout = new Histogram();
  const sentAt: number[] = [];
  const remaining: number[] = [];
  let nextSeq = 0;
  let inFlight = 0;
  let measuring = options.warmup === 0;
  let measureFrom = 0;
  let measureStart = performance.now();
  let completedMeasured = 0;
  let deliveredMeasured = 0;
  let deliveries = 0;
  let errors = 0;
  let endTime = 0;
  const warmupEnd = performance.now() + options.warmup * 1000;
  const done = Promise.withResolvers<void>();

  const pump = () => {
    while (inFlight < options.window) {
      const now = performance.now();
      if (!measuring && now >= warmupEnd) {
        measuring = true;
        measureFrom = nextSeq;
        measureStart = now;
      }
      if (measuring && nextSeq >= measureFrom + options.messages) return;
      sentAt.push(now);
      remaining.push(g);
      nextSeq++;
      inFlight++;
      sender.send(frame);
    }
  };
  sender.onRawFrame = (bytes, start, end) => {
    const msgid = msgidAt(bytes, start, end);
    if ((msgid === MsgId.ACK && !hasErrnoZero(bytes, start, end)) || msgid === MsgId.ERROR) errors++;
  };
  for (const receiver of receivers) {
    let seq = 0; // one sender to one receiver is delivered in order
    receiver.onRawFrame = (bytes, start, end) => {
      const msgid = msgidAt(bytes, start, end);
      if (msgid !== MsgId.GROUP_CHAT) {
        if (msgid === MsgId.ERROR) errors++;
        return;
      }
      const now = performance.now();
      const s = seq++;
      deliveries++;
      const measured = measuring && s >= measureFrom;
      if (measured) {
        delivery.recordMs(now - sentAt[s]);
        deliveredMeasured++;
      }
      if (--remaining[s] > 0) return;
      inFlight--;
      if (measured) {
        fanout.recordMs(now - sentAt[s]);
        if (++completedMeasured === options.messages) {
          endTime = now;
          done.resolve();
          return;
        }
      }
      pump();
    };
  }

  try {
    pump();
    let lastDeliveries = -1;
    let lastChange = performance.now();
    while (true) {
      const finished = await Promise.race([done.promise.then(() => true), sleep(1000).then(() => false)]);
      if (finished) break;
      const now = performance.now();
      if (deliveries !== lastDeliveries) {
        lastDeliveries = deliveries;
        lastChange = now;
      } else if (now - lastChange > STALL_MS) {
        throw new Error(
          `${label}: no delivery for ${STALL_MS / 1000} s (${deliveries} delivered, errors ${errors})`,
        );
      }
      const seconds = (now - measureStart) / 1000;
      progress(
        measuring
          ? `${label}: ${fmtInt(deliveredMeasured / seconds)} deliveries/s, ` +
            `${completedMeasured}/${options.messages} messages complete, p99 ${
              fmtMs(delivery.quantileMs(0.99))
            } ms`
          : `${label} warm-up: ${deliveries} deliveries`,
      );
    }
  } finally {
    for (const client of [sender, ...receivers]) client.onRawFrame = undefined;
  }
  const seconds = (endTime - measureStart) / 1000;
  return {
    receivers: g,
    seconds,
    deliveries: deliveredMeasured,
    deliveriesPerSecond: deliveredMeasured / seconds,
    messagesPerSecond: completedMeasured / seconds,
    latency: delivery.summary(),
    fanoutLatency: fanout.summary(),
    errors,
  };
}
