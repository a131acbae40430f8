/**
 * The login workers of `storm` and `tokens` in a Worker of their own, as `restart` has its devices
 * (`reconnect_worker.ts`): thousands of connects and LOGIN_ACKs a second on the generator's event loop would
 * delay the chat pairs' own frames there, and that delay would be measured as the server's.
 * {@linkcode LoginStormInWorker} is the generator's side.
 *
 * Messages in: `init` (what {@linkcode LoginStorm} is made of), `start`, `window`, `stop`. Messages out:
 * `rate` (about once a second, for the progress line), `window`, `stopped` (with the last error and the
 * retries), `failed`.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import { LoginStorm, type LoginStormSetup, type LoginWindow } from "./login.ts";

/** What the worker is told. */
export type ToLoginWorker =
  | { type: "init"; setup: LoginStormSetup }
  | { type: "start" }
  | { type: "window" }
  | { type: "stop" };

/** What the worker reports. */
export type FromLoginWorker =
  | { type: "rate"; perSecond: number }
  | { type: "window"; window: LoginWindow }
  | { type: "stopped"; lastError: string | undefined; retries: number }
  | { type: "failed"; error: string };

let storm: LoginStorm | undefined;
let ticker: ReturnType<typeof setInterval> | undefined;

function post(message: FromLoginWorker): void {
  self.postMessage(message);
}

self.onmessage = async (event: MessageEvent<ToLoginWorker>) => {
  const message = event.data;
  try {
    if (message.type === "init") {
      storm = LoginStorm.from(message.setup);
      return;
    }
    if (!storm) throw new Error(`${message.type} before init`);
    if (message.type === "start") {
      storm.start();
      const running = storm;
      ticker = setInterval(() => post({ type: "rate", perSecond: running.currentRate }), 1000);
    } else if (message.type === "window") {
      post({ type: "window", window: storm.window() });
    } else {
      clearInterval(ticker);
      await storm.stop();
      post({ type: "stopped", lastError: storm.lastError, retries: storm.retries });
    }
  } catch (error) {
    post({ type: "failed", error: error instanceof Error ? error.stack ?? error.message : String(error) });
  }
};
