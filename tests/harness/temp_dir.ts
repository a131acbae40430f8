/**
 * Temp folders for harness servers (data directories, logs, configuration) that disappear with the test
 * process even when a test forgets them.
 *
 * @module
 */

import { trackDir, untrackDir } from "./exit_cleanup.ts";

/**
 * Creates a temp folder (`prefix` + random) that is removed at exit if {@linkcode removeTempDir} was not called,
 * even on SIGINT / SIGTERM.
 *
 * @example
 * ```ts
 * import { makeTempDir, removeTempDir } from "./temp_dir.ts";
 *
 * const dir = await makeTempDir("chat-redis-");
 * await removeTempDir(dir);
 * ```
 */
export async function makeTempDir(prefix: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix });
  trackDir(dir);
  return dir;
}

/**
 * Removes a folder made by {@linkcode makeTempDir}, with everything in it.
 *
 * @example
 * ```ts
 * import { makeTempDir, removeTempDir } from "./temp_dir.ts";
 *
 * await removeTempDir(await makeTempDir("chat-nginx-"));
 * ```
 */
export async function removeTempDir(dir: string): Promise<void> {
  await Deno.remove(dir, { recursive: true });
  untrackDir(dir);
}
