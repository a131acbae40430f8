/**
 * `soak`: N users with D devices each for `--duration` seconds. Each online device sends ONE_CHAT to a
 * random user or GROUP_CHAT to one of its user's groups, every send with a `cmid`, and now and then leaves
 * (LOGINOUT, a half-close, or with `--drops` a dropped connection with a send in flight) to come back after a
 * short or a longer pause, with its resume token when it has one. A send that got no ACK (dropped, or the
 * connection died) or errno 11 is resent with the same cmid. With `--fault` (cluster only) a node is killed
 * (-9) and restarted, or MariaDB or Redis is restarted, in the middle of the run.
 *
 * At the end every device leaves, logs in once more (offline delivery past its cursors), resends what is
 * still unacknowledged, and finally walks its conversations with SYNC; the {@linkcode SoakLedger} then says
 * whether every acknowledged message reached every device of its recipients exactly once and in order.
 *
 * Against a cluster every (re)login goes through nginx, so devices land on either node and move between them.
 *
 * @module
 */

import { setTimeout as delay } from "node:timers/promises";
import { MsgId } from "../../lib/protocol/msg_id.ts";
import { eventually } from "../harness/eventually.ts";
import type { BenchOptions, Endpoint } from "./args.ts";
import { ProcessWatch } from "./process_stats.ts";
import { endProgress, fmtInt, fmtProcesses, loadgenCpu, progress, type ScenarioResult } from "./report.ts";
import { ConnectionClosedError, type SoakAccount, SoakCounters, SoakDevice } from "./soak_device.ts";
import { deviceNames, SoakLedger, verdict } from "./soak_ledger.ts";
import { GROUP_SHARE, newSend, type SendContext, sendOne } from "./soak_send.ts";
import { startTarget } from "./target.ts";
import { forEachLimited } from "./users.ts";

/** A device leaves after about this many seconds online on average: every device churns several times a run. */
const MEAN_ONLINE_S = 4;
/** Share of leaves that are a longer absence ("offline for a while"): messages pile up meanwhile. */
const LONG_ABSENCE_SHARE = 0.3;
/** Members per group on average (users are in two groups each). */
const GROUP_SIZE = 20;
/** A dropped connection is closed this long (at most) after its last send: sometimes before the server
 * read it, sometimes after it stored it (then the resend is acknowledged as `dup`). */
const DROP_AFTER_MS = 3;
/** When the fault is injected, as a share of the duration. */
const FAULT_AT = 0.4;
/** How long the end waits for the last live or offline receipts before the final SYNC. */
const GRACE_MS = 3_000;

const random = (min: number, max: number) => min + Math.random() * (max - min);

/** What an injected fault did, and why the run fails because of it (its own check failed). */
interface FaultResult {
  report: string;
  failed?: string;
}

/** What every device loop shares. */
interface Run extends SendContext {
  devices: SoakDevice[];
  /** Aborted when the soak time is over: pauses end at once. */
  stop: AbortController;
  nextEndpoint: () => Endpoint;
  /** Milliseconds between two sends of one device (0: flat out). */
  interval: number;
  drops: boolean;
}

/** Logs every device in, creates the groups (users in two each) and joins them. */
async function setUp(run: Run, sequential: boolean): Promise<void> {
  const { accounts, devices } = run;
  let done = 0;
  await forEachLimited(devices.length, sequential ? 1 : 16, async (i) => {
    await devices[i].login(run.nextEndpoint());
    progress(`soak: logging in ${++done}/${devices.length} devices`);
  });
  const first = new Map(devices.filter((d) => d.index === 0).map((d) => [d.userId, d]));
  const groups = Math.max(1, Math.round((accounts.length * 2) / GROUP_SIZE));
  const tag = crypto.randomUUID().slice(0, 8);
  const ids: number[] = [];
  for (let g = 0; g < groups; g++) {
    const creator = accounts[g % accounts.length];
    const reply = await first.get(creator.user.id)!.request({
      msgid: MsgId.CREATE_GROUP,
      groupname: `soak_${tag}_${g}`,
      groupdesc: "soak",
    });
    if (reply.errno !== 0) throw new Error(`CREATE_GROUP failed: ${JSON.stringify(reply)}`);
    ids.push(reply.groupid as number);
    run.members.set(reply.groupid as number, [creator.user.id]);
    creator.groups.push(reply.groupid as number);
  }
  await Promise.all(accounts.map(async (account, i) => {
    for (const g of new Set([i % groups, (i * 7 + 3) % groups])) {
      const groupid = ids[g];
      if (account.groups.includes(groupid)) continue;
      const reply = await first.get(account.user.id)!.request({ msgid: MsgId.ADD_GROUP, groupid });
      if (reply.errno !== 0) throw new Error(`ADD_GROUP failed: ${JSON.stringify(reply)}`);
      account.groups.push(groupid);
      run.members.get(groupid)!.push(account.user.id);
    }
  }));
}

/** Pauses `ms`, or less when the soak ends meanwhile. */
async function pause(run: Run, ms: number): Promise<void> {
  if (ms <= 0 || run.stop.signal.aborted) return;
  await delay(ms, undefined, { signal: run.stop.signal }).catch(() => {});
}

/** One way of leaving, chosen at random: LOGINOUT, a half-close, or (with drops) a drop mid-send. */
async function leave(run: Run, device: SoakDevice): Promise<void> {
  const ways = run.drops ? 3 : 2;
  const way = Math.floor(Math.random() * ways);
  if (way === 0) await device.logout();
  else if (way === 1) await device.disconnect();
  else {
    const send = device.pendingSend ??= newSend(run, device);
    run.ledger.unanswered(send.key);
    await device.drop(send.frame, Math.random() * DROP_AFTER_MS);
  }
}

/** One device's life until the soak ends: chat while online, leave now and then, come back later. */
async function live(run: Run, device: SoakDevice): Promise<void> {
  const sendsPerSecond = run.interval > 0 ? 1000 / run.interval : 50;
  const leaveChance = 1 / (MEAN_ONLINE_S * sendsPerSecond);
  while (!run.stop.signal.aborted) {
    try {
      if (!device.online) {
        await device.login(run.nextEndpoint());
        continue;
      }
      if (Math.random() < leaveChance) {
        await leave(run, device);
        const long = Math.random() < LONG_ABSENCE_SHARE;
        await pause(run, long ? random(1000, 3000) : random(50, 500));
        continue;
      }
      const accepted = await sendOne(run, device);
      await pause(run, accepted ? run.interval * random(0.5, 1.5) : 100);
    } catch (error) {
      // A connection the server ended was counted as such where it closed; anything else is an error.
      if (!(error instanceof ConnectionClosedError)) {
        run.counters.error(
          `${device.userId}/${device.label}: ${error instanceof Error ? error.message : error}`,
        );
      }
      device.close();
      await pause(run, 100);
    }
  }
}

/** Runs the loops for `seconds` (and the fault, if any), with a progress line; returns the seconds run. */
async function soakFor(
  run: Run,
  seconds: number,
  fault: (() => Promise<FaultResult>) | undefined,
): Promise<{ seconds: number; fault?: FaultResult }> {
  const started = performance.now();
  const loops = run.devices.map((device) => live(run, device));
  let faultReport: Promise<FaultResult> | undefined;
  let faultState = "";
  if (fault) {
    faultReport = (async () => {
      await delay(seconds * 1000 * FAULT_AT);
      faultState = ", fault injected";
      try {
        return await fault();
      } catch (error) {
        run.counters.error(`fault injection failed: ${error instanceof Error ? error.message : error}`);
        return { report: `the injection failed: ${error instanceof Error ? error.message : error}` };
      } finally {
        faultState = ", fault over";
      }
    })();
  }
  const end = started + seconds * 1000;
  while (performance.now() < end) {
    await delay(Math.min(1000, Math.max(0, end - performance.now())));
    const online = run.devices.filter((device) => device.online).length;
    progress(
      `soak: ${
        Math.max(0, (end - performance.now()) / 1000).toFixed(0)
      } s left, ${online}/${run.devices.length} ` +
        `devices online, ${run.counters.logins} logins, ${run.ledger.receipts} receipts, errors ` +
        `${run.counters.errors}${faultState}`,
    );
  }
  // A fault still in progress (a restart taking long) finishes before the soak does.
  const report = faultReport ? await faultReport : undefined;
  run.stop.abort();
  // Each loop finishes the request it is in (its ACK comes back) before it stops.
  await Promise.all(loops);
  return { seconds: (performance.now() - started) / 1000, fault: report };
}

/**
 * The end: every device leaves, logs in once more (what was stored for it past its cursors comes in
 * LOGIN_ACK), resends what is still unacknowledged, waits a moment for the last live receipts, and walks its
 * conversations with SYNC.
 */
async function drain(run: Run, sequential: boolean): Promise<void> {
  const { devices } = run;
  await forEachLimited(
    devices.length,
    16,
    (i) => devices[i].online ? devices[i].logout() : Promise.resolve(),
  );
  let done = 0;
  await forEachLimited(devices.length, sequential ? 1 : 16, async (i) => {
    await devices[i].login(run.nextEndpoint());
    progress(`soak: final logins ${++done}/${devices.length}`);
  });
  await forEachLimited(devices.length, 16, async (i) => {
    const device = devices[i];
    for (let attempt = 0; device.pendingSend && attempt < 100; attempt++) {
      if (!(await sendOne(run, device))) await delay(200);
    }
  });
  // A grace period, not a precondition: what is still missing after it is left to the final SYNC.
  await eventually(() => run.ledger.outstanding() === 0, {
    what: "the last receipts",
    timeoutMs: GRACE_MS,
    intervalMs: 100,
  }).catch(() => {});
  done = 0;
  await forEachLimited(devices.length, 16, async (i) => {
    await devices[i].syncFill("final-sync");
    progress(`soak: final SYNC ${++done}/${devices.length}`);
  });
  await forEachLimited(devices.length, 16, (i) => devices[i].logout());
}

/** The `soak` scenario. */
export async function soak(options: BenchOptions): Promise<ScenarioResult> {
  if (options.v1) throw new Error("soak: --v1 is not supported (the ledger needs v2 ACKs)");
  const names = deviceNames(options.devices);
  await using target = await startTarget(options, {
    maxConnections: options.users * options.devices + 10,
    maxDevices: options.devices,
    redisCluster: options.redisCluster,
  });
  const benchUsers = await target.prepareUsers(options.users, options.hashCost ?? "cheap");
  const ledger = new SoakLedger(options.msgBytes, names.map((name) => name ?? "default"));
  const counters = new SoakCounters();
  const rate = options.rate ?? 10;
  let turn = 0;
  const accounts: SoakAccount[] = benchUsers.map((user) => ({ user, groups: [] }));
  const shared = { ledger, counters, serverMayClose: options.fault !== undefined };
  const run: Run = {
    accounts,
    devices: accounts.flatMap((account) => names.map((name, i) => new SoakDevice(account, i, name, shared))),
    members: new Map(),
    ledger,
    counters,
    stop: new AbortController(),
    nextEndpoint: () => target.endpoints[turn++ % 2],
    interval: rate > 0 ? 1000 / rate : 0,
    drops: options.drops,
  };
  const fault = options.fault;
  const view = {
    userIds: accounts.map((account) => account.user.id),
    onlineUsers:
      () => [...new Set(run.devices.filter((device) => device.online).map((device) => device.userId))],
  };
  const inject = fault && target.injectFault ? () => target.injectFault!(fault, view) : undefined;
  if (fault && !inject) throw new Error(`soak: --fault ${fault} needs a cluster the bench starts`);
  // Through nginx, one login at a time makes least_conn alternate nodes.
  const sequential = options.cluster;
  const watch = new ProcessWatch(target.watch);
  let soaked: { seconds: number; fault?: FaultResult };
  let usage;
  try {
    await setUp(run, sequential);
    await watch.start();
    soaked = await soakFor(run, options.duration, inject);
    usage = await watch.stop();
    await drain(run, sequential);
  } finally {
    for (const device of run.devices) device.close();
    endProgress();
  }
  const { seconds } = soaked;
  const tally = ledger.tally();
  const { cpu, rss } = fmtProcesses(usage);
  const groupSizes = [...run.members.values()].map((m) => m.length);
  const notes = [
    `${target.description}; ${options.users} users × ${options.devices} device${
      options.devices > 1 ? "s" : " (no LOGIN device: the one-session rule)"
    } in ${run.members.size} group${run.members.size === 1 ? "" : "s"} of ${Math.min(...groupSizes)}–${
      Math.max(...groupSizes)
    }; ${
      seconds.toFixed(1)
    } s of traffic, then every device left, logged in once more, and walked its conversations with SYNC.`,
    `Each online device sends ${rate > 0 ? `about ${rate}` : "as many as it can"} messages/s with a cmid, ` +
    `waiting for each ACK (${
      GROUP_SHARE * 100
    }% GROUP_CHAT), and leaves after ~${MEAN_ONLINE_S} s online on ` +
    `average (${
      options.drops
        ? "a third each LOGINOUT, half-close, drop with a send in flight"
        : "half LOGINOUT, half half-close"
    }), ` +
    `for 50–500 ms or, ${
      LONG_ABSENCE_SHARE * 100
    }% of the time, 1–3 s; it comes back with its token (after ` +
    `LOGINOUT revoked it, with the password).`,
    `Expected: each ACKed message once at every device of its recipients (GROUP_CHAT: every member but the ` +
    `sender): ${fmtInt(tally.expected)} receipts; ${fmtInt(tally.deliveredLive)} came live, ` +
    `${fmtInt(tally.deliveredOffline)} offline, ${fmtInt(tally.deliveredBySync)} by SYNC after an unclean ` +
    `end, ${fmtInt(tally.deliveredByFinalSync)} only by the final SYNC; ${tally.redelivered} redelivered ` +
    `with a seq the device already had, ${tally.late} late (after a later message of the same sender device ` +
    `in the conversation; the client orders by seq): allowed, reported.`,
    `Logins ${counters.logins} (${counters.tokenLogins} with a token, ${counters.passwordLogins} with the ` +
    `password, ${counters.tokenRefused} tokens refused, ${counters.loginRetries} retried), LOGINOUT ` +
    `${counters.logouts}, half-closes ${counters.disconnects}, drops ${counters.drops}, closed by the server ` +
    `${counters.serverCloses}; resends ${counters.resends} (${tally.acknowledgedAsDup} acknowledged as dup), ` +
    `busy ${counters.busy}; refused ${tally.refused}, fate unknown ${tally.unknown}; out of order by seq ` +
    `${tally.reordered}; seq conflicts ${tally.seqConflicts}; SYNC walks ${counters.syncFills}; presence ` +
    `frames ${counters.presence}; live copies to the sender's other devices ${counters.copies}.`,
    `Chat ACKs by node: ${[...counters.acksByNode].map(([node, n]) => `${node} ${n}`).join(", ")}.`,
  ];
  if (soaked.fault) notes.push(`Fault: ${soaked.fault.report}`);
  if (counters.lastError) notes.push(`Last error: ${counters.lastError}`);
  if (tally.lostSamples.length > 0) notes.push(`Lost (first few): ${tally.lostSamples.join("; ")}`);
  if (tally.wrongSamples.length > 0) notes.push(`Wrong (first few): ${tally.wrongSamples.join("; ")}`);
  if (tally.lateSamples.length > 0) notes.push(`Late (first few): ${tally.lateSamples.join("; ")}`);
  return {
    title: `soak — ${options.users} users × ${options.devices} devices, ${options.duration} s${
      options.cluster ? ` across 2 nodes${options.redisCluster ? " on a Redis Cluster" : ""}` : ""
    }${fault ? `, fault ${fault}` : ""}`,
    headers: [
      "sent",
      "acked",
      "device receipts",
      "LOST",
      "DUPLICATED",
      "OUT OF ORDER",
      "redelivered",
      "late",
      "acked msg/s",
      "receipts/s",
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
      tally.reordered + tally.seqConflicts,
      tally.redelivered,
      tally.late,
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
      fault: soaked.fault?.report,
      tally,
      counters: { ...counters, acksByNode: Object.fromEntries(counters.acksByNode) },
      processes: usage,
    },
    failed: [verdict(tally, fault !== undefined), soaked.fault?.failed].filter(Boolean).join(", ") ||
      undefined,
  };
}
