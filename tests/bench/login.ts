/**
 * `login`: C workers, each looping connect → LOGIN → LOGINOUT → close over its own pre-registered user.
 * Reports logins per second and the LOGIN round trip (request sent → LOGIN_ACK read). The engine
 * ({@linkcode LoginStorm}) is shared with the `storm` scenario and, with resume tokens instead of passwords,
 * with `tokens`.
 *
 * @module
 */

import type { BenchOptions, Endpoint } from "./args.ts";
import { LoadClient } from "./load_client.ts";
import { type ProcessUsage, ProcessWatch } from "./process_stats.ts";
import { endProgress, fmtMs, fmtProcesses, loadgenCpu, progress, type ScenarioResult } from "./report.ts";
import { Histogram, type LatencySummary } from "./stats.ts";
import { startTarget } from "./target.ts";
import type { TokenCredential } from "./token_credentials.ts";
import type { BenchUser } from "./users.ts";

/** Counters of one window of a {@linkcode LoginStorm}. */
export interface LoginWindow {
  seconds: number;
  logins: number;
  loginsPerSecond: number;
  errors: number;
  latency: LatencySummary;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What a {@linkcode LoginStorm} is made of, as it is posted to a Worker (`login_worker.ts`). */
export interface LoginStormSetup {
  endpoint: Endpoint;
  users: BenchUser[];
  workers: number;
  v1: boolean;
  /** Each user's device token: token logins instead of password logins. */
  tokens?: Map<number, TokenCredential>;
}

/**
 * Login workers: password logins (connect, LOGIN, LOGINOUT, close) or token logins (connect, LOGIN with a
 * token, half-close). At v1 there is no LOGINOUT acknowledgement, so a v1 worker closes right after sending
 * it and rotates over its users (a refusal with errno 2, "still logged in", is retried, not counted as an
 * error).
 *
 * @example
 * ```ts ignore
 * const storm = new LoginStorm(endpoint, users, 20, { v1: false });
 * storm.start();
 * await delay(10_000);
 * const window = storm.window();
 * await storm.stop();
 * ```
 */
export class LoginStorm {
  readonly histogram = new Histogram();
  logins = 0;
  errors = 0;
  /** Logins refused because the previous session of that user (or device) was not yet gone; retried. */
  retries = 0;
  lastError: string | undefined;
  #running = false;
  #workers: Promise<void>[] = [];
  #windowStart = 0;
  #windowLogins = 0;
  #windowErrors = 0;
  readonly #endpoint: Endpoint;
  readonly #users: BenchUser[];
  readonly #count: number;
  readonly #v1: boolean;
  readonly #tokens: Map<number, TokenCredential> | undefined;

  /**
   * `users` are shared out round-robin between `workers` workers (at least one each). With `tokens`, each
   * user logs in with its device's resume token instead of the password.
   */
  constructor(
    endpoint: Endpoint,
    users: BenchUser[],
    workers: number,
    options: { v1: boolean; tokens?: Map<number, TokenCredential> },
  ) {
    this.#endpoint = endpoint;
    this.#users = users;
    this.#count = workers;
    this.#v1 = options.v1;
    this.#tokens = options.tokens;
  }

  /** The storm of `setup`; throws when it has no user or no worker to run. */
  static from(setup: LoginStormSetup): LoginStorm {
    if (setup.users.length === 0 || setup.workers < 1) {
      throw new RangeError(
        `LoginStorm needs a user and a worker, got ${setup.users.length} users and ${setup.workers} workers`,
      );
    }
    return new LoginStorm(setup.endpoint, setup.users, setup.workers, { v1: setup.v1, tokens: setup.tokens });
  }

  start(): void {
    this.#running = true;
    this.window();
    for (let w = 0; w < this.#count; w++) {
      const mine = this.#users.filter((_, index) => index % this.#count === w);
      this.#workers.push(this.#work(mine));
    }
  }

  async #work(users: BenchUser[]): Promise<void> {
    let turn = 0;
    while (this.#running) {
      const user = users[turn++ % users.length];
      let client: LoadClient | undefined;
      try {
        client = await LoadClient.connect(this.#endpoint, { v1: this.#v1, bufferBytes: 4096 });
        const credential = this.#tokens?.get(user.id);
        const outcome = credential
          ? await this.#tokenCycle(client, user, credential)
          : await this.#passwordCycle(client, user);
        if (outcome === "retry") {
          this.retries++;
          await sleep(5);
          continue;
        }
        this.logins++;
      } catch (error) {
        if (!this.#running) break;
        this.errors++;
        this.lastError = error instanceof Error ? error.message : String(error);
        await sleep(50);
      } finally {
        client?.close();
      }
    }
  }

  /** LOGIN with the password, then LOGINOUT (v2: waiting for its ACK). */
  async #passwordCycle(client: LoadClient, user: BenchUser): Promise<"done" | "retry"> {
    const sent = performance.now();
    const ack = await client.request(
      { msgid: 1, id: user.id, password: user.password },
      (reply) => reply.msgid === 2,
      30_000,
    );
    if (ack.errno === 2 && this.#v1) return "retry";
    if (ack.errno !== 0) throw new Error(`LOGIN errno ${ack.errno}: ${ack.errmsg}`);
    this.histogram.recordMs(performance.now() - sent);
    if (this.#v1) {
      client.send(client.encode({ msgid: 3, id: user.id }));
    } else {
      const bye = await client.request({ msgid: 3 }, undefined, 30_000);
      if (bye.errno !== 0) throw new Error(`LOGINOUT errno ${bye.errno}: ${bye.errmsg}`);
    }
    return "done";
  }

  /**
   * LOGIN with the device's token, then leave without LOGINOUT (which would revoke the token): half-close
   * and wait for the server to close, so that the device is free for the next cycle. A refusal with errno 2
   * (the previous session of the device not yet ended) is retried.
   */
  async #tokenCycle(
    client: LoadClient,
    user: BenchUser,
    credential: TokenCredential,
  ): Promise<"done" | "retry"> {
    const sent = performance.now();
    const ack = await client.request(
      { msgid: 1, id: user.id, token: credential.token, device: credential.device },
      (reply) => reply.msgid === 2,
      30_000,
    );
    if (ack.errno === 2) return "retry";
    if (ack.errno !== 0) throw new Error(`token LOGIN errno ${ack.errno}: ${ack.errmsg}`);
    this.histogram.recordMs(performance.now() - sent);
    client.closeWrite();
    await client.closed;
    return "done";
  }

  /** Logins per second since the window started, for progress lines. */
  get currentRate(): number {
    const seconds = (performance.now() - this.#windowStart) / 1000;
    return seconds > 0 ? (this.logins - this.#windowLogins) / seconds : 0;
  }

  /** Reads the window that ends now and starts the next one. */
  window(): LoginWindow {
    const now = performance.now();
    const seconds = (now - this.#windowStart) / 1000;
    const logins = this.logins - this.#windowLogins;
    const result = {
      seconds,
      logins,
      loginsPerSecond: logins / seconds,
      errors: this.errors - this.#windowErrors,
      latency: this.histogram.summary(),
    };
    this.#windowStart = now;
    this.#windowLogins = this.logins;
    this.#windowErrors = this.errors;
    this.histogram.reset();
    return result;
  }

  /** Stops the workers after their current cycle (each request has its own timeout). */
  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#workers);
  }
}

/** Runs `seconds` of the storm with a progress line. */
async function runFor(storm: LoginStorm, seconds: number, label: string): Promise<void> {
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    await sleep(Math.min(1000, Math.max(0, end - performance.now())));
    progress(
      `${label}: ${storm.currentRate.toFixed(1)} logins/s, p99 ${
        fmtMs(storm.histogram.quantileMs(0.99))
      } ms, ` +
        `errors ${storm.errors}, ${Math.max(0, (end - performance.now()) / 1000).toFixed(0)} s left`,
    );
  }
}

/** The `login` scenario. */
export async function login(options: BenchOptions): Promise<ScenarioResult> {
  await using target = await startTarget(options);
  // v1 workers rotate over a few users each (see LoginStorm).
  const perWorker = options.v1 ? 4 : 1;
  const users = await target.prepareUsers(options.workers * perWorker, options.hashCost ?? "real");
  const storm = new LoginStorm(target.endpoints[0], users, options.workers, { v1: options.v1 });
  const watch = new ProcessWatch(target.watch);
  const rows: (string | number)[][] = [];
  const windows: (LoginWindow & { processes: ProcessUsage[] })[] = [];
  try {
    storm.start();
    if (options.warmup > 0) await runFor(storm, options.warmup, "login warm-up");
    for (let r = 1; r <= options.repeats; r++) {
      storm.window();
      await watch.start();
      await runFor(storm, options.duration, `login ${options.workers} workers, run ${r}/${options.repeats}`);
      const window = storm.window();
      const usage = await watch.stop();
      windows.push({ ...window, processes: usage });
      const { cpu, rss } = fmtProcesses(usage);
      rows.push([
        `${r}`,
        window.loginsPerSecond.toFixed(1),
        fmtMs(window.latency.p50),
        fmtMs(window.latency.p99),
        fmtMs(window.latency.p999),
        window.errors,
        cpu,
        rss,
        loadgenCpu(usage),
      ]);
    }
  } finally {
    await storm.stop();
    endProgress();
  }
  const notes = [
    `${target.description}; ${options.workers} workers, each looping connect → LOGIN → LOGINOUT → close ` +
    `(${options.v1 ? "v1" : "v2, waiting for the LOGINOUT ACK"}); ${options.duration} s per run.`,
    `Users ${
      target.describeUsers(options.hashCost ?? "real")
    }; at the server's cost, logins/s is bounded by ` +
    "scrypt on two cores.",
    "Latency: LOGIN sent → LOGIN_ACK read (TCP connect not included).",
  ];
  if (storm.lastError) notes.push(`Last error: ${storm.lastError}`);
  if (storm.retries > 0) {
    notes.push(`${storm.retries} v1 logins retried because the previous session was not yet gone.`);
  }
  return {
    title: `login — ${options.workers} concurrent workers`,
    headers: [
      "run",
      "logins/s",
      "p50 ms",
      "p99 ms",
      "p999 ms",
      "errors",
      "server CPU",
      "server RSS",
      "loadgen / other CPU",
    ],
    rows,
    notes,
    data: { target: target.description, serverArgs: target.serverArgs, windows, totalLogins: storm.logins },
  };
}
