/**
 * `--retention-days`: messages older than that are deleted, checked once an hour (and at start). 0 keeps
 * every message forever. A failed sweep is logged and tried again at the next one.
 *
 * @module
 */
import type { Logger } from "../log.ts";
import type { Store } from "../store/store.ts";

const DAY_MS = 24 * 60 * 60 * 1000;
const SWEEP_EVERY_MS = 60 * 60 * 1000;

/** What {@linkcode startRetention} returns: stop it before the store closes. */
export interface Retention {
  /** The first sweep (tests and start-up logs wait for it). */
  readonly firstSweep: Promise<void>;
  stop(): void;
}

/**
 * Starts deleting messages older than `days` days (0: never).
 *
 * @example
 * ```ts
 * import { Logger } from "../log.ts";
 * import { SqliteStore } from "../store/sqlite_store.ts";
 *
 * const store = SqliteStore.open(":memory:");
 * await store.migrate();
 * const retention = startRetention(store, 30, new Logger({ level: "silent" }));
 * await retention.firstSweep;
 * retention.stop();
 * ```
 */
export function startRetention(store: Store, days: number, log: Logger, now = Date.now): Retention {
  if (days <= 0) return { firstSweep: Promise.resolve(), stop: () => {} };
  const sweep = async () => {
    try {
      const deleted = await store.deleteMessagesBefore(now() - days * DAY_MS);
      if (deleted > 0) log.info("retention: old messages deleted", { deleted, days });
    } catch (error) {
      log.warn("retention sweep failed; trying again in an hour", { error });
    }
  };
  const timer = setInterval(sweep, SWEEP_EVERY_MS);
  Deno.unrefTimer(timer);
  return { firstSweep: sweep(), stop: () => clearInterval(timer) };
}
