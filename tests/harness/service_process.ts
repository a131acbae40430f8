/**
 * A child process of the service harness (MariaDB, Redis, nginx) whose output goes to a log file and which is
 * killed when the test process ends, even when a test forgets to stop it.
 *
 * @module
 */

import { trackChild, untrackChild } from "./exit_cleanup.ts";

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
 * ```ts ignore
 * import { ServiceProcess } from "./service_process.ts";
 *
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
      untrackChild(child);
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
    trackChild(child);
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
