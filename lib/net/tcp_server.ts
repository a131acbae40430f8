/**
 * The TCP listener: accepts sockets (plain or TLS) and wraps each in a {@linkcode Connection}. Knows nothing
 * about what frames mean.
 */
import {
  Connection,
  type ConnectionHandler,
  type ConnectionOptions,
  type ConnectionSocket,
} from "./connection.ts";
import { NodeTlsListener } from "./node_tls_listener.ts";
import type { TlsKeyPair } from "./tls_files.ts";

/** Options for {@linkcode TcpServer}. */
export interface TcpServerOptions extends ConnectionOptions {
  hostname: string;
  /** 0 picks a free port; read the real one from {@linkcode TcpServer.port}. */
  port: number;
  /** Speak TLS with this certificate and key (see {@linkcode TcpServer.reloadTls}). */
  tls?: TlsKeyPair;
  /**
   * Called when accepting failed (e.g. EMFILE: too many open files) with the pause before the next attempt;
   * the server keeps running. Called for every failure: throttle the logging there.
   */
  onAcceptError?: (error: Error, retryInMs: number) => void;
}

/**
 * The pause after a failed accept doubles from the first to the last while failures repeat: a pending
 * connection that cannot be accepted (no descriptor for it) stays in the backlog, so retrying at once would
 * spin on it. One success starts over at the first.
 */
const ACCEPT_BACKOFF_MS = { first: 10, last: 1000 };
/**
 * Connections accepted back to back before the event loop serves the reads that are ready. After a node
 * restart thousands of devices wait in the backlog, each accept completes at once, and taking them all
 * without a pause stalled chat for 50–65 ms at a time (a CPU profile of the `restart` bench).
 */
export const ACCEPTS_PER_TURN = 32;
/** An accept that waited at least this long ended a run of back-to-back accepts. */
const ACCEPT_WAITED_MS = 1;

/**
 * Accepts connections until closed.
 *
 * @example
 * ```ts
 * import type { ConnectionHandler } from "./connection.ts";
 *
 * declare const handler: ConnectionHandler<unknown>;
 * const server = TcpServer.listen({ hostname: "127.0.0.1", port: 0 }, handler);
 * console.log(server.port);
 * await server.close();
 * ```
 */
export class TcpServer<T> implements AsyncDisposable {
  readonly #listener: Deno.Listener | NodeTlsListener;
  readonly #connections = new Set<Connection<T>>();
  readonly #acceptLoop: Promise<void>;
  #closed = false;

  private constructor(
    listener: Deno.Listener | NodeTlsListener,
    handler: ConnectionHandler<T>,
    options: ConnectionOptions & Pick<TcpServerOptions, "onAcceptError">,
  ) {
    this.#listener = listener;
    this.#acceptLoop = this.#accept(handler, options);
  }

  /** Binds and starts accepting plain text. Throws when the address is taken or not permitted. */
  static listen<T>(options: TcpServerOptions, handler: ConnectionHandler<T>): TcpServer<T> {
    if (options.tls) throw new TypeError("TcpServer.listen is plain text; use TcpServer.listenTls");
    const listener = Deno.listen({ hostname: options.hostname, port: options.port, transport: "tcp" });
    return new TcpServer(listener, handler, options);
  }

  /**
   * Binds and starts accepting TLS with `options.tls` (see `NodeTlsListener` for why it is `node:tls`). Rejects
   * like {@linkcode TcpServer.listen} throws.
   */
  static async listenTls<T>(
    options: TcpServerOptions & { tls: TlsKeyPair },
    handler: ConnectionHandler<T>,
  ): Promise<TcpServer<T>> {
    const listener = await NodeTlsListener.listen({
      hostname: options.hostname,
      port: options.port,
      ...options.tls,
    });
    return new TcpServer(listener, handler, options);
  }

  get hostname(): string {
    return (this.#listener.addr as Deno.NetAddr).hostname;
  }

  get port(): number {
    return (this.#listener.addr as Deno.NetAddr).port;
  }

  /**
   * Serves new connections with `tls` (a checked pair: see `readTlsFiles`); open connections keep theirs, and
   * the port stays open throughout. Throws on a plain-text server.
   */
  reloadTls(tls: TlsKeyPair): void {
    if (!(this.#listener instanceof NodeTlsListener)) throw new TypeError("this server does not speak TLS");
    this.#listener.setCertificate(tls);
  }

  /** The open connections. */
  get connections(): ReadonlySet<Connection<T>> {
    return this.#connections;
  }

  async #accept(
    handler: ConnectionHandler<T>,
    options: ConnectionOptions & Pick<TcpServerOptions, "onAcceptError">,
  ): Promise<void> {
    const tracking: ConnectionHandler<T> = {
      onFrame: (connection, text) => handler.onFrame(connection, text),
      onFrameTooLarge: (connection, size) => handler.onFrameTooLarge(connection, size),
      onOpen: (connection) => handler.onOpen?.(connection),
      onClose: (connection, unsent) => {
        this.#connections.delete(connection);
        handler.onClose(connection, unsent);
      },
    };
    let backoffMs = ACCEPT_BACKOFF_MS.first;
    let backToBack = 0;
    while (!this.#closed) {
      let conn: ConnectionSocket;
      try {
        if (backToBack >= ACCEPTS_PER_TURN) {
          backToBack = 0;
          await new Promise((resolve) => setTimeout(resolve, 0));
          if (this.#closed) return;
        }
        const asked = performance.now();
        conn = await this.#listener.accept();
        backToBack = performance.now() - asked >= ACCEPT_WAITED_MS ? 1 : backToBack + 1;
        backoffMs = ACCEPT_BACKOFF_MS.first;
      } catch (error) {
        if (this.#closed || error instanceof Deno.errors.BadResource) return;
        // Transient accept failures (e.g. too many open files) must not stop the server.
        options.onAcceptError?.(error instanceof Error ? error : new Error(String(error)), backoffMs);
        await new Promise((resolve) => setTimeout(resolve, backoffMs));
        backoffMs = Math.min(backoffMs * 2, ACCEPT_BACKOFF_MS.last);
        continue;
      }
      try {
        // A TLS socket has had both set by its listener.
        const tcp = conn as Partial<Pick<Deno.TcpConn, "setNoDelay" | "setKeepAlive">>;
        tcp.setNoDelay?.(true);
        tcp.setKeepAlive?.(true);
      } catch {
        // The peer may already be gone; the read loop will notice.
      }
      const connection = new Connection(conn, tracking, options);
      this.#connections.add(connection);
      tracking.onOpen!(connection);
      connection.start();
    }
  }

  /** Stops accepting (open connections stay; the caller decides their fate). Idempotent. */
  stopAccepting(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#listener.close();
    } catch {
      // Already closed.
    }
  }

  /** Stops accepting and closes every connection, waiting for their close handlers. Idempotent. */
  async close(): Promise<void> {
    this.stopAccepting();
    await this.#acceptLoop;
    const open = [...this.#connections];
    for (const connection of open) connection.close();
    await Promise.all(open.map((connection) => connection.closed));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
