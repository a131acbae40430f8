/**
 * The shared contract test of {@linkcode Store}: every implementation runs exactly these cases
 * (`tests/sqlite_store_test.ts`, and the MySQL test with a fresh database per case). The cases live in one
 * file per concept (`store_suite_*.ts`) and see the store only through a {@linkcode StoreFixture}.
 *
 * The cases never assume particular id values (a database may hand out ids from any start); they use the ids
 * the store returns, and "missing" ids are derived from them.
 *
 * @module
 */

import { accountCases } from "./store_suite_accounts.ts";
import { conversationCases } from "./store_suite_conversations.ts";
import { deviceCases } from "./store_suite_devices.ts";
import type { StoreFixture } from "./store_suite_fixture.ts";
import { groupAccessCases } from "./store_suite_group_access.ts";
import { groupRoleCases } from "./store_suite_group_roles.ts";
import { messageCases } from "./store_suite_messages.ts";
import { offlineCases } from "./store_suite_offline.ts";
import { sentSeqCases } from "./store_suite_sent_seqs.ts";
import { socialCases } from "./store_suite_social.ts";
import { tokenCases } from "./store_suite_tokens.ts";

export type { StoreFixture } from "./store_suite_fixture.ts";

/**
 * Registers the shared {@linkcode Store} cases as `Deno.test`s named `${name}: <method> <criteria>`.
 * `open` returns a fixture over a migrated, empty store that the case owns; each case disposes of it.
 *
 * @example
 * ```ts
 * storeSuite("SqliteStore", () => sqliteFixture());
 * ```
 */
export function storeSuite(name: string, open: () => Promise<StoreFixture>): void {
  const test = (title: string, fn: (fixture: StoreFixture) => Promise<void>) => {
    Deno.test({
      name: `${name}: ${title}`,
      // A store owns sockets and timers in some implementations; a case must leave nothing open.
      sanitizeOps: true,
      sanitizeResources: true,
      async fn() {
        await using fixture = await open();
        await fn(fixture);
      },
    });
  };
  accountCases(test);
  groupAccessCases(test);
  groupRoleCases(test);
  socialCases(test);
  messageCases(test);
  conversationCases(test);
  sentSeqCases(test);
  deviceCases(test);
  tokenCases(test);
  offlineCases(test);
}
