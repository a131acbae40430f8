/**
 * The generator's side of `login_worker.ts`: a {@linkcode LoginStorm} run in a Worker, so that the login
 * workers' own event-loop time is not added to the latency of the chat pairs measured beside them.
 *
 * @module
 */

import type { LoginStormSetup, LoginWindow } from "./login.ts";
import type { FromLoginWorker, ToLoginWorker } from "./login_worker.ts";

/**
 * @example
 * ```ts ignore
 * await using logins = new LoginStormInWorker(setup);
 * logins.start();
 * await delay(10_000);
 * const window = await logins.window();
 * await logins.stop();
 * ```
 */
export class LoginStormInWorker implements AsyncDisposable {
  /** Logins per second of the current window, as the worker last reported it. */
  currentRate = 0;
  /** Set by {@linkcode LoginStormInWorker.stop}. */
  lastError: string | undefined;
  /** Set by {@linkcode LoginStormInWorker.stop}. */
  retries = 0;
  readonly #worker = new Worker(new URL("./login_worker.ts", import.meta.url), { type: "module" });
  #waiting:
    | {
      type: FromLoginWorker["type"];
      resolve: (message: FromLoginWorker) => void;
      reject: (error: Error) => void;
    }
    | undefined;
  #failure: string | undefined;
  #stopped = false;

  constructor(setup: LoginStormSetup) {
    this.#worker.onmessage = (event: MessageEvent<FromLoginWorker>) => this.#receive(event.data);
    this.#worker.onerror = (event) => {
      event.preventDefault();
      this.#receive({ type: "failed", error: event.message });
    };
    this.#post({ type: "init", setup });
  }

  start(): void {
    this.#post({ type: "start" });
  }

  /** Reads the window that ends now and starts the next one (as {@linkcode LoginStorm.window}). */
  async window(): Promise<LoginWindow> {
    this.#post({ type: "window" });
    const reply = await this.#next("window");
    return (reply as Extract<FromLoginWorker, { type: "window" }>).window;
  }

  /** Stops the login workers after their current cycle, then the Worker (at once if it failed). */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    try {
      if (this.#failure) return;
      this.#post({ type: "stop" });
      const reply = await this.#next("stopped") as Extract<FromLoginWorker, { type: "stopped" }>;
      this.lastError = reply.lastError;
      this.retries = reply.retries;
    } finally {
      this.#worker.terminate();
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  #post(message: ToLoginWorker): void {
    this.#worker.postMessage(message);
  }

  #next(type: FromLoginWorker["type"]): Promise<FromLoginWorker> {
    if (this.#failure) return Promise.reject(new Error(`login worker failed: ${this.#failure}`));
    return new Promise((resolve, reject) => this.#waiting = { type, resolve, reject });
  }

  #receive(message: FromLoginWorker): void {
    if (message.type === "rate") {
      this.currentRate = message.perSecond;
      return;
    }
    if (message.type === "failed") {
      this.#failure = message.error;
      const waiting = this.#waiting;
      this.#waiting = undefined;
      waiting?.reject(new Error(`login worker failed: ${message.error}`));
      return;
    }
    if (this.#waiting?.type !== message.type) return;
    const { resolve } = this.#waiting;
    this.#waiting = undefined;
    resolve(message);
  }
}
