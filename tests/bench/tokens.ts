/**
 * `tokens`: the storm of issue 12 — every login worker first logs its user in once with the password to get
 * a resume token for a device, then loops token logins (connect, LOGIN {id, token, device}, half-close) as
 * fast as the server allows, while a few pairs chat. Reports token logins/s (target: at least 1,000) and the
 * chat p99 idle and during the storm (target: at most 2x).
 *
 * @module
 */

import type { BenchOptions } from "./args.ts";
import { TOKEN_LOGINS_TARGET } from "./issue_targets.ts";
import { progress, type ScenarioResult } from "./report.ts";
import { chatDuringLogins, type LoginStormSpec } from "./storm.ts";
import { tokensAgainstBaseline } from "./tokens_baseline.ts";
import { issueTokens } from "./token_credentials.ts";

/** The device the storm's tokens are bound to. */
const DEVICE = "bench-tokens";

/** The `tokens` scenario (with `--baseline`, side by side with the server of that commit). */
export function tokens(options: BenchOptions): Promise<ScenarioResult> {
  if (options.v1) throw new Error("tokens: --v1 is not supported (tokens are v2)");
  if (options.baseline) return tokensAgainstBaseline(options, tokenStorm(options));
  return chatDuringLogins(options, tokenStorm(options));
}

/** The token login storm for the shared engine. */
export function tokenStorm(options: BenchOptions): LoginStormSpec {
  const cost = options.hashCost ?? "real";
  return {
    name: "tokens",
    title:
      `tokens — chat p99 of ${options.stormPairs} pairs during token logins of ${options.workers} workers`,
    describeLogins: (target) =>
      `${options.workers} workers loop connect → LOGIN {id, token, device} → half-close, each over its own ` +
      `user (${target.describeUsers(cost)}), whose token came from one password login first`,
    async prepare(target) {
      const users = await target.prepareUsers(options.workers, cost);
      const credentials = await issueTokens(target.endpoints[0], users, {
        device: DEVICE,
        onProgress: (done, total) => progress(`tokens: password logins for the tokens ${done}/${total}`),
      });
      return {
        endpoint: target.endpoints[0],
        users,
        workers: options.workers,
        v1: false,
        tokens: credentials,
      };
    },
    loginNotes: (window) => [
      `Target: at least ${TOKEN_LOGINS_TARGET.toLocaleString("en-US")} token logins/s → ${
        window.loginsPerSecond >= TOKEN_LOGINS_TARGET ? "met" : "missed"
      } (${window.loginsPerSecond.toFixed(1)}/s, ${window.errors} errors).`,
    ],
  };
}
