/**
 * The TCP listener: accepts sockets (plain or TLS) and wraps each in a {@linkcode Connection}. Knows nothing
 * about what frames mean.
 */
import { Connection, type ConnectionHandler, type ConnectionOptions } from "./connection.ts";
import type { TlsKeyPair } from "./tls_files.ts";

/** Options for {@linkcode TcpServer}. */
export interface TcpServerOptions extends ConnectionOptions {
  hostname: string;
  /** 0 picks a free port; read the real one from {@linkcode TcpServer.port}. */
  port: number;
  /** Speak TLS with this certificate and key (see {@linkcode TcpServer.reloadTls}). */
  tls?: TlsKeyPair;
}

function open(hostname: string, port: number, tls: TlsKeyPair | undefined): Deno.Listener {
  return tls
    ? Deno.listenTls({ hostname, port, transport: "tcp", ...tls })
    : Deno.listen({ hostname, port, transport: "tcp" });
}

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
  #listener: Deno.Listener;
  readonly #connections = new Set<Connection<T>>();
  readonly #handler: ConnectionHandler<T>;
  readonly #options: ConnectionOptions;
  readonly #address: Deno.NetAddr;
  #acceptLoop: Promise<void>;
  #reloading: Promise<void> = Promise.resolve();
  /** The listener is being replaced: its accept loop ends without ending the server. */
  #swapping = false;
  #closed = false;

  private constructor(
    listener: Deno.Listener,
    handler: ConnectionHandler<T>,
    options: ConnectionOptions,
  ) {
    this.#listener = listener;
    this.#address = listener.addr as Deno.NetAddr;
    this.#handler = handler;
    this.#options = options;
    this.#acceptLoop = this.#accept(listener);
  }

  /** Binds and starts accepting. Throws when the address is taken or not permitted. */
  static listen<T>(options: TcpServerOptions, handler: ConnectionHandler<T>): TcpServer<T> {
    return new TcpServer(open(options.hostname, options.port, options.tls), handler, options);
  }

  get hostname(): string {
    return this.#address.hostname;
  }

  get port(): number {
    return this.#address.port;
  }

  /**
   * Serves new connections with `tls` (a checked pair: see `readTlsFiles`); open connections keep theirs.
   *
   * Deno 2.9.6 cannot change a TLS listener's certificate, and a second listener on the same port needs
   * `reusePort`, which is unstable (`--unstable-net`). So the listener is closed and a new one bound to the same
   * port. Binding again right after `close()` fails with "address in use" until the pending `accept()` has
   * returned and released the socket (measured), so the accept loop is awaited first. During that gap (well
   * under a millisecond) a connect is refused and one in the old backlog is reset; a client reconnects as after
   * any network hiccup. Accepted connections are separate sockets and are not touched.
   */
  reloadTls(tls: TlsKeyPair): Promise<void> {
    this.#reloading = this.#reloading.then(async () => {
      if (this.#closed) return;
      const old = this.#listener;
      this.#swapping = true;
      try {
        old.close();
      } catch {
        // Already closed.
      }
      await this.#acceptLoop;
      this.#swapping = false;
      if (this.#closed) return;
      try {
        this.#listener = open(this.#address.hostname, this.#address.port, tls);
      } catch (error) {
        // The pair was checked; if the port itself cannot be had back, the error is the caller's to log.
        this.#closed = true;
        throw error;
      }
      this.#acceptLoop = this.#accept(this.#listener);
    });
    return this.#reloading;
  }

  /** The open connections. */
  get connections(): ReadonlySet<Connection<T>> {
    return this.#connections;
  }

  async #accept(listener: Deno.Listener): Promise<void> {
    const handler = this.#handler;
    const options = this.#options;
    const tracking: ConnectionHandler<T> = {
      onFrame: (connection, text) => handler.onFrame(connection, text),
      onFrameTooLarge: (connection, size) => handler.onFrameTooLarge(connection, size),
      onOpen: (connection) => handler.onOpen?.(connection),
      onClose: (connection, unsent) => {
        this.#connections.delete(connection);
        handler.onClose(connection, unsent);
      },
    };
    while (!this.#closed) {
      let conn: Deno.TcpConn | Deno.TlsConn;
      try {
        conn = await listener.accept() as Deno.TcpConn | Deno.TlsConn;
      } catch (error) {
        if (this.#closed || this.#swapping || error instanceof Deno.errors.BadResource) return;
        // Transient accept failures (e.g. too many open files) must not stop the server.
        await new Promise((resolve) => setTimeout(resolve, 50));
        continue;
      }
      try {
        // A TlsConn has these at run time too, but Deno 2.9.6's types do not say so.
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
    await this.#reloading.catch(() => {});
    await this.#acceptLoop;
    const open = [...this.#connections];
    for (const connection of open) connection.close();
    await Promise.all(open.map((connection) => connection.closed));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
