/**
 * What the harness must not leave behind when the test process ends without closing it: child processes and
 * temp folders. They are removed at unload (tests finished or Deno.exit), or on SIGINT / SIGTERM (Ctrl-C, a
 * CI timeout), which would otherwise leave orphans. The signal listeners exist only while a child runs, so they
 * change nothing for a process that has none. (A SIGKILL of the test process still orphans them: nothing runs
 * then.)
 *
 * Shared by `temp_dir.ts` and `service_process.ts`; tests use those, not this.
 *
 * @module
 */

const live = new Set<Deno.ChildProcess>();
const tempDirs = new Set<string>();
const EXIT_SIGNALS = [["SIGINT", 130], ["SIGTERM", 143]] as const;
const signalHandlers = new Map<Deno.Signal, () => void>(
  EXIT_SIGNALS.map(([signal, code]) => [signal, () => {
    cleanUp();
    Deno.exit(code);
  }]),
);
let unloadHooked = false;

function cleanUp(): void {
  for (const child of live) {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  }
  for (const dir of tempDirs) {
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch {
      // Best effort: a killed server may still be letting go of its files.
    }
  }
}

function hookUnload(): void {
  if (unloadHooked) return;
  unloadHooked = true;
  globalThis.addEventListener("unload", cleanUp);
}

/**
 * Kills `child` with SIGKILL if the test process ends while it runs.
 *
 * @example
 * ```ts ignore
 * import { trackChild, untrackChild } from "./exit_cleanup.ts";
 *
 * const child = new Deno.Command("sleep", { args: ["60"] }).spawn();
 * trackChild(child);
 * child.status.then(() => untrackChild(child));
 * ```
 */
export function trackChild(child: Deno.ChildProcess): void {
  hookUnload();
  if (live.size === 0) {
    for (const [signal, handler] of signalHandlers) Deno.addSignalListener(signal, handler);
  }
  live.add(child);
}

/** Forgets a child that has exited; the signal listeners go with the last one. */
export function untrackChild(child: Deno.ChildProcess): void {
  if (!live.delete(child) || live.size > 0) return;
  for (const [signal, handler] of signalHandlers) Deno.removeSignalListener(signal, handler);
}

/**
 * Removes `dir` with everything in it if the test process ends before {@linkcode untrackDir}.
 *
 * @example
 * ```ts ignore
 * import { trackDir, untrackDir } from "./exit_cleanup.ts";
 *
 * const dir = await Deno.makeTempDir();
 * trackDir(dir);
 * await Deno.remove(dir, { recursive: true });
 * untrackDir(dir);
 * ```
 */
export function trackDir(dir: string): void {
  hookUnload();
  tempDirs.add(dir);
}

/** Forgets a folder that was removed. */
export function untrackDir(dir: string): void {
  tempDirs.delete(dir);
}
