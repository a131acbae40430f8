/**
 * The devices of the `restart` scenario in a Worker of their own: thousands of connects, LOGIN_ACKs and retries
 * on the generator's event loop would delay the chat pairs' own frames there, and that delay would be measured
 * as the server's. The worker holds the devices' connections between storms.
 *
 * Messages in: `init` (endpoint, users, tokens), `reconnect` (close what it holds, then every device logs in
 * again; `concurrency` caps connects in flight), `close`. Messages out: `progress`, `done` (the outcome without
 * the connections), `closed`, `failed`.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import type { Endpoint } from "./args.ts";
import type { LoadClient } from "./load_client.ts";
import { reconnectAll } from "./reconnect_storm.ts";
import type { LatencySummary } from "./stats.ts";
import type { TokenCredential } from "./token_credentials.ts";

/** What the worker is told. */
export type ToWorker =
  | { type: "init"; endpoint: Endpoint; users: number[]; tokens: [number, TokenCredential][] }
  | { type: "reconnect"; concurrency?: number }
  | { type: "close" };

/** What the worker reports. */
export type FromWorker =
  | { type: "progress"; back: number; total: number }
  | {
    type: "done";
    allBackMs: number;
    perSecond: number;
    backAfter: LatencySummary;
    retries: number;
    busy: number;
    lastError: string | undefined;
  }
  | { type: "closed" }
  | { type: "failed"; error: string };

let setup: Extract<ToWorker, { type: "init" }> | undefined;
let clients: LoadClient[] = [];

function post(message: FromWorker): void {
  self.postMessage(message);
}

self.onmessage = async (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  try {
    if (message.type === "init") {
      setup = message;
    } else if (message.type === "reconnect") {
      if (!setup) throw new Error("reconnect before init");
      for (const client of clients) client.close();
      const outcome = await reconnectAll(
        setup.endpoint,
        setup.users.map((id) => ({ id })),
        new Map(setup.tokens),
        {
          concurrency: message.concurrency,
          onProgress: (back, total) => post({ type: "progress", back, total }),
        },
      );
      clients = outcome.clients;
      post({
        type: "done",
        allBackMs: outcome.allBackMs,
        perSecond: outcome.perSecond,
        backAfter: outcome.backAfter.summary(),
        retries: outcome.retries,
        busy: outcome.busy,
        lastError: outcome.lastError,
      });
    } else {
      for (const client of clients) client.close();
      clients = [];
      post({ type: "closed" });
    }
  } catch (error) {
    post({ type: "failed", error: error instanceof Error ? error.stack ?? error.message : String(error) });
  }
};
