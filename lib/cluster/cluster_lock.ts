/**
 * One `deno task cluster` per data directory: an exclusive lock on `DIR/cluster.lock`, taken before anything
 * else happens. The kernel drops the lock when the process dies, however it dies, so a crash leaves no stale
 * lock; the file holds the owner's pid only for the message.
 *
 * @module
 */

/** Another cluster holds the lock; the message names its pid and the lock file. */
export class ClusterRunningError extends Error {
  /** `lockFile`: the lock's path; `owner`: the pid written in it, when readable. */
  constructor(lockFile: string, owner: string) {
    super(
      `another \`deno task cluster\` is running (pid ${owner || "unknown"}, lock ${lockFile}); stop it ` +
        `with Ctrl-C first, or give this one its own --dir, ports and Redis (its nodes are named node1…N too)`,
    );
    this.name = "ClusterRunningError";
  }
}

/**
 * Takes the lock in `dir` (created when missing); rejects with {@linkcode ClusterRunningError} when another
 * process holds it. Disposing the result releases the lock.
 *
 * @example
 * ```ts ignore
 * using _lock = await lockCluster("data/cluster");
 * ```
 */
export async function lockCluster(dir: string): Promise<Disposable> {
  await Deno.mkdir(dir, { recursive: true });
  const path = `${dir}/cluster.lock`;
  // Not truncated on open: the owner's pid must stay readable for the process that is refused.
  const file = await Deno.open(path, { read: true, write: true, create: true });
  if (!(await file.tryLock(true))) {
    file.close();
    const owner = (await Deno.readTextFile(path).catch(() => "")).trim();
    throw new ClusterRunningError(path, owner);
  }
  await file.truncate(0);
  await file.write(new TextEncoder().encode(`${Deno.pid}\n`));
  return {
    [Symbol.dispose]() {
      file.close();
    },
  };
}
