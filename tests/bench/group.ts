/**
 * `group`: one sender and G members, all logged in. The sender sends N GROUP_CHAT messages keeping at most
 * `--window` of them not yet received by every member (1: each message waits until the whole group has it).
 * Reports deliveries per second until all were received, the latency of each delivery (send → read by that
 * member) and of the whole fan-out (send → read by the last member).
 *
 * @module
 */

import { MsgId } from "../../lib/protocol/msg_id.ts";
import type { BenchOptions } from "./args.ts";
import { hasErrnoZero, type LoadClient, msgidAt } from "./load_client.ts";
import { ProcessWatch } from "./process_stats.ts";
import {
  endProgress,
  fmtInt,
  fmtMs,
  fmtProcesses,
  loadgenCpu,
  progress,
  type ScenarioResult,
} from "./report.ts";
import { Histogram } from "./stats.ts";
import { startTarget } from "./target.ts";
import { loginUsers } from "./users.ts";

const encoder = new TextEncoder();
const STALL_MS = 5_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Creates the group as `sender` and makes every member join; returns the group id. */
async function setUpGroup(sender: LoadClient, members: LoadClient[]): Promise<number> {
  const groupname = `bench_${crypto.randomUUID().slice(0, 8)}`;
  const created = await sender.request({ msgid: 8, groupname, groupdesc: "load test" });
  if (created.errno !== 0) throw new Error(`CREATE_GROUP failed: ${JSON.stringify(created)}`);
  const groupid = created.groupid as number;
  let joined = 0;
  await Promise.all(members.map(async (member) => {
    const reply = await member.request({ msgid: 9, groupid });
    if (reply.errno !== 0) throw new Error(`ADD_GROUP failed: ${JSON.stringify(reply)}`);
    if (++joined % 100 === 0) progress(`group: members joined ${joined}/${members.length}`);
  }));
  return groupid;
}

/** The `group` scenario. */
export async function group(options: BenchOptions): Promise<ScenarioResult> {
  if (options.v1) throw new Error("group: --v1 is not supported (v1 does not acknowledge CREATE_GROUP)");
  const g = options.members;
  await using target = await startTarget(options, { maxConnections: g + 10 });
  const users = await target.prepareUsers(g + 1, options.hashCost ?? "cheap");
  const clients = await loginUsers(users, () => target.endpoints[0], {
    concurrency: 16,
    onProgress: (done, total) => progress(`group: logging in ${done}/${total}`),
  });
  const [sender, ...members] = clients;
  const watch = new ProcessWatch(target.watch);
  try {
    const groupid = await setUpGroup(sender, members);
    const text = "g".repeat(options.msgBytes);
    const frame = encoder.encode(
      JSON.stringify({
        msgid: MsgId.GROUP_CHAT,
        v: 2,
        cid: 1,
        groupid,
        msg: text,
        time: "2026-01-01 00:00:00",
      }) +
        "\n",
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
    members.forEach((member) => {
      let seq = 0; // one sender to one member is delivered in order
      member.onRawFrame = (bytes, start, end) => {
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
    });

    await watch.start();
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
          `group: no delivery for ${STALL_MS / 1000} s (${deliveries} delivered, errors ${errors})`,
        );
      }
      const seconds = (now - measureStart) / 1000;
      progress(
        measuring
          ? `group ${g} members: ${fmtInt(deliveredMeasured / seconds)} deliveries/s, ` +
            `${completedMeasured}/${options.messages} messages complete, p99 ${
              fmtMs(delivery.quantileMs(0.99))
            } ms`
          : `group warm-up: ${deliveries} deliveries`,
      );
    }
    const usage = await watch.stop();
    endProgress();
    const seconds = (endTime - measureStart) / 1000;
    const d = delivery.summary();
    const f = fanout.summary();
    const { cpu, rss } = fmtProcesses(usage);
    const row = [
      `${g} × ${options.messages}`,
      options.window,
      fmtInt(deliveredMeasured / seconds),
      fmtInt(completedMeasured / seconds),
      fmtMs(d.p50),
      fmtMs(d.p99),
      fmtMs(d.p999),
      fmtMs(f.p99),
      errors,
      cpu,
      rss,
      loadgenCpu(usage),
    ];
    return {
      title: `group — 1 sender, ${g} members, window ${options.window}`,
      headers: [
        "members × msgs",
        "window",
        "deliveries/s",
        "msgs/s",
        "p50 ms",
        "p99 ms",
        "p999 ms",
        "fan-out p99 ms",
        "errors",
        "server CPU",
        "server RSS",
        "loadgen / other CPU",
      ],
      rows: [row],
      notes: [
        `${target.description}; ${options.messages} measured messages after ${options.warmup} s warm-up, at most ` +
        `${options.window} not yet received by every member; ${options.msgBytes}-character messages.`,
        "Latency: GROUP_CHAT sent → frame read by a member (per delivery); fan-out: → read by the last member.",
        `Measured ${fmtInt(deliveredMeasured)} deliveries in ${seconds.toFixed(2)} s.`,
      ],
      data: {
        target: target.description,
        serverArgs: target.serverArgs,
        seconds,
        deliveries: deliveredMeasured,
        deliveriesPerSecond: deliveredMeasured / seconds,
        messagesPerSecond: completedMeasured / seconds,
        latency: d,
        fanoutLatency: f,
        errors,
        processes: usage,
      },
    };
  } finally {
    for (const client of clients) client.close();
  }
}
