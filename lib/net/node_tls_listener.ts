/**
 * The chat port's TLS listener, on `node:tls` rather than `Deno.listenTls`, with each accepted socket adapted to
 * the `read`/`write`/`close` of a `Deno.Conn` that {@linkcode Connection} uses.
 *
 * Why not `Deno.listenTls` (measured in Deno 2.9.6): its connections have no `setNoDelay`, so Nagle's algorithm
 * holds a small write back until the peer's delayed ACK — 44 ms per round trip of two writes on loopback, against
 * 0.11 ms for `node:tls` with `setNoDelay(true)`; chat over it ran at a fifth of plain text. And a Deno TLS
 * listener cannot change its certificate, whereas `setSecureContext` does so in place: no closed port while a
 * renewed certificate is loaded, open connections untouched.
 *
 * @module
 */
import { type Server, type TLSSocket } from "node:tls";
import tls from "node:tls";
import type { ConnectionSocket } from "./connection.ts";
import type { TlsKeyPair } from "./tls_files.ts";

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const joined = new Uint8Array(a.length + b.length);
  joined.set(a);
  joined.set(b, a.length);
  return joined;
}

/** One accepted, handshaken TLS socket, read and written like a `Deno.Conn`. */
class NodeTlsConn implements ConnectionSocket {
  readonly remoteAddr: Deno.NetAddr;
  readonly #socket: TLSSocket;
  #chunk: Uint8Array | undefined;
  #ended = false;
  #error: Error | undefined;
  #wake: (() => void) | undefined;

  constructor(socket: TLSSocket) {
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.setKeepAlive(true);
    this.remoteAddr = {
      transport: "tcp",
      hostname: socket.remoteAddress ?? "",
      port: socket.remotePort ?? 0,
    };
    // One chunk is held at a time: the socket pauses until it has been read (back-pressure, like a Deno.Conn).
    socket.on("data", (data: Uint8Array) => {
      // pause() stops the flow before the next chunk; should one slip through anyway, it is kept too.
      const held = this.#chunk;
      this.#chunk = held ? concat(held, data) : data;
      socket.pause();
      this.#notify();
    });
    socket.on("end", () => {
      this.#ended = true;
      this.#notify();
    });
    socket.on("close", () => {
      this.#ended = true;
      this.#notify();
    });
    socket.on("error", (error: Error) => {
      this.#error = error;
      this.#notify();
    });
    socket.pause();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  async read(buffer: Uint8Array): Promise<number | null> {
    while (true) {
      const chunk = this.#chunk;
      if (chunk) {
        const n = Math.min(chunk.length, buffer.length);
        buffer.set(chunk.subarray(0, n));
        this.#chunk = n < chunk.length ? chunk.subarray(n) : undefined;
        if (!this.#chunk) this.#socket.resume();
        return n;
      }
      if (this.#error) throw this.#error;
      if (this.#ended) return null;
      this.#socket.resume();
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
  }

  write(bytes: Uint8Array): Promise<number> {
    if (this.#socket.destroyed) return Promise.reject(new Deno.errors.BrokenPipe("the TLS socket is closed"));
    // Resolved once the bytes are handed on: the caller may reuse its buffer after that, not before.
    return new Promise((resolve, reject) =>
      this.#socket.write(bytes, (error) => error ? reject(error) : resolve(bytes.length))
    );
  }

  close(): void {
    this.#socket.destroy();
  }
}

/**
 * Accepts handshaken TLS connections; the accept loop of `TcpServer` drives it like a `Deno.Listener`.
 *
 * @example
 * ```ts
 * declare const pair: { cert: string; key: string };
 * const listener = await NodeTlsListener.listen({ hostname: "127.0.0.1", port: 0, ...pair });
 * const conn = await listener.accept();
 * listener.close();
 * ```
 */
export class NodeTlsListener {
  readonly addr: Deno.NetAddr;
  readonly #server: Server;
  readonly #ready: ConnectionSocket[] = [];
  #waiter: { resolve: (conn: ConnectionSocket) => void; reject: (error: Error) => void } | undefined;
  #closed = false;

  private constructor(server: Server, addr: Deno.NetAddr) {
    this.#server = server;
    this.addr = addr;
    server.on("secureConnection", (socket: TLSSocket) => {
      const conn = new NodeTlsConn(socket);
      const waiter = this.#waiter;
      this.#waiter = undefined;
      if (waiter) waiter.resolve(conn);
      else this.#ready.push(conn);
    });
    // A failed or abandoned handshake (plain text, a wrong CA, half a ClientHello) ends that socket alone.
    server.on("tlsClientError", (_error: Error, socket: TLSSocket) => socket.destroy());
  }

  /** Binds; rejects with `Deno.errors.AddrInUse` or `Deno.errors.PermissionDenied` like `Deno.listen`. */
  static listen(options: { hostname: string; port: number } & TlsKeyPair): Promise<NodeTlsListener> {
    const server = tls.createServer({ cert: options.cert, key: options.key, handshakeTimeout: 10_000 });
    return new Promise((resolve, reject) => {
      server.once("error", (error: Error & { code?: string }) => {
        if (error.code === "EADDRINUSE") reject(new Deno.errors.AddrInUse(error.message));
        else if (error.code === "EACCES") reject(new Deno.errors.PermissionDenied(error.message));
        else reject(error);
      });
      server.listen(options.port, options.hostname, () => {
        const address = server.address() as { address: string; port: number };
        resolve(
          new NodeTlsListener(server, { transport: "tcp", hostname: address.address, port: address.port }),
        );
      });
    });
  }

  /** The next handshaken connection; rejects with `Deno.errors.BadResource` once closed. */
  accept(): Promise<ConnectionSocket> {
    if (this.#closed) return Promise.reject(new Deno.errors.BadResource("listener closed"));
    const ready = this.#ready.shift();
    if (ready) return Promise.resolve(ready);
    return new Promise((resolve, reject) => this.#waiter = { resolve, reject });
  }

  /** New connections get `pair`; open ones keep theirs. */
  setCertificate(pair: TlsKeyPair): void {
    this.#server.setSecureContext({ cert: pair.cert, key: pair.key });
  }

  /** Stops accepting; open connections stay. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#server.close();
    for (const conn of this.#ready.splice(0)) conn.close();
    this.#waiter?.reject(new Deno.errors.BadResource("listener closed"));
    this.#waiter = undefined;
  }
}
