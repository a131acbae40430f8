/**
 * `soak`: N users for `--duration` seconds, each online user sending ONE_CHAT to a random user or GROUP_CHAT
 * to one of its groups, and now and then leaving (LOGINOUT, or a disconnect without it) to come back after a
 * short or a longer pause (so messages to it are stored offline and handed over at its next LOGIN). At the
 * end everyone leaves, then logs in once more to drain offline storage, and the {@linkcode SoakLedger} says
 * whether every acknowledged message reached each of its recipients exactly once.
 *
 * Against a cluster every (re)login goes through nginx, so users land on either node and move between them.
 *
 * @module
 */

import { setTimeout as delay } from "node:timers/promises";
import { eventually } from "../harness/eventually.ts";
import type { BenchOptions, Endpoint } from "./args.ts";
import { ProcessWatch } from "./process_stats.ts";
import { endProgress, fmtInt, fmtProcesses, loadgenCpu, progress, type ScenarioResult } from "./report.ts";
import { SoakLedger, type SoakTally } from "./soak_ledger.ts";
import { SoakCounters, SoakUser } from "./soak_user.ts";
import { startTarget } from "./target.ts";
import { forEachLimited } from "./users.ts";

/** Share of sends that are GROUP_CHAT (each fans out to ~20 members, so deliveries are mostly group ones). */
const GROUP_SHARE = 0.2;
/** A user leaves after about this many seconds online on average: every user churns several times a run. */
const MEAN_ONLINE_S = 4;
/** Share of leaves that are a longer absence ("offline for a while"): messages pile up offline meanwhile. */
const LONG_ABSENCE_SHARE = 0.3;
/** Members per group on average (users are in two groups each). */
const GROUP_SIZE = 20;
/** After the last LOGINOUT: a node that got a frame from the bus after its user left stores it offline
 * asynchronously (the ACK was already sent), so the final logins wait this long to find it stored. */
const SETTLE_MS = 1000;

const random = (min: number, max: number) => min + Math.random() * (max - min);
const pick = <T>(items: T[]): T => items[Math.floor(Math.random() * items.length)];

/** What every user loop shares. */
interface Run {
  users: SoakUser[];
  /** Group id → member ids (fixed for the run: a member's recipients are known at send time). */
  members: Map<number, number[]>;
  ledger: SoakLedger;
  counters: SoakCounters;
  /** Aborted when the soak time is over: pauses end at once. */
  stop: AbortController;
  nextEndpoint: () => Endpoint;
  /** Milliseconds between two sends of one user (0: flat out). */
  interval: number;
}

/** Logs everyone in, creates the groups (users in two each) and joins them. */
async function setUp(run: Run, sequential: boolean): Promise<void> {
  const { users } = run;
  let done = 0;
  await forEachLimited(users.length, sequential ? 1 : 16, async (i) => {
    await users[i].login(run.nextEndpoint());
    progress(`soak: logging in ${++done}/${users.length}`);
  });
  const groups = Math.max(1, Math.round((users.length * 2) / GROUP_SIZE));
  const tag = crypto.randomUUID().slice(0, 8);
  const ids: number[] = [];
  for (let g = 0; g < groups; g++) {
    const creator = users[g % users.length];
    const reply = await creator.request({ msgid: 8, groupname: `soak_${tag}_${g}`, groupdesc: "soak" });
    if (reply.errno !== 0) throw new Error(`CREATE_GROUP failed: ${JSON.stringify(reply)}`);
    ids.push(reply.groupid as number);
    run.members.set(reply.groupid as number, [creator.user.id]);
    creator.groups.push(reply.groupid as number);
  }
  await Promise.all(users.map(async (user, i) => {
    for (const g of new Set([i % groups, (i * 7 + 3) % groups])) {
      const groupid = ids[g];
      if (user.groups.includes(groupid)) continue;
      const reply = await user.request({ msgid: 9, groupid });
      if (reply.errno !== 0) throw new Error(`ADD_GROUP failed: ${JSON.stringify(reply)}`);
      user.groups.push(groupid);
      run.members.get(groupid)!.push(user.user.id);
    }
  }));
}

/** Sends one chat message and records who must get it once the ACK says it was accepted. */
async function sendOne(run: Run, user: SoakUser): Promise<void> {
  const me = user.user.id;
  const { key, text } = run.ledger.newMessage(me);
  let frame: Record<string, unknown>;
  let recipients: number[];
  if (user.groups.length > 0 && Math.random() < GROUP_SHARE) {
    const groupid = pick(user.groups);
    frame = { msgid: 10, groupid, msg: text };
    recipients = run.members.get(groupid)!.filter((id) => id !== me);
  } else {
    let to = pick(run.users).user.id;
    while (to === me) to = pick(run.users).user.id;
    frame = { msgid: 6, toid: to, msg: text };
    recipients = [to];
  }
  let ack;
  try {
    ack = await user.request(frame);
  } catch (error) {
    run.ledger.refused(key);
    throw error;
  }
  if (ack.errno !== 0) {
    run.ledger.refused(key);
    run.counters.error(`chat refused: ${JSON.stringify(ack)}`);
    return;
  }
  run.ledger.acknowledged(key, recipients);
  const node = typeof ack.mid === "string" ? ack.mid.split(".").slice(1, -1).join(".") || "?" : "?";
  run.counters.acksByNode.set(node, (run.counters.acksByNode.get(node) ?? 0) + 1);
}

/** Pauses `ms`, or less when the soak ends meanwhile. */
async function pause(run: Run, ms: number): Promise<void> {
  if (ms <= 0 || run.stop.signal.aborted) return;
  await delay(ms, undefined, { signal: run.stop.signal }).catch(() => {});
}

/** One user's life until the soak ends: chat while online, leave now and then, come back later. */
async function live(run: Run, user: SoakUser): Promise<void> {
  const sendsPerSecond = run.interval > 0 ? 1000 / run.interval : 50;
  const leaveChance = 1 / (MEAN_ONLINE_S * sendsPerSecond);
  while (!run.stop.signal.aborted) {
    try {
      if (!user.online) {
        await user.login(run.nextEndpoint());
        continue;
      }
      if (Math.random() < leaveChance) {
        if (Math.random() < 0.5) await user.logout();
        else await user.disconnect();
        const long = Math.random() < LONG_ABSENCE_SHARE;
        await pause(run, long ? random(1000, 3000) : random(50, 500));
        continue;
      }
      await sendOne(run, user);
      await pause(run, run.interval * random(0.5, 1.5));
    } catch (error) {
      run.counters.error(`user ${user.user.id}: ${error instanceof Error ? error.message : error}`);
      user.close();
      await pause(run, 100);
    }
  }
}

/** Runs the loops for `seconds` with a progress line; returns the seconds they really ran. */
async function soakFor(run: Run, seconds: number): Promise<number> {
  const started = performance.now();
  const loops = run.users.map((user) => live(run, user));
  const end = started + seconds * 1000;
  while (performance.now() < end) {
    await delay(Math.min(1000, Math.max(0, end - performance.now())));
    const online = run.users.filter((user) => user.online).length;
    const tally = run.ledger;
    progress(
      `soak: ${
        Math.max(0, (end - performance.now()) / 1000).toFixed(0)
      } s left, ${online}/${run.users.length} ` +
        `online, ${run.counters.logins} logins, ${tally.receipts} receipts, errors ${run.counters.errors}`,
    );
  }
  run.stop.abort();
  // Each loop finishes the request it is in (its ACK comes back) before it stops.
  await Promise.all(loops);
  return (performance.now() - started) / 1000;
}

/** Everyone leaves, then logs in once more: what was stored offline is handed over in LOGIN_ACK. */
async function drain(run: Run, sequential: boolean): Promise<void> {
  const { users } = run;
  await forEachLimited(users.length, 16, (i) => users[i].online ? users[i].logout() : Promise.resolve());
  await delay(SETTLE_MS);
  let done = 0;
  await forEachLimited(users.length, sequential ? 1 : 16, async (i) => {
    await users[i].login(run.nextEndpoint());
    progress(`soak: final logins to drain offline messages ${++done}/${users.length}`);
  });
  // Nothing should still be on its way; give a straggler a moment rather than call it lost at once. A grace
  // period, not a precondition: what is still missing after it is the measurement (the verdict counts it lost).
  await eventually(() => run.ledger.outstanding() === 0, {
    what: "the last receipts",
    timeoutMs: 2_000,
    intervalMs: 100,
  }).catch(() => {});
  await forEachLimited(users.length, 16, (i) => users[i].logout());
}

/** The table row and the verdict. */
function verdict(tally: SoakTally): string | undefined {
  const wrong = [
    tally.lost && `${tally.lost} lost`,
    tally.duplicated && `${tally.duplicated} duplicated`,
    tally.unexpected && `${tally.unexpected} received by a user who was not a recipient`,
    // One sender's messages to one recipient arrive in send order (PROTOCOL.md), live or offline.
    tally.reordered && `${tally.reordered} out of order`,
  ].filter(Boolean);
  return wrong.length > 0 ? wrong.join(", ") : undefined;
}

/** The `soak` scenario. */
export async function soak(options: BenchOptions): Promise<ScenarioResult> {
  if (options.v1) throw new Error("soak: --v1 is not supported (the ledger needs v2 ACKs)");
  await using target = await startTarget(options, { maxConnections: options.users + 10 });
  const benchUsers = await target.prepareUsers(options.users, options.hashCost ?? "cheap");
  const ledger = new SoakLedger(options.msgBytes);
  const counters = new SoakCounters();
  const rate = options.rate ?? 10;
  let turn = 0;
  const run: Run = {
    users: benchUsers.map((user) => new SoakUser(user, ledger, counters)),
    members: new Map(),
    ledger,
    counters,
    stop: new AbortController(),
    nextEndpoint: () => target.endpoints[turn++ % 2],
    interval: rate > 0 ? 1000 / rate : 0,
  };
  // Through nginx, one login at a time makes least_conn alternate nodes.
  const sequential = options.cluster;
  const watch = new ProcessWatch(target.watch);
  let seconds: number;
  let usage;
  try {
    await setUp(run, sequential);
    await watch.start();
    seconds = await soakFor(run, options.duration);
    usage = await watch.stop();
    await drain(run, sequential);
  } finally {
    for (const user of run.users) user.close();
    endProgress();
  }
  const tally = ledger.tally();
  const { cpu, rss } = fmtProcesses(usage);
  const groupSizes = [...run.members.values()].map((m) => m.length);
  const notes = [
    `${target.description}; ${options.users} users in ${run.members.size} groups of ${
      Math.min(...groupSizes)
    }–` +
    `${Math.max(...groupSizes)}; ${
      seconds.toFixed(1)
    } s of traffic, then everyone left and logged in once more.`,
    `Each online user sends ${
      rate > 0 ? `about ${rate}` : "as many as it can"
    } messages/s, waiting for each ` +
    `ACK (${GROUP_SHARE * 100}% GROUP_CHAT), and leaves after ~${MEAN_ONLINE_S} s online on average (half ` +
    `LOGINOUT, half a disconnect without it), for 50–500 ms or, ${
      LONG_ABSENCE_SHARE * 100
    }% of the time, 1–3 s.`,
    `Expected: each ACKed message once at each recipient (GROUP_CHAT: every member but the sender), live or in ` +
    `LOGIN_ACK; ${fmtInt(tally.deliveredOffline)} of the deliveries came offline.`,
    `Logins ${counters.logins} (${counters.loginRetries} retried: previous session still ending), LOGINOUT ` +
    `${counters.logouts}, disconnects ${counters.disconnects}; sends refused or unanswered ${tally.refused}; ` +
    `out of order ${tally.reordered}; presence frames ${counters.presence}.`,
    `Chat ACKs by node: ${[...counters.acksByNode].map(([node, n]) => `${node} ${n}`).join(", ")}.`,
  ];
  if (counters.lastError) notes.push(`Last error: ${counters.lastError}`);
  if (tally.lostSamples.length > 0) notes.push(`Lost (first few): ${tally.lostSamples.join("; ")}`);
  return {
    title: `soak — ${options.users} users, ${options.duration} s${options.cluster ? " across 2 nodes" : ""}`,
    headers: [
      "sent",
      "acked",
      "delivered",
      "LOST",
      "DUPLICATED",
      "acked msg/s",
      "deliveries/s",
      "errors",
      "server CPU",
      "server RSS",
      "loadgen / other CPU",
    ],
    rows: [[
      tally.sent,
      tally.acknowledged,
      tally.delivered,
      tally.lost,
      tally.duplicated,
      fmtInt(tally.acknowledged / seconds),
      fmtInt(tally.delivered / seconds),
      counters.errors,
      cpu,
      rss,
      loadgenCpu(usage),
    ]],
    notes,
    data: {
      target: target.description,
      serverArgs: target.serverArgs,
      seconds,
      tally,
      counters: { ...counters, acksByNode: Object.fromEntries(counters.acksByNode) },
      processes: usage,
    },
    failed: verdict(tally),
  };
}
