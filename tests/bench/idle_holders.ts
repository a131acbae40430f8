/**
 * The bench's side of {@linkcode ./idle_holder.ts}: starts the holder processes and spreads logins over them
 * and over the server addresses of an {@linkcode IdlePlan}.
 *
 * @module
 */

import type { HeldLogin } from "./idle_holder.ts";
import type { IdlePlan } from "./idle_plan.ts";
import type { BenchUser } from "./users.ts";

const HOLDER = new URL("./idle_holder.ts", import.meta.url).pathname;
const encoder = new TextEncoder();

/** One holder process and its line protocol. */
class Holder {
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #lines: AsyncIterator<string>;

  constructor() {
    this.#child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-net", HOLDER],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#writer = this.#child.stdin.getWriter();
    this.#lines = lines(this.#child.stdout.pipeThrough(new TextDecoderStream()));
  }

  get pid(): number {
    return this.#child.pid;
  }

  async #send(command: Record<string, unknown>): Promise<void> {
    await this.#writer.write(encoder.encode(JSON.stringify(command) + "\n"));
  }

  async #answer(): Promise<Record<string, unknown>> {
    const { value, done } = await this.#lines.next();
    if (done) throw new Error(`idle holder ${this.pid} exited`);
    return JSON.parse(value);
  }

  /** Logs `logins` in; `onProgress` sees how many are done. */
  async login(logins: HeldLogin[], onProgress: (done: number) => void): Promise<void> {
    await this.#send({ login: logins });
    while (true) {
      const answer = await this.#answer();
      if (answer.error) throw new Error(`idle holder ${this.pid}: ${answer.error}`);
      if (typeof answer.progress === "number") onProgress(answer.progress);
      if (typeof answer.done === "number") return onProgress(answer.done);
    }
  }

  /** How many of its connections the server closed. */
  async closedCount(): Promise<number> {
    await this.#send({ status: true });
    return Number((await this.#answer()).closed);
  }

  /** Closes its connections and waits for it to exit. */
  async close(): Promise<void> {
    await this.#writer.close().catch(() => {});
    const exited = this.#child.status;
    const timer = setTimeout(() => this.#child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

async function* lines(stream: ReadableStream<string>): AsyncGenerator<string> {
  let pending = "";
  for await (const text of stream) {
    pending += text;
    let end;
    while ((end = pending.indexOf("\n")) >= 0) {
      yield pending.slice(0, end);
      pending = pending.slice(end + 1);
    }
  }
}

/**
 * The holder processes of one plan. Connection i goes to holder ⌊i / perHolder⌋ and to server address
 * i mod addresses, so each holder fills up before the next one is used and the addresses share evenly.
 */
export class Holders implements AsyncDisposable {
  readonly #plan: IdlePlan;
  readonly #port: number;
  readonly #holders: Holder[];
  #count = 0;

  constructor(plan: IdlePlan, port: number) {
    this.#plan = plan;
    this.#port = port;
    this.#holders = Array.from({ length: plan.holders }, () => new Holder());
  }

  /** Pids of the holder processes (the load generator's share of the CPU). */
  get pids(): number[] {
    return this.#holders.map((holder) => holder.pid);
  }

  /** Logs `users` in, after those already held; `onProgress` sees the total done. */
  async login(users: BenchUser[], onProgress: (done: number) => void): Promise<void> {
    const shares: HeldLogin[][] = this.#holders.map(() => []);
    for (const user of users) {
      const i = this.#count++;
      const address = this.#plan.addresses[i % this.#plan.addresses.length];
      shares[Math.min(this.#holders.length - 1, Math.floor(i / this.#plan.perHolder))].push(
        [user.id, user.name, user.password, address, this.#port],
      );
    }
    const done = shares.map(() => 0);
    await Promise.all(
      this.#holders.map((holder, h) =>
        shares[h].length === 0 ? undefined : holder.login(shares[h], (n) => {
          done[h] = n;
          onProgress(done.reduce((sum, value) => sum + value, 0));
        })
      ),
    );
  }

  /** Connections the server closed, over all holders. */
  async closedCount(): Promise<number> {
    const counts = await Promise.all(this.#holders.map((holder) => holder.closedCount()));
    return counts.reduce((sum, value) => sum + value, 0);
  }

  async close(): Promise<void> {
    await Promise.all(this.#holders.map((holder) => holder.close()));
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
