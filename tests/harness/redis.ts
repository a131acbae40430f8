/**
 * A private, throw-away Redis server for tests and benches: a free port on 127.0.0.1, no persistence, its
 * working directory in a temp folder.
 *
 * @module
 */

import { eventually } from "./eventually.ts";
import { freePort } from "./free_port.ts";
import { ServiceProcess } from "./service_process.ts";
import { makeTempDir, removeTempDir } from "./temp_dir.ts";
import { requireProgram } from "./required_program.ts";

const READY_TIMEOUT = 10_000;

/** Options for {@linkcode RedisServer.start}. */
export interface RedisOptions {
  /** The server program to look up (default `redis-server`). */
  program?: string;
  /** Require this password (`requirepass`); {@linkcode RedisServer.url} does not contain it. */
  password?: string;
}

/**
 * A Redis server owned by the test process.
 *
 * @example
 * ```ts
 * await using redis = await RedisServer.start();
 * console.log(redis.url); // redis://127.0.0.1:PORT
 * ```
 */
export class RedisServer implements AsyncDisposable {
  /** The TCP port on 127.0.0.1. */
  readonly port: number;
  /** `redis://127.0.0.1:PORT`. */
  readonly url: string;
  readonly #dir: string;
  readonly #binary: string;
  readonly #password: string | undefined;
  #process: ServiceProcess | null = null;
  #closed: Promise<void> | null = null;

  private constructor(dir: string, binary: string, port: number, password?: string) {
    this.#dir = dir;
    this.#binary = binary;
    this.#password = password;
    this.port = port;
    this.url = `redis://127.0.0.1:${port}`;
  }

  /**
   * Starts a server on a free port and waits until it answers PING. Rejects with a one-line
   * `MissingProgramError` naming the Debian package when Redis is not installed.
   */
  static async start(options: RedisOptions = {}): Promise<RedisServer> {
    const binary = await requireProgram(options.program ?? "redis-server", "redis-server");
    const dir = await makeTempDir("chat-redis-");
    const server = new RedisServer(dir, binary, freePort(), options.password);
    try {
      await server.#launch();
      return server;
    } catch (error) {
      await server.close();
      throw error;
    }
  }

  /** Stops the server with SIGTERM and waits for it to exit. */
  async stop(): Promise<void> {
    await this.#process?.stop();
  }

  /** Starts the server again on the same port (stopping it first if it runs). Its data is gone. */
  async restart(): Promise<void> {
    if (this.#closed) throw new Error("RedisServer is closed");
    await this.stop();
    await this.#launch();
  }

  /** Stops the server and removes its temp folder. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      await this.stop();
      await removeTempDir(this.#dir);
    })();
    return this.#closed;
  }

  /** Same as {@linkcode close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #launch(): Promise<void> {
    this.#process = await ServiceProcess.spawn(this.#binary, [
      "--port",
      String(this.port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--dir",
      this.#dir,
      // Redis writes its own log, so it survives this process; our pipe carries only early output.
      "--logfile",
      `${this.#dir}/redis.log`,
      ...(this.#password === undefined ? [] : ["--requirepass", this.#password]),
    ], `${this.#dir}/redis.log`);
    await eventually(() => ping(this.port, this.#password), {
      timeoutMs: READY_TIMEOUT,
      what: `Redis on 127.0.0.1:${this.port}`,
      process: this.#process,
    });
  }
}

/**
 * Sends an inline `PING` over a raw TCP connection (after `AUTH password` when one is given) and resolves when
 * Redis answers `+PONG`.
 *
 * @example
 * ```ts
 * await ping(redis.port);
 * ```
 */
export async function ping(port: number, password?: string): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  // RESP, not an inline command: the password may hold spaces or quotes.
  const auth = password === undefined
    ? ""
    : `*2\r\n$4\r\nAUTH\r\n$${new TextEncoder().encode(password).length}\r\n${password}\r\n`;
  const expected = password === undefined ? "+PONG\r\n" : "+OK\r\n+PONG\r\n";
  try {
    await conn.write(new TextEncoder().encode(`${auth}PING\r\n`));
    const buffer = new Uint8Array(64);
    let text = "";
    const replies = expected.split("\r\n").length - 1;
    while (text.split("\r\n").length - 1 < replies) {
      const n = await conn.read(buffer);
      if (n === null) break;
      text += new TextDecoder().decode(buffer.subarray(0, n));
    }
    if (text !== expected) throw new Error(`unexpected PING reply: ${JSON.stringify(text)}`);
  } finally {
    conn.close();
  }
}
