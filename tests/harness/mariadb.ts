/**
 * A private, throw-away MariaDB server for tests and benches: its own data directory in a temp folder, a free
 * port on 127.0.0.1, root without a password over TCP, and a `chat` database in utf8mb4.
 *
 * @module
 */

import mysql from "mysql2/promise";
import { canConnect } from "./can_connect.ts";
import { eventually } from "./eventually.ts";
import { freePort } from "./free_port.ts";
import { ServiceProcess } from "./service_process.ts";
import { makeTempDir, removeTempDir } from "./temp_dir.ts";
import { requireProgram } from "./required_program.ts";

const READY_TIMEOUT = 20_000;
const NAME = /^[A-Za-z0-9_]{1,64}$/;

/**
 * Runs once at every server start (idempotent). After `mariadb-install-db` root exists only as
 * root@localhost with unix_socket authentication; with `--skip-name-resolve` a TCP client from 127.0.0.1 needs
 * its own account, so we grant one here rather than running the server with `--skip-grant-tables`.
 */
const INIT_SQL = `CREATE USER IF NOT EXISTS 'root'@'127.0.0.1';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
CREATE DATABASE IF NOT EXISTS chat CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
`;

/** Options for {@linkcode MariaDbServer.start}. */
export interface MariaDbOptions {
  /** The server program to look up (default `mariadbd`). */
  mariadbd?: string;
  /** The data directory initialiser to look up (default `mariadb-install-db`). */
  installDb?: string;
}

/** The Debian package of both programs. */
const PACKAGES = "mariadb-server";

/**
 * A MariaDB server owned by the test process.
 *
 * @example
 * ```ts
 * await using db = await MariaDbServer.start();
 * const url = await db.createDatabase("t1"); // mysql://root@127.0.0.1:PORT/t1
 * ```
 */
export class MariaDbServer implements AsyncDisposable {
  /** The TCP port on 127.0.0.1. */
  readonly port: number;
  /** `mysql://root@127.0.0.1:PORT/chat`. */
  readonly url: string;
  readonly #dir: string;
  readonly #mariadbd: string;
  #process: ServiceProcess | null = null;
  #closed: Promise<void> | null = null;

  private constructor(dir: string, mariadbd: string, port: number) {
    this.#dir = dir;
    this.#mariadbd = mariadbd;
    this.port = port;
    this.url = `mysql://root@127.0.0.1:${port}/chat`;
  }

  /**
   * Initialises a data directory in a new temp folder and starts the server on a free port. Rejects with a
   * one-line `MissingProgramError` naming the Debian package when MariaDB is not installed.
   */
  static async start(options: MariaDbOptions = {}): Promise<MariaDbServer> {
    const [mariadbd, installDb] = await Promise.all([
      requireProgram(options.mariadbd ?? "mariadbd", PACKAGES),
      requireProgram(options.installDb ?? "mariadb-install-db", PACKAGES),
    ]);
    const dir = await makeTempDir("chat-mariadb-");
    // Each server's temporary tables go to its own folder: two `mariadb-install-db` sharing /tmp remove each
    // other's `#sql-temptable-*` files and abort ("Unknown table 'mysql.tmp_user_sys'"), which failed a suite
    // run whose tests start MariaDB in parallel with other processes doing the same.
    await Deno.mkdir(`${dir}/tmp`);
    const server = new MariaDbServer(dir, mariadbd, freePort());
    try {
      await server.#install(installDb);
      await Deno.writeTextFile(`${dir}/init.sql`, INIT_SQL);
      await server.#launch();
      return server;
    } catch (error) {
      await server.close();
      throw error;
    }
  }

  /** Creates a new utf8mb4 database (the name must be new) and returns its URL. */
  async createDatabase(name: string): Promise<string> {
    if (!NAME.test(name)) throw new TypeError(`invalid database name: ${JSON.stringify(name)}`);
    await this.#query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
    return `mysql://root@127.0.0.1:${this.port}/${name}`;
  }

  /** Stops the server with SIGTERM and waits for it to exit; the data directory stays for {@linkcode restart}. */
  async stop(): Promise<void> {
    await this.#process?.stop();
  }

  /** Starts the server again on the same port and data directory (stopping it first if it runs). */
  async restart(): Promise<void> {
    if (this.#closed) throw new Error("MariaDbServer is closed");
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

  async #install(installDb: string): Promise<void> {
    const install = await ServiceProcess.spawn(installDb, [
      "--no-defaults",
      `--datadir=${this.#dir}/data`,
      `--tmpdir=${this.#dir}/tmp`,
      "--user=root",
      "--skip-test-db",
    ], `${this.#dir}/install.log`);
    await install.exited;
    if (install.exitCode !== 0) {
      throw new Error(`mariadb-install-db exited with code ${install.exitCode}\n${await install.logTail()}`);
    }
  }

  async #launch(): Promise<void> {
    const dir = this.#dir;
    this.#process = await ServiceProcess.spawn(this.#mariadbd, [
      "--no-defaults",
      `--datadir=${dir}/data`,
      `--tmpdir=${dir}/tmp`,
      `--port=${this.port}`,
      `--socket=${dir}/sock`,
      "--bind-address=127.0.0.1",
      "--user=root",
      "--skip-name-resolve",
      "--character-set-server=utf8mb4",
      "--collation-server=utf8mb4_unicode_ci",
      "--skip-log-bin",
      `--pid-file=${dir}/mariadbd.pid`,
      // The server writes its own log, so it survives this process; our pipe carries only early output.
      `--log-error=${dir}/mariadbd.log`,
      `--init-file=${dir}/init.sql`,
      "--innodb-buffer-pool-size=32M",
    ], `${dir}/mariadbd.log`);
    await eventually(async () => {
      await canConnect(this.port);
      await this.#query("SELECT 1");
    }, { timeoutMs: READY_TIMEOUT, what: `MariaDB on 127.0.0.1:${this.port}`, process: this.#process });
  }

  async #query(sql: string): Promise<void> {
    const conn = await mysql.createConnection({
      host: "127.0.0.1",
      port: this.port,
      user: "root",
      connectTimeout: 2_000,
    });
    try {
      await conn.query(sql);
    } finally {
      await conn.end();
    }
  }
}
