/**
 * Ports and child processes for the service harness (MariaDB, Redis, nginx started by tests and benches).
 *
 * The process helpers live here beside {@linkcode freePort} because every harness server needs both:
 * a free port to listen on, and a child process whose output goes to a log file and which is killed when the
 * test process ends, even when a test forgets to close it.
 *
 * @module
 */

import { setTimeout as delay } from "node:timers/promises";

/**
 * Returns a TCP port on 127.0.0.1 that was free a moment ago (the kernel picks it, we release it).
 *
 * @example
 * ```ts
 * const port = freePort();
 * const listener = Deno.listen({ hostname: "127.0.0.1", port });
 * ```
 */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    return (listener.addr as Deno.NetAddr).port;
  } finally {
    listener.close();
  }
}

/** Options for {@linkcode waitFor}. */
export interface WaitForOptions {
  /** Give up after this many milliseconds. */
  timeout: number;
  /** What is awaited, for the error message ("MariaDB on 127.0.0.1:4000"). */
  what: string;
  /** When this process exits first, fail at once instead of waiting for the timeout. */
  process?: ServiceProcess;
  /** Pause between attempts, in milliseconds (default 50). */
  interval?: number;
}

/**
 * Calls `probe` until it resolves, failing with the last probe error (and the process log tail) on timeout
 * or when the watched process exits.
 *
 * @example
 * ```ts
 * await waitFor(() => canConnect(port), { timeout: 5_000, what: `redis on ${port}` });
 * ```
 */
export async function waitFor(probe: () => Promise<void>, options: WaitForOptions): Promise<void> {
  const deadline = Date.now() + options.timeout;
  let lastError: unknown;
  while (true) {
    if (options.process && !options.process.running) {
      throw new Error(
        `${options.what}: process exited with code ${options.process.exitCode} before it was ready\n` +
          await options.process.logTail(),
        { cause: lastError },
      );
    }
    try {
      return await probe();
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const tail = options.process ? `\n${await options.process.logTail()}` : "";
      throw new Error(`${options.what}: not ready after ${options.timeout} ms${tail}`, { cause: lastError });
    }
    await delay(options.interval ?? 50);
  }
}

/**
 * Resolves when a TCP connection to 127.0.0.1:`port` succeeds (it is closed at once).
 *
 * @example
 * ```ts
 * await waitFor(() => canConnect(8080), { timeout: 2_000, what: "nginx" });
 * ```
 */
export async function canConnect(port: number): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.close();
}

const SEARCH_DIRS = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];

/**
 * Finds an installed program like `which` does, also looking in the sbin folders that are often missing from
 * PATH (Debian installs `mariadbd` and `nginx` in /usr/sbin). Reads PATH when `--allow-env` grants it.
 *
 * @example
 * ```ts
 * const mariadbd = await findExecutable("mariadbd"); // "/usr/sbin/mariadbd"
 * ```
 */
export async function findExecutable(name: string): Promise<string> {
  const path = Deno.permissions.querySync({ name: "env", variable: "PATH" }).state === "granted"
    ? Deno.env.get("PATH") ?? ""
    : "";
  const dirs = [...path.split(":").filter((dir) => dir.startsWith("/")), ...SEARCH_DIRS];
  const unreadable: string[] = [];
  for (const dir of new Set(dirs)) {
    const candidate = `${dir}/${name}`;
    try {
      const info = await Deno.stat(candidate);
      if (info.isFile && info.mode !== null && (info.mode & 0o111) !== 0) return candidate;
    } catch (error) {
      if (error instanceof Deno.errors.NotCapable) unreadable.push(dir);
      else if (!(error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory)) {
        throw error;
      }
    }
  }
  const hint = unreadable.length > 0
    ? ` (not allowed to look in ${unreadable.join(", ")}: add --allow-read)`
    : "";
  throw new Error(`${name} not found in PATH or ${SEARCH_DIRS.join(", ")}${hint}; is it installed?`);
}

/**
 * Children still running. They are killed when the test process ends without closing them: at unload (tests
 * finished or Deno.exit), or on SIGINT / SIGTERM (Ctrl-C, a CI timeout), which would otherwise leave orphans.
 * The signal listeners exist only while a child runs, so they change nothing for a process that has none.
 * (A SIGKILL of the test process still orphans them: nothing runs then.)
 */
const live = new Set<Deno.ChildProcess>();
/** Temp folders of servers not closed yet, removed in the same situations. */
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
 * Creates a temp folder (`prefix` + random) that is removed at exit if {@linkcode removeTempDir} was not called,
 * even on SIGINT / SIGTERM.
 *
 * @example
 * ```ts
 * const dir = await makeTempDir("chat-redis-");
 * await removeTempDir(dir);
 * ```
 */
export async function makeTempDir(prefix: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix });
  hookUnload();
  tempDirs.add(dir);
  return dir;
}

/** Removes a folder made by {@linkcode makeTempDir}, with everything in it. */
export async function removeTempDir(dir: string): Promise<void> {
  await Deno.remove(dir, { recursive: true });
  tempDirs.delete(dir);
}

function track(child: Deno.ChildProcess): void {
  hookUnload();
  if (live.size === 0) {
    for (const [signal, handler] of signalHandlers) Deno.addSignalListener(signal, handler);
  }
  live.add(child);
}

function untrack(child: Deno.ChildProcess): void {
  if (!live.delete(child) || live.size > 0) return;
  for (const [signal, handler] of signalHandlers) Deno.removeSignalListener(signal, handler);
}

/**
 * Appends everything from `stream` to `file` as it arrives, then closes the file. (`pipeTo(file.writable)`
 * held the output back until the process exited, which hides the log of a server that hangs.)
 */
async function copy(stream: ReadableStream<Uint8Array>, file: Deno.FsFile): Promise<void> {
  try {
    for await (const chunk of stream) {
      let written = 0;
      while (written < chunk.length) written += await file.write(chunk.subarray(written));
    }
  } finally {
    file.close();
  }
}

/**
 * A child process whose stdout and stderr are appended to a log file (never left in a pipe nobody reads).
 *
 * @example
 * ```ts
 * const proc = await ServiceProcess.spawn("/usr/bin/redis-server", ["--port", "7000"], "/tmp/x/redis.log");
 * await proc.stop();
 * ```
 */
export class ServiceProcess {
  readonly #child: Deno.ChildProcess;
  readonly #logPath: string;
  readonly #done: Promise<void>;
  #exitCode: number | null = null;

  private constructor(child: Deno.ChildProcess, logPath: string, drained: Promise<unknown>) {
    this.#child = child;
    this.#logPath = logPath;
    this.#done = Promise.all([child.status, drained]).then(([status]) => {
      this.#exitCode = status.code;
      untrack(child);
    });
  }

  /** Starts `command` with `args`, appending its output to `logPath`. */
  static async spawn(command: string, args: string[], logPath: string): Promise<ServiceProcess> {
    const open = () => Deno.open(logPath, { append: true, create: true });
    const [out, err] = [await open(), await open()];
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(command, { args, stdin: "null", stdout: "piped", stderr: "piped" }).spawn();
    } catch (error) {
      out.close();
      err.close();
      throw error;
    }
    track(child);
    const drained = Promise.allSettled([copy(child.stdout, out), copy(child.stderr, err)]);
    return new ServiceProcess(child, logPath, drained);
  }

  /** False once the process has exited and its output is flushed to the log. */
  get running(): boolean {
    return this.#exitCode === null;
  }

  /** The exit code once exited, otherwise null. */
  get exitCode(): number | null {
    return this.#exitCode;
  }

  /** Resolves when the process has exited and its output is flushed. */
  get exited(): Promise<void> {
    return this.#done;
  }

  /** Sends SIGTERM and waits for the exit; SIGKILL after `timeout` ms (default 15 s). Idempotent. */
  async stop(timeout = 15_000): Promise<void> {
    if (!this.running) return await this.#done;
    this.#signal("SIGTERM");
    const timer = setTimeout(() => this.#signal("SIGKILL"), timeout);
    try {
      await this.#done;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The last `lines` lines of the log, for error messages. */
  async logTail(lines = 20): Promise<string> {
    try {
      const text = await Deno.readTextFile(this.#logPath);
      return `--- last lines of ${this.#logPath} ---\n${text.trimEnd().split("\n").slice(-lines).join("\n")}`;
    } catch (error) {
      return `(cannot read ${this.#logPath}: ${error})`;
    }
  }

  #signal(signal: Deno.Signal): void {
    try {
      this.#child.kill(signal);
    } catch (error) {
      // The process exited between the check and the signal.
      if (!(error instanceof TypeError)) throw error;
    }
  }
}
