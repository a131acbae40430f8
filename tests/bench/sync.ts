/**
 * `sync`: one conversation of `--messages` messages (sent between two users from several devices each,
 * acknowledged, so stored), then fetched whole by one of them on another device, `--repeats` times each way: forwards with SYNC {conv, after, limit} pages
 * and backwards with HISTORY {conv, before, limit} pages of `--page` messages. Reports the time per full
 * fetch (target: under 1 s for 10,000 messages in pages of 1,000), and fails when a fetch is not exactly
 * seqs 1..N in order.
 *
 * @module
 */

import { directConv } from "../../lib/conversation_name.ts";
import { MsgId } from "../../lib/protocol/msg_id.ts";
import type { BenchOptions } from "./args.ts";
import { FULL_FETCH_TARGET_MS } from "./issue_targets.ts";
import type { LoadClient } from "./load_client.ts";
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
import { median } from "./stats.ts";
import { fetchProblem, pageOf, seqOf, type Walk, walkBackward, walkForward } from "./sync_pages.ts";
import { startTarget } from "./target.ts";
import { loginUser } from "./users.ts";

/** Chat messages in flight per filling connection. */
const FILL_WINDOW = 100;
/**
 * Devices of each of the two users that fill the conversation: a connection's messages are handled one
 * after another, so more connections fill faster (and exercise seq assignment under concurrency).
 */
const FILL_DEVICES = 4;

/** One filling connection: a device of one user sending to the other. */
interface Filler {
  client: LoadClient;
  toid: number;
}

/** Sends `count` ONE_CHAT spread over `fillers`, `FILL_WINDOW` in flight on each; rejects at the first refusal. */
async function fill(fillers: Filler[], count: number, msgBytes: number): Promise<void> {
  const text = "s".repeat(msgBytes);
  let sent = 0;
  let acked = 0;
  const { promise, resolve, reject } = Promise.withResolvers<void>();
  const pump = (filler: Filler, inFlight: { n: number }) => {
    while (sent < count && inFlight.n < FILL_WINDOW) {
      sent++;
      inFlight.n++;
      filler.client.request({ msgid: MsgId.ONE_CHAT, toid: filler.toid, msg: text }, undefined, 60_000).then(
        (ack) => {
          if (ack.errno !== 0) return reject(new Error(`ONE_CHAT refused: ${JSON.stringify(ack)}`));
          inFlight.n--;
          if (++acked === count) return resolve();
          if (acked % 500 === 0) progress(`sync: filling the conversation ${acked}/${count}`);
          pump(filler, inFlight);
        },
        reject,
      );
    }
  };
  for (const filler of fillers) pump(filler, { n: 0 });
  await promise;
}

/** One timed full fetch. */
interface Fetch {
  way: "SYNC" | "HISTORY";
  ms: number;
  pages: number;
  problem: string | undefined;
}

async function timed(way: Fetch["way"], count: number, walk: () => Promise<Walk>): Promise<Fetch> {
  const started = performance.now();
  const result = await walk();
  const ms = performance.now() - started;
  return { way, ms, pages: result.pages, problem: fetchProblem(result.messages.map(seqOf), count) };
}

/** The `sync` scenario. */
export async function sync(options: BenchOptions): Promise<ScenarioResult> {
  if (options.v1) throw new Error("sync: --v1 is not supported (SYNC and HISTORY are v2)");
  await using target = await startTarget(options);
  const [reader, peer] = await target.prepareUsers(2, options.hashCost ?? "cheap");
  const endpoint = target.endpoints[0];
  const fillers: Filler[] = [];
  for (let d = 0; d < FILL_DEVICES; d++) {
    for (const [from, to] of [[reader, peer], [peer, reader]]) {
      fillers.push({ client: await loginUser(endpoint, from, { device: `fill${d}` }), toid: to.id });
    }
  }
  let client: LoadClient | undefined;
  const conv = directConv(reader.id, peer.id);
  const limit = options.page;
  const watch = new ProcessWatch(target.watch);
  const fetches: Fetch[] = [];
  let usage;
  try {
    const fillStart = performance.now();
    await fill(fillers, options.messages, options.msgBytes);
    for (const filler of fillers) filler.client.close();
    // Logged in after the fill, so that no live frame of it arrives while the fetches are timed.
    const reading = client = await loginUser(endpoint, reader, { device: "reader" });
    const fillSeconds = (performance.now() - fillStart) / 1000;
    const syncPage = (after: number) =>
      reading.request({ msgid: MsgId.SYNC, conv, after, limit }, undefined, 60_000).then(pageOf);
    const historyPage = (before: number | undefined) =>
      reading.request(
        before === undefined
          ? { msgid: MsgId.HISTORY, conv, limit }
          : { msgid: MsgId.HISTORY, conv, before, limit },
        undefined,
        60_000,
      ).then(pageOf);
    // One unmeasured walk each way: the first touches cold pages of the database file.
    await walkForward(syncPage);
    await walkBackward(historyPage);
    await watch.start();
    for (let r = 1; r <= options.repeats; r++) {
      progress(`sync: full fetches, round ${r}/${options.repeats}`);
      fetches.push(await timed("SYNC", options.messages, () => walkForward(syncPage)));
      fetches.push(await timed("HISTORY", options.messages, () => walkBackward(historyPage)));
    }
    usage = await watch.stop();
    endProgress();
    const { cpu, rss } = fmtProcesses(usage);
    const rows = (["SYNC", "HISTORY"] as const).map((way) => {
      const mine = fetches.filter((f) => f.way === way);
      const ms = median(mine.map((f) => f.ms));
      return [
        way,
        mine[0].pages,
        fmtMs(ms),
        fmtMs(Math.min(...mine.map((f) => f.ms))),
        fmtMs(Math.max(...mine.map((f) => f.ms))),
        fmtInt(options.messages / (ms / 1000)),
        ms < FULL_FETCH_TARGET_MS ? "met" : "missed",
        cpu,
        rss,
        loadgenCpu(usage!),
      ];
    });
    const problems = fetches.filter((f) => f.problem).map((f) => `${f.way}: ${f.problem}`);
    return {
      title: `sync — one conversation of ${fmtInt(options.messages)} messages in pages of ${limit}`,
      headers: [
        "fetch",
        "pages",
        "median ms",
        "min ms",
        "max ms",
        "messages/s",
        `< ${FULL_FETCH_TARGET_MS} ms`,
        "server CPU",
        "server RSS",
        "loadgen / other CPU",
      ],
      rows,
      notes: [
        `${target.description}; ${options.messages} ONE_CHAT between two users (${options.msgBytes} ` +
        `characters, from ${FILL_DEVICES} devices of each, ${FILL_WINDOW} in flight per device; filled in ` +
        `${fillSeconds.toFixed(1)} s), then one of them fetched ${conv} whole on another device ` +
        `${
          options.repeats === 1 ? "once" : `${options.repeats} times`
        } each way after one unmeasured walk each.`,
        `SYNC walks forwards (after 0, then after each page's last seq); HISTORY backwards (no before, then ` +
        `before each page's first seq). Time: first request sent → last page parsed by the client.`,
        ...problems.map((problem) => `Wrong fetch: ${problem}`),
      ],
      data: {
        target: target.description,
        serverArgs: target.serverArgs,
        fillSeconds,
        fetches,
        processes: usage,
      },
      failed: problems.length > 0 ? problems.join("; ") : undefined,
    };
  } finally {
    client?.close();
    for (const filler of fillers) filler.client.close();
    endProgress();
  }
}
