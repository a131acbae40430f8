/**
 * `kick` (issue 13): one node, a group of G+1 members all logged in (default 1,000). One member sends group
 * messages; the group's creator (another member) KICKs a third one (msgid 26, ACK errno 0). Then the next
 * group message must reach every other member and NOT the kicked one, and the fan-out rate (deliveries/s) is
 * measured before and after the kick. The run fails, saying what happened, when the KICK is refused, when a
 * remaining member misses a message, or when the kicked member receives any group message after the ACK.
 *
 * That nothing reached the kicked member is known, not waited for: after each check the sender sends the
 * kicked member a ONE_CHAT (a fence). One sender's frames reach a recipient in the order sent, so once the
 * fence arrived, a group message sent before it would have arrived too.
 *
 * @module
 */

import { MsgId } from "../../lib/protocol/msg_id.ts";
import type { BenchOptions } from "./args.ts";
import { type GroupRun, runGroupMessages } from "./group_load.ts";
import { type LoadClient, msgidAt } from "./load_client.ts";
import { type ProcessUsage, ProcessWatch } from "./process_stats.ts";
import {
  endProgress,
  fmtInt,
  fmtMs,
  fmtProcesses,
  loadgenCpu,
  progress,
  type ScenarioResult,
} from "./report.ts";
import { median } from "./stats.ts";
import { startTarget } from "./target.ts";
import { type BenchUser, loginUsers } from "./users.ts";

/** PROTOCOL.md "v2 extensions", Groups: KICK `{groupid, userid}`, answered by an ACK. */
const KICK = 26;
/** GROUP_EVENT, s→c: `{groupid, event, userid, by, …}`. */
const GROUP_EVENT = 29;
/** How long the KICK's ACK and a fence may take before the run is called broken. */
const REPLY_TIMEOUT_MS = 30_000;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * What the kicked member's connection sees once the KICK is sent: it takes the connection's raw frames.
 *
 * @example
 * ```ts ignore
 * const watch = new KickedWatch(kickedClient, groupid, kickedUserId);
 * // … KICK acknowledged, group messages sent …
 * await watch.fence(sender, "fence 1");
 * if (watch.groupMessages > 0) throw new Error("a group message reached the kicked member");
 * ```
 */
export class KickedWatch {
  /** GROUP_CHAT frames of the group (none may come once the KICK is acknowledged). */
  groupMessages = 0;
  /** Whether GROUP_EVENT `kicked` for this member arrived. */
  sawKickedEvent = false;
  #fences = new Map<string, () => void>();

  constructor(readonly client: LoadClient, readonly groupid: number, readonly userid: number) {
    client.onRawFrame = (bytes, start, end) => this.#onFrame(bytes, start, end);
  }

  #onFrame(bytes: Uint8Array, start: number, end: number): void {
    const msgid = msgidAt(bytes, start, end);
    if (msgid === MsgId.GROUP_CHAT) {
      // Any group's: the kicked member is in no other group of the run.
      this.groupMessages++;
    } else if (msgid === GROUP_EVENT || msgid === MsgId.ONE_CHAT) {
      const frame = JSON.parse(decoder.decode(bytes.subarray(start, end)));
      if (msgid === GROUP_EVENT) {
        if (frame.event === "kicked" && frame.userid === this.userid && frame.groupid === this.groupid) {
          this.sawKickedEvent = true;
        }
      } else {
        this.#fences.get(frame.msg)?.();
      }
    }
  }

  /**
   * Sends a ONE_CHAT from `sender` to the kicked member and resolves once it arrived: whatever the sender sent
   * before has been delivered by then.
   */
  async fence(sender: LoadClient, name: string, timeoutMs = REPLY_TIMEOUT_MS): Promise<void> {
    const arrived = Promise.withResolvers<void>();
    this.#fences.set(name, arrived.resolve);
    const timer = setTimeout(
      () => arrived.reject(new Error(`kick: the fence ONE_CHAT "${name}" did not reach the kicked member`)),
      timeoutMs,
    );
    sender.send(encoder.encode(
      JSON.stringify({
        msgid: MsgId.ONE_CHAT,
        v: 2,
        cid: 2,
        toid: this.userid,
        msg: name,
        time: "2026-01-01 00:00:00",
      }) + "\n",
    ));
    try {
      await arrived.promise;
    } finally {
      clearTimeout(timer);
      this.#fences.delete(name);
    }
  }

  release(): void {
    this.client.onRawFrame = undefined;
  }
}

/** Which of the G+1 logged-in users plays which part (indexes into the users). */
export interface KickCast {
  sender: number;
  creator: number;
  kicked: number;
}

/**
 * The parts in a group of `size` users: the sender first, the creator second, the kicked member in the middle
 * (neither of them).
 *
 * @example
 * ```ts
 * import { kickCast } from "./kick.ts";
 *
 * kickCast(1000); // { sender: 0, creator: 1, kicked: 500 }
 * kickCast(3); // { sender: 0, creator: 1, kicked: 2 }
 * ```
 */
export function kickCast(size: number): KickCast {
  if (!Number.isInteger(size) || size < 3) {
    throw new Error(`kick needs a sender, a creator and a member to kick: at least 3 users, got ${size}`);
  }
  return { sender: 0, creator: 1, kicked: Math.max(2, Math.floor(size / 2)) };
}

/** Why a KICK's answer is not a success, or undefined when it is one. */
export function kickRefusal(reply: Record<string, unknown>): string | undefined {
  if (reply.msgid === MsgId.ACK && reply.errno === 0) return undefined;
  if (reply.errno === 14) {
    return `the server does not know KICK (msgid 26, errno 14): ${JSON.stringify(reply)}`;
  }
  return `KICK was refused: ${JSON.stringify(reply)}`;
}

/** The creator makes the group, everyone else joins; returns the group id. */
async function setUpKickGroup(clients: LoadClient[], cast: KickCast): Promise<number> {
  const creator = clients[cast.creator];
  const created = await creator.request({
    msgid: MsgId.CREATE_GROUP,
    groupname: `kick_${crypto.randomUUID().slice(0, 8)}`,
    groupdesc: "kick benchmark",
  });
  if (created.errno !== 0) throw new Error(`CREATE_GROUP failed: ${JSON.stringify(created)}`);
  const groupid = created.groupid as number;
  let joined = 0;
  const joiners = clients.filter((client) => client !== creator);
  // The frames each join pushes to the members (GROUP_EVENT joined) are dropped as they come.
  for (const client of clients) client.onRawFrame = () => {};
  try {
    await Promise.all(joiners.map(async (client) => {
      client.onRawFrame = undefined;
      const reply = await client.request({ msgid: MsgId.ADD_GROUP, groupid });
      client.onRawFrame = () => {};
      if (reply.errno !== 0) throw new Error(`ADD_GROUP failed: ${JSON.stringify(reply)}`);
      if (++joined % 100 === 0) progress(`kick: members joined ${joined}/${joiners.length}`);
    }));
  } finally {
    for (const client of clients) {
      client.onRawFrame = undefined;
      client.unclaimed.length = 0;
    }
  }
  return groupid;
}

/** One measured run of the kick scenario. */
interface KickRun {
  phase: "before" | "after";
  label: string;
  run: GroupRun;
  processes: ProcessUsage[];
}

/** The medians of a phase's runs as a table row. */
function medianRow(phase: KickRun["phase"], runs: KickRun[], messages: number): (string | number)[] {
  const of = (pick: (run: GroupRun) => number) => median(runs.map(({ run }) => pick(run)));
  return [
    `median ${phase}`,
    `${runs[0].run.receivers} × ${messages}`,
    fmtInt(of((run) => run.deliveriesPerSecond)),
    fmtInt(of((run) => run.messagesPerSecond)),
    fmtMs(of((run) => run.latency.p50)),
    fmtMs(of((run) => run.latency.p99)),
    fmtMs(of((run) => run.fanoutLatency.p99)),
    runs.reduce((sum, { run }) => sum + run.errors, 0),
    "",
    "",
    "",
  ];
}

/** The `kick` scenario. */
export async function kick(options: BenchOptions): Promise<ScenarioResult> {
  if (options.v1) throw new Error("kick: --v1 is not supported (KICK is a v2 request)");
  const size = options.members + 1;
  const cast = kickCast(size);
  await using target = await startTarget(options, { maxConnections: size + 10 });
  const users: BenchUser[] = await target.prepareUsers(size, options.hashCost ?? "cheap");
  const clients = await loginUsers(users, () => target.endpoints[0], {
    concurrency: 16,
    onProgress: (done, total) => progress(`kick: logging in ${done}/${total}`),
  });
  const watch = new ProcessWatch(target.watch);
  const runs: KickRun[] = [];
  let watchKicked: KickedWatch | undefined;
  try {
    const groupid = await setUpKickGroup(clients, cast);
    const sender = clients[cast.sender];
    const kicked = users[cast.kicked];
    const everyoneElse = clients.filter((_, i) => i !== cast.sender);
    const remaining = clients.filter((_, i) => i !== cast.sender && i !== cast.kicked);
    const measure = async (phase: KickRun["phase"], receivers: LoadClient[]) => {
      for (let r = 1; r <= options.repeats; r++) {
        const label = options.repeats > 1
          ? `${phase} the kick, ${r}/${options.repeats}`
          : `${phase} the kick`;
        await watch.start();
        const run = await runGroupMessages(sender, receivers, groupid, options, `kick: ${label}`);
        runs.push({ phase, label, run, processes: await watch.stop() });
      }
    };

    await measure("before", everyoneElse);

    progress(`kick: the creator kicks user ${kicked.id}`);
    watchKicked = new KickedWatch(clients[cast.kicked], groupid, kicked.id);
    const kickStart = performance.now();
    const reply = await clients[cast.creator].request(
      { msgid: KICK, groupid, userid: kicked.id },
      (r) => (r.msgid === MsgId.ACK && r.ref === KICK) || r.msgid === MsgId.ERROR,
      REPLY_TIMEOUT_MS,
    );
    const kickMs = performance.now() - kickStart;
    const refusal = kickRefusal(reply);
    if (refusal) throw new Error(`kick: ${refusal}`);

    // The next message: every remaining member must get it (a miss stalls the run, which throws).
    try {
      await runGroupMessages(
        sender,
        remaining,
        groupid,
        { ...options, messages: 1, warmup: 0 },
        "kick: next",
      );
    } catch (error) {
      throw new Error(
        `kick: the first group message after the kick did not reach all ${remaining.length} remaining members`,
        { cause: error },
      );
    }
    await watchKicked.fence(sender, "fence after the next message");
    const leakedNext = watchKicked.groupMessages;

    await measure("after", remaining);
    await watchKicked.fence(sender, "fence after the measured messages");
    const leakedTotal = watchKicked.groupMessages;
    endProgress();

    const failures: string[] = [];
    if (leakedTotal > 0) {
      failures.push(
        `the kicked member (user ${kicked.id}) received ${leakedTotal} group messages after its KICK was ` +
          `acknowledged (${
            leakedNext > 0 ? "the first message after the kick among them" : "not the first"
          })`,
      );
    }
    const before = runs.filter((run) => run.phase === "before");
    const after = runs.filter((run) => run.phase === "after");
    const rate = (phase: KickRun[]) => median(phase.map(({ run }) => run.deliveriesPerSecond));
    return {
      title: `kick — a group of ${size}, one member kicked`,
      headers: [
        "run",
        "receivers × msgs",
        "deliveries/s",
        "msgs/s",
        "p50 ms",
        "p99 ms",
        "fan-out p99 ms",
        "errors",
        "server CPU",
        "server RSS",
        "loadgen / other CPU",
      ],
      rows: [
        ...runs.map(({ label, run, processes }) => {
          const { cpu, rss } = fmtProcesses(processes);
          return [
            label,
            `${run.receivers} × ${options.messages}`,
            fmtInt(run.deliveriesPerSecond),
            fmtInt(run.messagesPerSecond),
            fmtMs(run.latency.p50),
            fmtMs(run.latency.p99),
            fmtMs(run.fanoutLatency.p99),
            run.errors,
            cpu,
            rss,
            loadgenCpu(processes),
          ];
        }),
        ...(options.repeats > 1
          ? [medianRow("before", before, options.messages), medianRow("after", after, options.messages)]
          : []),
      ],
      notes: [
        `${target.description}; users ${
          target.describeUsers(options.hashCost ?? "cheap")
        }. A group of ${size}: ` +
        `user ${users[cast.creator].id} created it, user ${users[cast.sender].id} sends, ` +
        `user ${kicked.id} is kicked by the creator.`,
        `Each run: ${options.messages} measured messages after ${options.warmup} s warm-up, at most ` +
        `${options.window} not yet received by every receiver; ${options.msgBytes}-character messages.`,
        `KICK acknowledged (errno 0) in ${
          fmtMs(kickMs)
        } ms. The next message reached all ${remaining.length} ` +
        `remaining members; the kicked member received ${leakedTotal} group messages after the ACK (checked ` +
        `with a ONE_CHAT fence after the next message and after the measured run); GROUP_EVENT "kicked" ` +
        `${watchKicked.sawKickedEvent ? "received" : "NOT received"} by the kicked member.`,
        `Fan-out after / before the kick: ${(rate(after) / rate(before)).toFixed(2)}x deliveries/s` +
        `${options.repeats > 1 ? ` (medians of ${options.repeats} runs each)` : ""}.`,
      ],
      data: {
        target: target.description,
        serverArgs: target.serverArgs,
        size,
        kickedUser: kicked.id,
        kickMs,
        leakedAfterKick: leakedTotal,
        kickedEventReceived: watchKicked.sawKickedEvent,
        before: before.map(({ run, processes }) => ({ ...run, processes })),
        after: after.map(({ run, processes }) => ({ ...run, processes })),
        deliveriesPerSecondBefore: rate(before),
        deliveriesPerSecondAfter: rate(after),
      },
      failed: failures.length > 0 ? failures.join("; ") : undefined,
    };
  } finally {
    watchKicked?.release();
    for (const client of clients) client.close();
    endProgress();
  }
}
