/**
 * The figures issue 12 asks of the benchmarks ("Speed and memory"), and the pure checks against them, in one
 * place so that every scenario reports them the same way.
 *
 * @module
 */

import { median } from "./stats.ts";

/** `pingpong --ceiling`: the server's rate as a share of the ceiling relay's, at least. */
export const CEILING_TARGET = 0.6;
/** `storm`, `tokens`: the chat p99 during the logins as a multiple of the chat-only p99, at most. */
export const P99_RATIO_TARGET = 2;
/** `tokens`: token logins per second on one node, at least. */
export const TOKEN_LOGINS_TARGET = 1000;
/** `sync`: a full fetch of the conversation (10,000 messages in pages of 1,000), less than this. */
export const FULL_FETCH_TARGET_MS = 1000;

/**
 * Which side runs first in round `round` (1-based) of `pingpong --ceiling`: they alternate, so that a
 * machine getting slower or faster during the run favours neither.
 *
 * @example
 * ```ts
 * roundOrder(1); // ["server", "ceiling"]
 * roundOrder(2); // ["ceiling", "server"]
 * ```
 */
export function roundOrder(round: number): ["server", "ceiling"] | ["ceiling", "server"] {
  return round % 2 === 1 ? ["server", "ceiling"] : ["ceiling", "server"];
}

/**
 * server / ceiling of the median rates, and whether it meets {@linkcode CEILING_TARGET}.
 *
 * @example
 * ```ts
 * ceilingRatio([30, 20, 25], [40, 50, 45]); // { ratio: 0.555…, met: false }
 * ```
 */
export function ceilingRatio(serverRates: number[], ceilingRates: number[]): { ratio: number; met: boolean } {
  const ratio = median(serverRates) / median(ceilingRates);
  return { ratio, met: ratio >= CEILING_TARGET };
}

/**
 * server / ceiling of each round (the sides of one round ran back to back), to show how much the figure
 * moves from round to round on a shared machine.
 *
 * @example
 * ```ts
 * roundRatios([30, 40], [60, 50]); // [0.5, 0.8]
 * ```
 */
export function roundRatios(serverRates: number[], ceilingRates: number[]): number[] {
  return serverRates.map((rate, round) => rate / ceilingRates[round]);
}

/**
 * The p99 ratio of the storm to the quiet window, and whether it is within {@linkcode P99_RATIO_TARGET}.
 *
 * @example
 * ```ts
 * p99Verdict(2, 3); // { ratio: 1.5, met: true }
 * ```
 */
export function p99Verdict(quietP99: number, stormP99: number): { ratio: number; met: boolean } {
  const ratio = stormP99 / quietP99;
  return { ratio, met: ratio <= P99_RATIO_TARGET };
}
