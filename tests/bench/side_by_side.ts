/**
 * `--baseline`: the current server and the server of an earlier commit measured in the same run, round by
 * round, and the figure issue 13 asks of them ("pingpong and group stay within 10% of their figures before
 * this issue, measured side by side"). Pure helpers, so that every scenario reports them the same way.
 *
 * @module
 */

import { median } from "./stats.ts";

/** The current server's median rate may be at most this share below the baseline's. */
export const BASELINE_TOLERANCE = 0.1;

/** The two servers of a side-by-side run. */
export type SideName = "current" | "baseline";

/**
 * Which server runs first in round `round` (1-based): they alternate, so that a machine getting slower or
 * faster during the run favours neither.
 *
 * @example
 * ```ts
 * import { sideOrder } from "./side_by_side.ts";
 *
 * sideOrder(1); // ["current", "baseline"]
 * sideOrder(2); // ["baseline", "current"]
 * ```
 */
export function sideOrder(round: number): [SideName, SideName] {
  return round % 2 === 1 ? ["current", "baseline"] : ["baseline", "current"];
}

/** current / baseline of the median rates, each round's ratio, and whether the tolerance is kept. */
export interface BaselineVerdict {
  ratio: number;
  byRound: number[];
  within: boolean;
}

/**
 * Compares the rates (higher is better) of the current server and the baseline, one of each per round.
 * Within the tolerance when the ratio of the medians is at least `1 - BASELINE_TOLERANCE` (a faster current
 * server is within it too).
 *
 * @example
 * ```ts
 * import { baselineVerdict } from "./side_by_side.ts";
 *
 * baselineVerdict([95, 80, 90], [100, 100, 100]); // { ratio: 0.9, byRound: [0.95, 0.8, 0.9], within: true }
 * ```
 */
export function baselineVerdict(currentRates: number[], baselineRates: number[]): BaselineVerdict {
  if (currentRates.length === 0 || currentRates.length !== baselineRates.length) {
    throw new Error(
      `baselineVerdict: one rate of each per round, got ${currentRates.length} and ${baselineRates.length}`,
    );
  }
  const ratio = median(currentRates) / median(baselineRates);
  return {
    ratio,
    byRound: currentRates.map((rate, round) => rate / baselineRates[round]),
    // Rounded so that exactly 10% slower (0.9 after floating point) counts as within.
    within: Number(ratio.toFixed(6)) >= 1 - BASELINE_TOLERANCE,
  };
}

/**
 * One line for the report: the ratio, the verdict and the rounds.
 *
 * @example
 * ```ts
 * import { baselineVerdict, describeVerdict } from "./side_by_side.ts";
 *
 * describeVerdict("d0d2d5b", baselineVerdict([95], [100]));
 * // "current / d0d2d5b (median rates): 0.95x; target ≥ 0.90x (within 10%): met; by round: 0.95x"
 * ```
 */
export function describeVerdict(baseline: string, verdict: BaselineVerdict): string {
  return `current / ${baseline} (median rates): ${verdict.ratio.toFixed(2)}x; target ≥ ${
    (1 - BASELINE_TOLERANCE).toFixed(2)
  }x (within ${BASELINE_TOLERANCE * 100}%): ${verdict.within ? "met" : "missed"}; by round: ${
    verdict.byRound.map((r) => `${r.toFixed(2)}x`).join(", ")
  }`;
}
