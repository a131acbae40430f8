/**
 * A private nginx TCP load balancer for tests and benches: the stream settings of the project's `nginx.conf`
 * (least_conn, passive health checks, a short connect timeout, retry on the next node, TCP keepalive, half-close passed through) in a
 * temp prefix, on a free port. Shorter timers than production so failover tests finish quickly:
 * `fail_timeout` 2 s instead of 5 s, `proxy_timeout` 10 min instead of 1 h, one process (no master).
 *
 * @module
 */

import { canConnect } from "./can_connect.ts";
import { eventually } from "./eventually.ts";
import { freePort } from "./free_port.ts";
import { ServiceProcess } from "./service_process.ts";
import { makeTempDir, removeTempDir } from "./temp_dir.ts";
import { requireFile, requireProgram } from "./required_program.ts";

const STREAM_MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so";
const READY_TIMEOUT = 10_000;
const UPSTREAM = /^[A-Za-z0-9.-]+:\d{1,5}$|^\[[0-9A-Fa-f:.]+\]:\d{1,5}$/;

/** Options for {@linkcode NginxServer.start}. */
export interface NginxOptions {
  /** The chat nodes to balance, as `host:port`. */
  upstreams: string[];
  /** The program to look up (default `nginx`). */
  program?: string;
  /** The stream module to load (default Debian's path). */
  streamModule?: string;
}

/** The Debian packages of nginx with its stream module. */
const PACKAGES = "nginx-light libnginx-mod-stream";

/**
 * An nginx (stream module) in front of chat nodes, owned by the test process.
 *
 * @example
 * ```ts
 * await using lb = await NginxServer.start({ upstreams: ["127.0.0.1:7001", "127.0.0.1:7002"] });
 * const conn = await Deno.connect({ hostname: "127.0.0.1", port: lb.port });
 * ```
 */
export class NginxServer implements AsyncDisposable {
  /** The TCP port on 127.0.0.1 that clients connect to. */
  readonly port: number;
  readonly #dir: string;
  #process: ServiceProcess | null = null;
  #closed: Promise<void> | null = null;

  private constructor(dir: string, port: number) {
    this.#dir = dir;
    this.port = port;
  }

  /**
   * Writes the configuration, starts nginx and waits until its port accepts connections. Rejects with a
   * one-line `MissingProgramError` naming the Debian packages when nginx or its stream module is missing.
   */
  static async start(options: NginxOptions): Promise<NginxServer> {
    if (options.upstreams.length === 0) throw new TypeError("NginxServer needs at least one upstream");
    for (const upstream of options.upstreams) {
      if (!UPSTREAM.test(upstream)) throw new TypeError(`invalid upstream (want host:port): ${upstream}`);
    }
    const binary = await requireProgram(options.program ?? "nginx", PACKAGES);
    const streamModule = options.streamModule ?? STREAM_MODULE;
    await requireFile(streamModule, "libnginx-mod-stream");
    const dir = await makeTempDir("chat-nginx-");
    const server = new NginxServer(dir, freePort());
    try {
      await Deno.writeTextFile(`${dir}/nginx.conf`, server.#config(options.upstreams, streamModule));
      server.#process = await ServiceProcess.spawn(binary, [
        "-p",
        dir,
        "-c",
        `${dir}/nginx.conf`,
        "-e",
        `${dir}/error.log`,
        "-g",
        // One process: the harness kills what tests leave running with SIGKILL, and a killed master
        // would orphan its workers, which keep serving the port.
        "daemon off; master_process off;",
      ], `${dir}/nginx.out`);
      await eventually(() => canConnect(server.port), {
        timeoutMs: READY_TIMEOUT,
        what: `nginx on 127.0.0.1:${server.port}`,
        process: server.#process,
      });
      return server;
    } catch (error) {
      await server.close();
      throw error;
    }
  }

  /** Stops nginx and removes its temp prefix. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      await this.#process?.stop();
      await removeTempDir(this.#dir);
    })();
    return this.#closed;
  }

  /** Same as {@linkcode close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #config(upstreams: string[], streamModule: string): string {
    const servers = upstreams.map((upstream) => `    server ${upstream} max_fails=1 fail_timeout=2s;`);
    return [
      `load_module ${streamModule};`,
      "worker_processes 1;",
      `pid ${this.#dir}/nginx.pid;`,
      `error_log ${this.#dir}/error.log notice;`,
      "events {",
      "  worker_connections 4096;",
      "}",
      "stream {",
      "  upstream chat {",
      "    least_conn;",
      ...servers,
      "  }",
      "  server {",
      `    listen 127.0.0.1:${this.port} so_keepalive=on;`,
      "    proxy_pass chat;",
      "    proxy_connect_timeout 1s;",
      "    proxy_next_upstream on;",
      "    proxy_next_upstream_tries 2;",
      "    proxy_next_upstream_timeout 3s;",
      "    proxy_timeout 10m;",
      "    proxy_socket_keepalive on;",
      "    proxy_half_close on;",
      "  }",
      "}",
      "",
    ].join("\n");
  }
}
