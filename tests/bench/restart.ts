/**
 * `restart`: a node restart with K users online (issue 14). K devices log in with resume tokens and stay
 * connected while a few pairs chat (the idle p99); the node is killed (`kill -9`) and started again on its
 * port and store; the pairs log back in first and chat while all K reconnect with their tokens at once (the
 * storm p99); then the pairs chat on with all K back (the after p99). Reports the restart time, the time until
 * all K are back, the reconnect rate, and the three p99s.
 *
 * @module
 */

import type { BenchOptions } from "./args.ts";
import { P99_RATIO_TARGET, p99Verdict } from "./issue_targets.ts";
import { loginPairs, PingPong, type PingPongWindow, runFor } from "./pingpong.ts";
import { openFileLimit, type ProcessUsage, ProcessWatch } from "./process_stats.ts";
import type { FromWorker, ToWorker } from "./reconnect_worker.ts";
import type { TokenCredential } from "./token_credentials.ts";
import {
  endProgress,
  fmtInt,
  fmtMs,
  fmtProcesses,
  loadgenCpu,
  progress,
  type ScenarioResult,
} from "./report.ts";
import { startTarget, type Target } from "./target.ts";
import { issueTokens } from "./token_credentials.ts";

/** The device every storm user's token is bound to. */
const DEVICE = "bench-restart";
/** File descriptors the generator needs besides the connections (stdio, pipes of the children, …). */
const FD_MARGIN = 200;
/** Token logins in flight while everyone first comes online (not the storm: that is all at once). */
const ONLINE_CONCURRENCY = 64;

/** A measured window of the chat pairs with the server's CPU and memory over it. */
type Phase = PingPongWindow & { processes: ProcessUsage[] };

/** How the restarted node admits token logins. */
interface Admission {
  label: string;
  args: string[];
}

/** Each round restarts the node twice: without a limit on token logins, then with the server's default. */
const ADMISSIONS: Admission[] = [
  { label: "no login limit", args: ["--login-concurrency", "0"] },
  { label: "default login limit", args: [] },
];

/** How one storm of token logins went (from the devices' worker). */
type StormOutcome = Omit<Extract<FromWorker, { type: "done" }>, "type">;

/** One restart: how long the node took, the devices' storm, and the chat during it. */
interface Round {
  admission: Admission;
  restartMs: number;
  storm: StormOutcome;
  during: Phase;
}

/** The devices, logged in from a Worker (`reconnect_worker.ts` says why). */
class Devices implements AsyncDisposable {
  readonly #worker = new Worker(new URL("./reconnect_worker.ts", import.meta.url), { type: "module" });
  #onMessage: (message: FromWorker) => void = () => {};

  constructor(
    endpoint: { hostname: string; port: number },
    users: number[],
    tokens: Map<number, TokenCredential>,
  ) {
    this.#worker.onmessage = (event: MessageEvent<FromWorker>) => this.#onMessage(event.data);
    this.#post({ type: "init", endpoint, users, tokens: [...tokens] });
  }

  #post(message: ToWorker): void {
    this.#worker.postMessage(message);
  }

  /** Closes the connections the worker holds, then every device logs in again; resolves when all are back. */
  reconnect(
    concurrency: number | undefined,
    onProgress: (back: number, total: number) => void,
  ): Promise<StormOutcome> {
    const { promise, resolve, reject } = Promise.withResolvers<StormOutcome>();
    this.#onMessage = (message) => {
      if (message.type === "progress") onProgress(message.back, message.total);
      else if (message.type === "done") resolve(message);
      else if (message.type === "failed") {
        reject(new Error(`restart: the devices' worker failed: ${message.error}`));
      }
    };
    this.#post({ type: "reconnect", concurrency });
    return promise;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#onMessage = (message) =>
      message.type === "closed" || message.type === "failed" ? resolve() : undefined;
    this.#post({ type: "close" });
    await Promise.race([promise, new Promise((done) => setTimeout(done, 5000))]);
    this.#worker.terminate();
  }
}

/** The `restart` scenario. */
export async function restart(options: BenchOptions): Promise<ScenarioResult> {
  if (options.v1) throw new Error("restart: --v1 is not supported (resume tokens are v2)");
  const k = options.connections;
  const pairs = options.stormPairs;
  const limit = await openFileLimit();
  if (limit !== undefined && limit < k + 2 * pairs + FD_MARGIN) {
    throw new Error(
      `restart: ${k} connections need at least ${k + 2 * pairs + FD_MARGIN} open files, but ulimit -n is ` +
        `${limit}; use --connections ${Math.max(1, limit - 2 * pairs - FD_MARGIN)}`,
    );
  }
  await using target = await startTarget(options, { maxConnections: k + 2 * pairs });
  if (!target.restart) {
    throw new Error("restart: needs one node the bench starts (no --endpoints, --cluster)");
  }
  const endpoint = target.endpoints[0];
  const users = await target.prepareUsers(k + 2 * pairs, options.hashCost ?? "cheap");
  const pairUsers = users.slice(0, 2 * pairs);
  const stormUsers = users.slice(2 * pairs);
  const tokens = await issueTokens(endpoint, stormUsers, {
    device: DEVICE,
    concurrency: 16,
    onProgress: (done, total) =>
      done % 500 === 0 || done === total
        ? progress(`restart: password logins for tokens ${done}/${total}`)
        : 0,
  });
  const rate = options.rate ?? 100;
  const chatPairs = async () => {
    const clients = await loginPairs(pairUsers, target.endpoints, { v1: false, sequential: false });
    return new PingPong(clients, pairUsers, { v1: false, msgBytes: options.msgBytes, rate });
  };
  const watch = new ProcessWatch(target.watch);
  await using devices = new Devices(endpoint, stormUsers.map((user) => user.id), tokens);
  await devices.reconnect(
    ONLINE_CONCURRENCY,
    (back, total) => progress(`restart: ${back}/${total} devices online`),
  );
  let engine = await chatPairs();
  /** Chat for --duration with everyone online: the idle p99 the next storm is compared with. */
  const idleWindow = async (label: string): Promise<Phase> => {
    engine.window();
    await watch.start();
    await runFor(engine, options.duration, `restart: ${pairs} pairs, ${fmtInt(k)} devices online (${label})`);
    return { ...engine.window(), processes: await watch.stop() };
  };
  /** kill -9, start again with `extraArgs`, the pairs back first, then every device at once. */
  const stormRound = async (admission: Admission): Promise<Round> => {
    await engine.stop();
    engine.close();
    progress(`restart: kill -9 of the node, started again (${admission.label})`);
    const killedAt = performance.now();
    await target.restart!("SIGKILL", admission.args);
    const restartMs = performance.now() - killedAt;
    engine = await chatPairs();
    engine.start();
    // A node just started runs the chat path cold (no JIT yet): that is not the storm's doing.
    if (options.warmup > 0) {
      await runFor(engine, options.warmup, `restart: chat warm-up (${admission.label})`);
    }
    engine.window();
    await watch.start();
    // Every old connection ended with the node; the worker closes them and lets all devices go at once.
    const storm = await devices.reconnect(undefined, (back, total) =>
      progress(
        `restart (${admission.label}): ${back}/${total} devices back, chat p99 ${
          fmtMs(engine.histogram.quantileMs(0.99))
        } ms`,
      ));
    const during: Phase = { ...engine.window(), processes: await watch.stop() };
    return { admission, restartMs, storm, during };
  };
  try {
    engine.start();
    if (options.warmup > 0) await runFor(engine, options.warmup, "restart: chat warm-up");
    const rounds: { idle: Phase; round: Round }[] = [];
    let idle = await idleWindow("before the first restart");
    for (let repeat = 0; repeat < options.repeats; repeat++) {
      for (const admission of ADMISSIONS) {
        const round = await stormRound(admission);
        rounds.push({ idle, round });
        idle = await idleWindow(`after a restart ${admission.label}`);
      }
    }
    endProgress();
    return report({ target, k, pairs, rate, options }, rounds, idle);
  } finally {
    await engine.stop();
    engine.close();
    endProgress();
  }
}

/** The table: the idle window before each storm, the storm, and the last idle window. */
function report(
  run: { target: Target; k: number; pairs: number; rate: number; options: BenchOptions },
  rounds: { idle: Phase; round: Round }[],
  last: Phase,
): ScenarioResult {
  const { target, k, pairs, rate } = run;
  const row = (label: string, w: Phase, back: string, ratio: string) => {
    const { cpu, rss } = fmtProcesses(w.processes);
    return [
      label,
      w.seconds.toFixed(1),
      fmtInt(w.messagesPerSecond),
      fmtMs(w.latency.p50),
      fmtMs(w.latency.p99),
      fmtMs(w.latency.max),
      ratio,
      w.errors,
      back,
      cpu,
      rss,
      loadgenCpu(w.processes),
    ];
  };
  const rows: (string | number)[][] = [];
  const notes: string[] = [];
  for (const { idle, round } of rounds) {
    const { ratio, met } = p99Verdict(idle.latency.p99, round.during.latency.p99);
    const back = round.storm.backAfter;
    rows.push(row(`all online, idle`, idle, fmtInt(k), ""));
    rows.push(
      row(
        `storm, ${round.admission.label}`,
        round.during,
        `${fmtInt(k)} in ${(round.storm.allBackMs / 1000).toFixed(2)} s (${fmtInt(round.storm.perSecond)}/s)`,
        `${ratio.toFixed(2)}×`,
      ),
    );
    notes.push(
      `Restart ${round.admission.label}${
        round.admission.args.length ? ` (${round.admission.args.join(" ")})` : ""
      }: ` +
        `the node listened again ${fmtInt(round.restartMs)} ms after kill -9; all ${
          fmtInt(k)
        } devices back ` +
        `${(round.storm.allBackMs / 1000).toFixed(2)} s after they were let go, **${
          fmtInt(round.storm.perSecond)
        } ` +
        `reconnects/s** (a device back after p50 ${fmtMs(back.p50)} ms, p99 ${fmtMs(back.p99)} ms; ` +
        `${round.storm.retries} retries, ${round.storm.busy} answered errno 11); chat p99 ${
          fmtMs(round.during.latency.p99)
        } ms during the storm against ${fmtMs(idle.latency.p99)} ms idle before it: ${
          ratio.toFixed(2)
        }× (≤ ${P99_RATIO_TARGET}×: ${met ? "met" : "missed"}).`,
    );
  }
  rows.push(row("all online, idle", last, fmtInt(k), ""));
  return {
    title: `restart — ${fmtInt(k)} devices reconnect with resume tokens after kill -9 of their node`,
    headers: [
      "phase",
      "s",
      "chat msg/s",
      "p50 ms",
      "p99 ms",
      "max ms",
      "p99 / idle",
      "errors",
      "devices back",
      "server CPU",
      "server RSS",
      "loadgen / other CPU",
    ],
    rows,
    notes: [
      `${target.description}; ${fmtInt(k)} devices (users ${
        target.describeUsers(run.options.hashCost ?? "cheap")
      }), each with a resume token from one password login and online over its own connection; ${pairs} chat ` +
      `pairs paced at ${rate} messages/s per pair, on the same node.`,
      "Each restart: kill -9 of the node and its start again on the same port and store; the pairs log in again " +
      `(password) and chat for --warmup (${run.options.warmup} s: the chat path of a node just started is cold); then all ${
        fmtInt(k)
      } devices are let go at once: connect, LOGIN {id, token, device}, ` +
      "and after a refused connect or errno 11 a retry after a jittered backoff (50 ms doubling to 2 s). The " +
      "storm row is the chat from the devices' release until the last device is back.",
      ...notes,
    ],
    data: {
      target: target.description,
      serverArgs: target.serverArgs,
      devices: k,
      pairs,
      rounds: rounds.map(({ idle, round }) => ({
        admission: round.admission,
        idle,
        restartMs: round.restartMs,
        allBackMs: round.storm.allBackMs,
        reconnectsPerSecond: round.storm.perSecond,
        backAfter: round.storm.backAfter,
        retries: round.storm.retries,
        busy: round.storm.busy,
        during: round.during,
      })),
      last,
    },
  };
}
