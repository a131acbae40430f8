/**
 * The soak's faults on a Redis Cluster (`soak --cluster --redis-cluster --fault master|reshard`), and how
 * long presence takes to be whole again after one: a probe bus (a `RedisBus` of its own, as a third node
 * would have) asks which of the users with a device online in the soak Redis says are online, until all are.
 *
 * @module
 */

import { setTimeout as delay } from "node:timers/promises";
import { RedisBus } from "../../lib/bus/redis_bus.ts";
import { userChannel } from "../../lib/bus/redis_wire.ts";
import { Logger } from "../../lib/log.ts";
import { eventually } from "../harness/eventually.ts";
import type { RedisCluster } from "../harness/redis_cluster.ts";

/** The server's defaults (`lib/bus/redis_bus.ts`): its key prefix, and how long a device outlives a renewal. */
const KEY_PREFIX = "chat:";
export const SERVER_LEASE_MS = 5000;
/** How long presence may take to recover before the probe gives up (and the soak fails). */
const PRESENCE_LIMIT_MS = 4 * SERVER_LEASE_MS;

/** What the soak tells a fault about its users. */
export interface SoakView {
  /** Every user of the soak. */
  userIds: number[];
  /** The users with a device logged in right now (changes as devices come and go). */
  onlineUsers(): number[];
}

/** What a fault did, and whether presence took longer than a lease to recover once the fault was over. */
export interface FaultOutcome {
  report: string;
  presenceLate: boolean;
}

/**
 * kill -9 of the master serving the most users' channels; resolves once its replica took over (the
 * cluster is ok again) and presence is whole.
 */
export async function killBusiestMaster(cluster: RedisCluster, view: SoakView): Promise<FaultOutcome> {
  const owners = await slotOwners(cluster, view.userIds);
  const counts = new Map<number, number>();
  for (const { master } of owners) counts.set(master, (counts.get(master) ?? 0) + 1);
  const [victim, users] = [...counts].sort((a, b) => b[1] - a[1])[0];
  const slot = owners.find(({ master }) => master === victim)!.slot;
  const started = performance.now();
  await cluster.kill(victim);
  // Its slots have a master again once the replica is promoted (masterOf skips failed nodes).
  await eventually(async () => (await cluster.masterOf(slot)) !== victim, {
    what: "the failover of the killed master",
    timeoutMs: 30_000,
    intervalMs: 100,
  });
  await cluster.waitUntilOk();
  const failoverMs = performance.now() - started;
  const presenceMs = await presenceWhole(cluster.url, view, started);
  return {
    report: `Redis Cluster master 127.0.0.1:${victim} (the channels and presence of ${users} of ` +
      `${view.userIds.length} users) killed (SIGKILL); its replica took over after ${seconds(failoverMs)}; ` +
      presenceReport(presenceMs),
    presenceLate: presenceMs < 0 || presenceMs - failoverMs > SERVER_LEASE_MS,
  };
}

/** Half of Redis Cluster's 16,384 slots: what {@linkcode reshardHalf} moves. */
const HALF_THE_SLOTS = 8192;

/**
 * Half the slots of the cluster, with their keys, moved during chat to one master from the two others by
 * the real tool (`redis-cli --cluster reshard --cluster-from all`), which takes the first slots of each
 * source's list; resolves once presence is whole.
 */
export async function reshardHalf(cluster: RedisCluster, view: SoakView): Promise<FaultOutcome> {
  const before = await slotOwners(cluster, view.userIds);
  const [target] = await cluster.masters();
  const started = performance.now();
  const moved = await cluster.reshard("all", target, HALF_THE_SLOTS);
  const movedMs = performance.now() - started;
  const after = await slotOwners(cluster, view.userIds);
  const usersMoved = after.filter(({ master }, i) => master !== before[i].master).length;
  const presenceMs = await presenceWhole(cluster.url, view, started);
  return {
    report: `${moved.length} Redis Cluster slots (the channels and presence of ${usersMoved} of ` +
      `${view.userIds.length} users) moved to 127.0.0.1:${target} during chat by redis-cli --cluster ` +
      `reshard in ${seconds(movedMs)}; ${presenceReport(presenceMs)}`,
    presenceLate: presenceMs < 0 || presenceMs - movedMs > SERVER_LEASE_MS,
  };
}

/** The slot of each user's keys and channel (one hash tag), and the master serving it now. */
async function slotOwners(
  cluster: RedisCluster,
  userIds: number[],
): Promise<{ user: number; slot: number; master: number }[]> {
  const owners = [];
  for (const user of userIds) {
    const slot = await cluster.keySlot(userChannel(KEY_PREFIX, user));
    owners.push({ user, slot, master: await cluster.masterOf(slot) });
  }
  return owners;
}

/**
 * Milliseconds from `since` until Redis says every user with a device online is online (asked every
 * 100 ms); -1 when that did not happen within {@linkcode PRESENCE_LIMIT_MS}.
 */
async function presenceWhole(url: string, view: SoakView, since: number): Promise<number> {
  const probe = new RedisBus({
    url,
    nodeId: `soak-probe-${crypto.randomUUID().slice(0, 8)}`,
    log: new Logger({ level: "silent" }),
  });
  try {
    await probe.start();
    while (performance.now() - since < PRESENCE_LIMIT_MS) {
      // Asked again each time: devices keep coming and going.
      const users = view.onlineUsers();
      const online = await probe.onlineUsers(users).catch(() => new Set<number>());
      if (users.every((user) => online.has(user) || !view.onlineUsers().includes(user))) {
        return performance.now() - since;
      }
      await delay(100);
    }
    return -1;
  } finally {
    await probe.close();
  }
}

function presenceReport(presenceMs: number): string {
  return presenceMs < 0
    ? `presence NOT whole within ${seconds(PRESENCE_LIMIT_MS)}`
    : `presence whole again ${seconds(presenceMs)} after the fault began (device lease ${
      seconds(SERVER_LEASE_MS)
    })`;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
