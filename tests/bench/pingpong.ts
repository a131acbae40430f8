/**
 * `pingpong`: P pairs of users A and B, one message in flight per pair. A sends ONE_CHAT to B; B's receipt
 * triggers B's ONE_CHAT to A, and so on. Counts delivered messages per second and the latency from the send
 * to the receipt at the peer (`performance.now()` on both ends, one process).
 *
 * The engine ({@linkcode PingPong}) is shared with the `storm` scenario.
 *
 * @module
 */

import { MsgId } from "../../lib/protocol/msg_id.ts";
import type { BenchOptions, Endpoint } from "./args.ts";
import { hasErrnoZero, type LoadClient, msgidAt } from "./load_client.ts";
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
import { Histogram, type LatencySummary, median } from "./stats.ts";
import { startTarget, type Target } from "./target.ts";
import { type BenchUser, loginUsers } from "./users.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** A pair whose message has not arrived after this long is reported as stalled. */
const STALL_MS = 5_000;

interface Pair {
  a: LoadClient;
  b: LoadClient;
  toB: Uint8Array;
  toA: Uint8Array;
  sentAt: number;
  inFlight: boolean;
  /** Node ids of each side, when the server's message ids tell (cluster runs). */
  nodeA?: string;
  nodeB?: string;
}

/** Counters of a {@linkcode PingPong} run; `window()` reads and restarts them. */
export interface PingPongWindow {
  seconds: number;
  delivered: number;
  messagesPerSecond: number;
  errors: number;
  latency: LatencySummary;
  /** Messages delivered in each whole second of the window. */
  perSecond: number[];
}

/** The text of a chat message of `bytes` characters. */
function chatText(bytes: number): string {
  return "x".repeat(bytes);
}

/**
 * The closed loop over logged-in pairs.
 *
 * @example
 * ```ts ignore
 * const engine = new PingPong(clients, users, { v1: false, msgBytes: 32 });
 * engine.start();
 * await delay(10_000);
 * const window = engine.window();
 * await engine.stop();
 * ```
 */
export class PingPong {
  readonly pairs: Pair[] = [];
  readonly histogram = new Histogram();
  delivered = 0;
  errors = 0;
  /** Frames that were neither chat, ACK nor ERROR (PRESENCE, …). */
  other = 0;
  #running = false;
  #windowStart = performance.now();
  #windowDelivered = 0;
  #windowErrors = 0;
  #perSecond: number[] = [];
  #secondStart = 0;
  #secondDelivered = 0;
  #ticker: ReturnType<typeof setInterval> | undefined;

  /** `clients[2i]` is pair i's A, `clients[2i+1]` its B, logged in as the matching `users`. */
  /** Minimum milliseconds between two sends of one pair (0: the next message leaves on receipt). */
  readonly #interval: number;

  /**
   * `clients[2i]` is pair i's A, `clients[2i+1]` its B, logged in as the matching `users`. With `rate`, each pair
   * sends at most that many messages per second (paced chat instead of a flat-out closed loop).
   */
  constructor(
    clients: LoadClient[],
    users: BenchUser[],
    options: { v1: boolean; msgBytes: number; rate?: number },
  ) {
    this.#interval = options.rate ? 1000 / options.rate : 0;
    const text = chatText(options.msgBytes);
    const time = "2026-01-01 00:00:00";
    for (let i = 0; i + 1 < clients.length; i += 2) {
      const [a, b] = [users[i], users[i + 1]];
      const frame = (from: BenchUser, to: BenchUser) =>
        encoder.encode(
          options.v1
            ? JSON.stringify({
              msgid: MsgId.ONE_CHAT,
              id: from.id,
              name: from.name,
              toid: to.id,
              msg: text,
              time,
            }) + "\0"
            : JSON.stringify({ msgid: MsgId.ONE_CHAT, v: 2, cid: 1, toid: to.id, msg: text, time }) + "\n",
        );
      const pair: Pair = {
        a: clients[i],
        b: clients[i + 1],
        toB: frame(a, b),
        toA: frame(b, a),
        sentAt: 0,
        inFlight: false,
      };
      pair.a.onRawFrame = (bytes, start, end) => this.#onFrame(pair, true, bytes, start, end);
      pair.b.onRawFrame = (bytes, start, end) => this.#onFrame(pair, false, bytes, start, end);
      pair.a.onClose = pair.b.onClose = () => {
        if (this.#running) this.errors++;
      };
      this.pairs.push(pair);
    }
  }

  #onFrame(pair: Pair, isA: boolean, bytes: Uint8Array, start: number, end: number): void {
    const msgid = msgidAt(bytes, start, end);
    if (msgid === MsgId.ONE_CHAT) {
      const now = performance.now();
      this.histogram.recordMs(now - pair.sentAt);
      this.delivered++;
      if (this.#running) {
        const wait = pair.sentAt + this.#interval - now;
        if (wait >= 1) setTimeout(() => this.#send(pair, isA), wait);
        else this.#send(pair, isA);
      } else {
        pair.inFlight = false;
      }
    } else if (msgid === MsgId.ACK) {
      if (!hasErrnoZero(bytes, start, end)) this.errors++;
      else if (isA ? pair.nodeA === undefined : pair.nodeB === undefined) {
        this.#learnNode(pair, isA, bytes, start, end);
      }
    } else if (msgid === MsgId.ERROR) {
      this.errors++;
    } else {
      this.other++;
    }
  }

  /** Sends the next message of `pair` from the side that just received one. */
  #send(pair: Pair, fromA: boolean): void {
    if (!this.#running) {
      pair.inFlight = false;
      return;
    }
    pair.sentAt = performance.now();
    if (fromA) pair.a.send(pair.toB);
    else pair.b.send(pair.toA);
  }

  /** The node id inside the server's message id (`<time>.<node>.<n>`), read once per connection. */
  #learnNode(pair: Pair, isA: boolean, bytes: Uint8Array, start: number, end: number): void {
    let node = "?";
    try {
      const mid = JSON.parse(decoder.decode(bytes.subarray(start, end))).mid;
      const parts = typeof mid === "string" ? mid.split(".") : [];
      if (parts.length >= 3) node = parts.slice(1, -1).join(".");
    } catch {
      // Unknown format: the node stays "?".
    }
    if (isA) pair.nodeA = node;
    else pair.nodeB = node;
  }

  /** Sends every pair's first message. */
  start(): void {
    this.#running = true;
    const now = performance.now();
    this.#restartWindow(now);
    this.#ticker = setInterval(() => this.#tick(), 1000);
    for (const pair of this.pairs) {
      pair.inFlight = true;
      pair.sentAt = now;
      pair.a.send(pair.toB);
    }
  }

  #tick(): void {
    const now = performance.now();
    if (now - this.#secondStart < 999) return;
    this.#perSecond.push(this.delivered - this.#secondDelivered);
    this.#secondDelivered = this.delivered;
    this.#secondStart = now;
  }

  #restartWindow(now: number): void {
    this.#windowStart = now;
    this.#windowDelivered = this.delivered;
    this.#windowErrors = this.errors;
    this.#perSecond = [];
    this.#secondStart = now;
    this.#secondDelivered = this.delivered;
    this.histogram.reset();
  }

  /** Delivered messages per second since the window started, for progress lines. */
  get currentRate(): number {
    const seconds = (performance.now() - this.#windowStart) / 1000;
    return seconds > 0 ? (this.delivered - this.#windowDelivered) / seconds : 0;
  }

  /** Reads the window that ends now and starts the next one. */
  window(): PingPongWindow {
    const now = performance.now();
    const seconds = (now - this.#windowStart) / 1000;
    const delivered = this.delivered - this.#windowDelivered;
    const result: PingPongWindow = {
      seconds,
      delivered,
      messagesPerSecond: delivered / seconds,
      errors: this.errors - this.#windowErrors,
      latency: this.histogram.summary(),
      perSecond: this.#perSecond,
    };
    this.#restartWindow(now);
    return result;
  }

  /**
   * Stops sending; waits up to 5 s for the messages in flight. Returns how many pairs never got theirs (lost or
   * stalled messages).
   */
  async stop(): Promise<number> {
    this.#running = false;
    clearInterval(this.#ticker);
    const deadline = performance.now() + STALL_MS;
    while (this.pairs.some((pair) => pair.inFlight && !pair.a.isClosed && !pair.b.isClosed)) {
      if (performance.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return this.pairs.filter((pair) => pair.inFlight).length;
  }

  /** Pairs whose sides are on different nodes, when the server's message ids tell; undefined otherwise. */
  acrossNodes(): { across: number; known: number } {
    const known = this.pairs.filter((p) => p.nodeA && p.nodeB && p.nodeA !== "?" && p.nodeB !== "?");
    return { across: known.filter((p) => p.nodeA !== p.nodeB).length, known: known.length };
  }

  close(): void {
    for (const pair of this.pairs) {
      pair.a.close();
      pair.b.close();
    }
  }
}

/** Logs in 2×`pairs` users: A sides on `endpoints[0]`, B sides on `endpoints[1]`. */
export async function loginPairs(
  users: BenchUser[],
  endpoints: [Endpoint, Endpoint],
  options: { v1: boolean; sequential: boolean },
): Promise<LoadClient[]> {
  return await loginUsers(users, (i) => endpoints[i % 2], {
    v1: options.v1,
    sequential: options.sequential,
    concurrency: 16,
    onProgress: (done, total) => progress(`logging in ${total} users (${total / 2} pairs): ${done}/${total}`),
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `seconds` of the engine, rewriting the progress line every second; throws when nothing was delivered
 * for `STALL_MS` (the server is stuck or dead).
 */
export async function runFor(
  engine: PingPong,
  seconds: number,
  label: string,
  extra: () => string = () => "",
): Promise<void> {
  const end = performance.now() + seconds * 1000;
  let lastDelivered = engine.delivered;
  let lastProgress = performance.now();
  while (performance.now() < end) {
    await sleep(Math.min(1000, Math.max(0, end - performance.now())));
    const now = performance.now();
    if (engine.delivered !== lastDelivered) {
      lastDelivered = engine.delivered;
      lastProgress = now;
    } else if (now - lastProgress > STALL_MS) {
      throw new Error(`${label}: no message delivered for ${STALL_MS / 1000} s (errors: ${engine.errors})`);
    }
    const left = Math.max(0, (end - now) / 1000);
    progress(
      `${label}: ${fmtInt(engine.currentRate)} msg/s, p99 ${fmtMs(engine.histogram.quantileMs(0.99))} ms, ` +
        `errors ${engine.errors}${extra()}, ${left.toFixed(0)} s left`,
    );
  }
}

/** One measured window as a table row. */
export function windowRow(label: string, window: PingPongWindow, usage: ProcessUsage[]): (string | number)[] {
  const { cpu, rss } = fmtProcesses(usage);
  return [
    label,
    fmtInt(window.messagesPerSecond),
    fmtMs(window.latency.p50),
    fmtMs(window.latency.p99),
    fmtMs(window.latency.p999),
    fmtMs(window.latency.max),
    window.errors,
    cpu,
    rss,
    loadgenCpu(usage),
  ];
}

export const WINDOW_HEADERS = [
  "run",
  "msg/s",
  "p50 ms",
  "p99 ms",
  "p999 ms",
  "max ms",
  "errors",
  "server CPU",
  "server RSS",
  "loadgen / other CPU",
];

/** The `pingpong` scenario (without `--ceiling`: see `pingpong_ceiling.ts` for that). */
export async function pingpong(options: BenchOptions): Promise<ScenarioResult> {
  await using target: Target = await startTarget(options);
  const users = await target.prepareUsers(options.pairs * 2, options.hashCost ?? "cheap");
  // Through nginx, logging in one at a time makes least_conn alternate nodes, so each pair spans both.
  const clients = await loginPairs(users, target.endpoints, { v1: options.v1, sequential: options.cluster });
  const engine = new PingPong(clients, users, {
    v1: options.v1,
    msgBytes: options.msgBytes,
    rate: options.rate,
  });
  const watch = new ProcessWatch(target.watch);
  const rows: (string | number)[][] = [];
  const windows: (PingPongWindow & { processes: ProcessUsage[] })[] = [];
  let stalled = 0;
  try {
    engine.start();
    if (options.warmup > 0) await runFor(engine, options.warmup, "pingpong warm-up");
    for (let r = 1; r <= options.repeats; r++) {
      engine.window();
      await watch.start();
      await runFor(engine, options.duration, `pingpong ${options.pairs} pairs, run ${r}/${options.repeats}`);
      const window = engine.window();
      const usage = await watch.stop();
      windows.push({ ...window, processes: usage });
      rows.push(windowRow(options.repeats > 1 ? `${r}` : "1", window, usage));
    }
  } finally {
    stalled = await engine.stop();
    engine.close();
    endProgress();
  }
  if (options.repeats > 1) {
    const rates = windows.map((w) => w.messagesPerSecond);
    rows.push([
      "median",
      fmtInt(median(rates)),
      fmtMs(median(windows.map((w) => w.latency.p50))),
      fmtMs(median(windows.map((w) => w.latency.p99))),
      fmtMs(median(windows.map((w) => w.latency.p999))),
      "",
      windows.reduce((sum, w) => sum + w.errors, 0),
      "",
      "",
      "",
    ]);
  }
  const notes = [
    `${target.description}; ${options.pairs} pairs, ${
      options.v1 ? "protocol v1 (forwarded frames only)" : "protocol v2"
    }, ` +
    `${options.msgBytes}-character messages, ${
      options.rate ? `paced at ${options.rate} messages/s per pair` : "closed loop (next message on receipt)"
    }, ${options.duration} s per run after ${options.warmup} s warm-up.`,
    "Latency: ONE_CHAT sent by one side → forwarded frame read by the other (same process clock).",
  ];
  const across = engine.acrossNodes();
  if (options.cluster || options.endpoints?.length === 2) {
    notes.push(
      across.known > 0
        ? `Pairs across nodes (from the node id in each side's first ACK mid): ${across.across}/${across.known}.`
        : "Which node each side landed on is unknown (no node id in the ACK mids).",
    );
  }
  if (stalled > 0) {
    notes.push(`${stalled} pairs did not receive their last message within 5 s of the end (lost?).`);
  }
  if (engine.other > 0) notes.push(`${engine.other} other frames (presence etc.) were received and ignored.`);
  return {
    title: `pingpong — ${options.pairs} pairs${options.cluster ? " across 2 nodes" : ""}`,
    headers: WINDOW_HEADERS,
    rows,
    notes,
    data: {
      target: target.description,
      serverArgs: target.serverArgs,
      windows,
      stalledPairs: stalled,
      acrossNodes: across,
    },
  };
}
