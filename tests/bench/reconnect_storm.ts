/**
 * Many devices logging back in with their resume tokens at once, as after a node restart: each one connects and
 * sends LOGIN {id, token, device}, and retries after a short jittered backoff when the connect fails or the
 * server answers errno 11 (busy), until it is back or its deadline passes.
 *
 * @module
 */

import type { Endpoint } from "./args.ts";
import { LoadClient } from "./load_client.ts";
import { Histogram } from "./stats.ts";
import type { TokenCredential } from "./token_credentials.ts";

/** Options for {@linkcode reconnectAll}. */
export interface ReconnectOptions {
  /** Devices connecting at the same time (default: all of them). */
  concurrency?: number;
  /** Give up on a device after this many milliseconds (default 120 s). */
  deadlineMs?: number;
  onProgress?: (back: number, total: number) => void;
}

/** What a storm of token logins took. */
export interface ReconnectOutcome {
  /** The logged-in connections, one per user, in the order of `users`. */
  clients: LoadClient[];
  /** Milliseconds from the start until the last device was back. */
  allBackMs: number;
  /** Devices back per second over the whole storm. */
  perSecond: number;
  /** Each device's time from the start until its LOGIN_ACK. */
  backAfter: Histogram;
  /** Attempts beyond the first: refused connects, errno 11, dropped connections. */
  retries: number;
  /** Answers with errno 11 among them (the server's admission limits). */
  busy: number;
  /** The last error seen, for the report. */
  lastError: string | undefined;
}

const FIRST_BACKOFF_MS = 50;
const LAST_BACKOFF_MS = 2000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every user in `users` logs in with its token over a new connection; resolves when all are back. */
export async function reconnectAll(
  endpoint: Endpoint,
  users: { id: number }[],
  tokens: Map<number, TokenCredential>,
  options: ReconnectOptions = {},
): Promise<ReconnectOutcome> {
  const started = performance.now();
  const deadline = started + (options.deadlineMs ?? 120_000);
  const clients: LoadClient[] = new Array(users.length);
  const backAfter = new Histogram();
  let back = 0;
  let retries = 0;
  let busy = 0;
  let lastError: string | undefined;
  const one = async (index: number) => {
    const user = users[index];
    const credential = tokens.get(user.id);
    if (!credential) throw new Error(`restart: no token for user ${user.id}`);
    for (let attempt = 0;; attempt++) {
      if (attempt > 0) {
        retries++;
        if (performance.now() > deadline) throw new Error(`user ${user.id} not back: ${lastError}`);
        // Jittered exponential backoff, like a well-behaved client: the retries of a crowd spread out.
        const cap = Math.min(LAST_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** Math.min(attempt - 1, 10));
        await sleep(cap / 2 + Math.random() * cap / 2);
      }
      let client: LoadClient;
      try {
        client = await LoadClient.connect(endpoint, { bufferBytes: 1024 });
      } catch (error) {
        lastError = `connect: ${error instanceof Error ? error.message : error}`;
        continue;
      }
      try {
        const ack = await client.request(
          { msgid: 1, id: user.id, token: credential.token, device: credential.device },
          (reply) => reply.msgid === 2 || reply.msgid === 12,
          60_000,
        );
        if (ack.errno === 0 && ack.msgid === 2) {
          clients[index] = client;
          backAfter.recordMs(performance.now() - started);
          back++;
          if (back % 500 === 0 || back === users.length) options.onProgress?.(back, users.length);
          return;
        }
        if (ack.errno === 11) busy++;
        lastError = JSON.stringify(ack);
        // A device refused for any other reason (a bad token) would retry forever: stop the run.
        if (ack.errno !== 11) throw new Error(`user ${user.id}: token login refused: ${lastError}`);
      } catch (error) {
        if (error instanceof Error && error.message.includes("token login refused")) throw error;
        lastError = error instanceof Error ? error.message : String(error);
      }
      client.close();
    }
  };
  const concurrency = options.concurrency ?? users.length;
  let next = 0;
  let failed: unknown;
  const lane = async () => {
    while (next < users.length && failed === undefined) {
      const index = next++;
      await one(index).catch((error) => failed ??= error);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, users.length) }, lane));
  if (failed !== undefined) {
    for (const client of clients) client?.close();
    throw failed;
  }
  const allBackMs = performance.now() - started;
  return {
    clients,
    allBackMs,
    perSecond: users.length / (allBackMs / 1000),
    backAfter,
    retries,
    busy,
    lastError,
  };
}
