/**
 * Bounded concurrency for the generator's setup work (registrations, logins, token issuing).
 *
 * @module
 */

/**
 * Runs `task(i)` for i in [0, count) with at most `concurrency` in flight; stops starting new ones at the
 * first failure and rejects with it once the running ones ended.
 *
 * @example
 * ```ts
 * const seen: number[] = [];
 * await forEachLimited(5, 2, async (i) => { seen.push(i); });
 * seen.length; // 5
 * ```
 */
export async function forEachLimited(
  count: number,
  concurrency: number,
  task: (index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed: unknown;
  const lane = async () => {
    while (next < count && failed === undefined) {
      const index = next++;
      try {
        await task(index);
      } catch (error) {
        failed ??= error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
  if (failed !== undefined) throw failed;
}
