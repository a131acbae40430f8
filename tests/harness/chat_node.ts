/**
 * Chat server nodes for tests: in this process (fast, for protocol tests) or as a real `main.ts`
 * subprocess (for restarts, signals and kills).
 */
import { type Config, parseConfig } from "../../lib/config.ts";
import { type ChatNode, startNode } from "../../lib/server.ts";

/** A node in this process on a free port with an in-memory store, unless `overrides` say otherwise. */
export function startTestNode(overrides: Partial<Config> = {}): Promise<ChatNode> {
  const config = parseConfig(["--port", "0", "--db", ":memory:", "--log-level", "silent"], () => undefined)!;
  return startNode({ ...config, ...overrides });
}

/** Writes everything from `stream` to `file` as it arrives, then closes the file. */
async function appendAll(stream: ReadableStream<Uint8Array>, file: Deno.FsFile): Promise<void> {
  try {
    for await (const chunk of stream) {
      for (let written = 0; written < chunk.length;) written += await file.write(chunk.subarray(written));
    }
  } finally {
    file.close();
  }
}

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** Resource limits for a {@linkcode ServerProcess}. */
export interface ProcessLimits {
  /** The process's open-files limit (soft and hard), set with `prlimit --nofile`. */
  openFiles?: number;
}

/** A `main.ts` process. */
export class ServerProcess implements AsyncDisposable {
  readonly port: number;
  readonly logFile: string;
  readonly #child: Deno.ChildProcess;
  #exit: Promise<Deno.CommandStatus>;
  readonly #logCopied: Promise<void>;

  private constructor(child: Deno.ChildProcess, port: number, logFile: string, logCopied: Promise<void>) {
    this.#child = child;
    this.port = port;
    this.logFile = logFile;
    this.#exit = child.status;
    this.#logCopied = logCopied;
  }

  /**
   * Starts `main.ts` with `args` (add `--port 0` to pick a free port) and resolves once it printed
   * `listening on HOST:PORT`. Its stderr goes to `logFile`.
   */
  static async start(
    args: string[],
    logFile: string,
    env: Record<string, string> = {},
    limits: ProcessLimits = {},
  ): Promise<ServerProcess> {
    const log = await Deno.open(logFile, { create: true, append: true });
    const deno = [
      Deno.execPath(),
      "run",
      "--allow-net",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      MAIN,
    ];
    // prlimit(1) can lower a child's limit without privileges (raising it above the hard limit cannot be done).
    const command = limits.openFiles === undefined
      ? deno
      : ["prlimit", `--nofile=${limits.openFiles}:${limits.openFiles}`, "--", ...deno];
    const child = new Deno.Command(command[0], {
      args: [...command.slice(1), ...args],
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
      env,
    }).spawn();
    // stderr is copied to the log file so a chatty server never blocks on a full pipe, chunk by chunk so that
    // a test can read the log while the server runs (pipeTo(log.writable) held it back until the exit).
    const logCopied = appendAll(child.stderr, log).catch(() => {});
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    const deadline = setTimeout(() => child.kill("SIGKILL"), 20_000);
    try {
      while (true) {
        const { value, done } = await reader.read();
        if (done) {
          // The log may be gone by the time someone reads the failure (a test removes its temp folder).
          await logCopied;
          const tail = (await Deno.readTextFile(logFile).catch(() => "")).slice(-2000);
          throw new Error(`server exited before listening; its log (${logFile}) ends with:\n${tail}`);
        }
        text += value;
        const match = text.match(/listening on (\S+):(\d+)/);
        if (match) {
          // Keep draining stdout so the child never blocks on it.
          (async () => {
            while (!(await reader.read()).done);
          })().catch(() => {});
          return new ServerProcess(child, Number(match[2]), logFile, logCopied);
        }
      }
    } finally {
      clearTimeout(deadline);
    }
  }

  get pid(): number {
    return this.#child.pid;
  }

  /** Resident memory of the process in bytes (Deno reads /proc only with --allow-all, so ask ps). */
  async rss(): Promise<number> {
    const output = await new Deno.Command("ps", { args: ["-o", "rss=", "-p", String(this.pid)] }).output();
    return Number(new TextDecoder().decode(output.stdout).trim()) * 1024;
  }

  /** Sends a signal and waits for the exit status (and for its log to be complete). */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<Deno.CommandStatus> {
    try {
      this.#child.kill(signal);
    } catch {
      // Already exited.
    }
    const status = await this.#exit;
    await this.#logCopied;
    return status;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop("SIGKILL");
  }
}
