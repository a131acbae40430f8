/**
 * The client's side of the wire (PROTOCOL.md): one TCP connection speaking v2, frames split at `\n`,
 * requests correlated with their replies by `cid`, a heartbeat that keeps the server's idle timeout away
 * and notices a server that stopped answering.
 */
import { MsgId } from "../protocol/msg_id.ts";
import { ConnectError, ConnectionLostError, RequestTimeoutError } from "./errors.ts";

/** A decoded server frame. */
export type Frame = Record<string, unknown> & { msgid: number };

/** How a connection ended. */
export interface CloseReason {
  /** `true` when the connection ended without {@linkcode Connection.close} being called. */
  lost: boolean;
  /** What ended it, when known. */
  cause?: unknown;
}

/** Options for {@linkcode Connection.open}. */
export interface ConnectionOptions {
  hostname: string;
  port: number;
  /** Called for every frame that is not the reply to a request: chats, presence, uncorrelated errors. */
  onFrame: (frame: Frame) => void;
  /** Called for a line from the server that is not a JSON object with an integer `msgid`. */
  onMalformed?: (text: string) => void;
  /** How long a request waits for its reply (default 10 s). */
  requestTimeoutMs?: number;
  /** Interval between PINGs (default 30 s, well inside the server's 90 s idle timeout); 0 disables. */
  heartbeatMs?: number;
  /** Speak TLS, verifying the server against the system's roots, or only against `caFile` (PEM) when given. */
  tls?: { caFile?: string };
}

const READ_BUFFER_BYTES = 16 * 1024;
/** A server line longer than this ends the connection instead of growing the buffer without bound. */
const MAX_LINE_CHARS = 32 * 1024 * 1024;

const encoder = new TextEncoder();

async function readCa(address: string, caFile: string): Promise<string> {
  try {
    return await Deno.readTextFile(caFile);
  } catch (error) {
    // Deno's own message names the flag to add (`--allow-read`).
    if (error instanceof Deno.errors.NotCapable) throw error;
    throw new ConnectError(address, {
      cause: new Error(`cannot read the CA file ${caFile} (--ca): ${(error as Error).message}`),
    });
  }
}

/** A failed TLS connect as a reason the user can act on: a failed certificate check says so and what to try. */
function tlsReason(error: unknown, caFile: string | undefined): unknown {
  if (!(error instanceof Error)) return error;
  if (/certificate|UnknownIssuer|NotValidForName|Expired/i.test(error.message)) {
    const hint = caFile === undefined
      ? "; for a server with a private CA, pass its certificate with --ca FILE"
      : ` against the CA in ${caFile}`;
    return new Error(`TLS certificate verification failed (${error.message})${hint}`, { cause: error });
  }
  if (error instanceof Deno.errors.InvalidData || /tls|handshake|corrupt|peer/i.test(error.message)) {
    return new Error(`TLS handshake failed (${error.message}); is the server's port speaking TLS?`, {
      cause: error,
    });
  }
  return error;
}

interface PendingRequest {
  resolve: (frame: Frame) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * A v2 connection to a chat server.
 *
 * @example
 * ```ts
 * import { MsgId } from "../protocol/msg_id.ts";
 *
 * const connection = await Connection.open({ hostname: "127.0.0.1", port: 6000, onFrame: console.log });
 * const reply = await connection.request({ msgid: MsgId.LOGIN, id: 1, password: "secret" });
 * connection.close();
 * ```
 */
export class Connection implements AsyncDisposable {
  /** `HOST:PORT`, for messages. */
  readonly address: string;
  readonly #conn: Deno.Conn;
  readonly #options: ConnectionOptions;
  readonly #pending = new Map<number, PendingRequest>();
  readonly #closed = Promise.withResolvers<CloseReason>();
  readonly #heartbeat: ReturnType<typeof setInterval> | undefined;
  #nextCid = 1;
  #writing: Promise<void> = Promise.resolve();
  #done = false;

  private constructor(conn: Deno.Conn, options: ConnectionOptions) {
    this.#conn = conn;
    this.#options = options;
    this.address = `${options.hostname}:${options.port}`;
    const heartbeatMs = options.heartbeatMs ?? 30_000;
    if (heartbeatMs > 0) {
      const heartbeat = setInterval(() => this.#ping(), heartbeatMs);
      // The heartbeat alone must not keep the process alive.
      Deno.unrefTimer(heartbeat);
      this.#heartbeat = heartbeat;
    }
    this.#readLoop();
  }

  /**
   * Connects; rejects with a {@linkcode ConnectError} naming the address and the reason. With `tls`, the
   * handshake (and so the certificate check) completes here: a server that fails it is never sent a byte of
   * chat, and there is no fallback to plain text.
   */
  static async open(options: ConnectionOptions): Promise<Connection> {
    const address = `${options.hostname}:${options.port}`;
    if (!options.tls) {
      try {
        const conn = await Deno.connect({ hostname: options.hostname, port: options.port });
        conn.setNoDelay(true);
        return new Connection(conn, options);
      } catch (error) {
        if (error instanceof Deno.errors.NotCapable) throw error;
        throw new ConnectError(address, { cause: error });
      }
    }
    const caCerts = options.tls.caFile === undefined
      ? undefined
      : [await readCa(address, options.tls.caFile)];
    let tcp: Deno.TcpConn | undefined;
    let conn: Deno.TlsConn;
    try {
      tcp = await Deno.connect({ hostname: options.hostname, port: options.port });
      // A TlsConn has no setNoDelay (Deno 2.9.6): set it on the socket before TLS starts on it.
      tcp.setNoDelay(true);
      conn = await Deno.startTls(tcp, { hostname: options.hostname, caCerts });
      await conn.handshake();
    } catch (error) {
      try {
        tcp?.close();
      } catch {
        // startTls took the socket over and closed it.
      }
      if (error instanceof Deno.errors.NotCapable) throw error;
      throw new ConnectError(address, { cause: tlsReason(error, options.tls.caFile) });
    }
    return new Connection(conn, options);
  }

  /** Resolves once the connection has ended, saying whether it was lost or closed by us. */
  get closed(): Promise<CloseReason> {
    return this.#closed.promise;
  }

  /** `true` until the connection ends. */
  get isOpen(): boolean {
    return !this.#done;
  }

  /**
   * Sends `frame` as v2 with a fresh `cid` and resolves with the server's reply carrying that `cid`
   * (whatever its msgid: the ACK, LOGIN_ACK, REG_ACK, PONG or an ERROR). Rejects with a
   * {@linkcode RequestTimeoutError} or a {@linkcode ConnectionLostError}.
   */
  request(
    frame: Record<string, unknown>,
    timeoutMs = this.#options.requestTimeoutMs ?? 10_000,
  ): Promise<Frame> {
    if (this.#done) return Promise.reject(new ConnectionLostError(this.address));
    const cid = this.#nextCid++;
    const { promise, resolve, reject } = Promise.withResolvers<Frame>();
    const timer = setTimeout(() => {
      this.#pending.delete(cid);
      reject(new RequestTimeoutError(this.address, timeoutMs));
    }, timeoutMs);
    this.#pending.set(cid, { resolve, reject, timer });
    this.#write(JSON.stringify({ ...frame, v: 2, cid }) + "\n");
    return promise;
  }

  /** Sends `frame` as v2 without waiting for anything: for TYPING, which the server never answers. */
  notify(frame: Record<string, unknown>): void {
    if (!this.#done) this.#write(JSON.stringify({ ...frame, v: 2 }) + "\n");
  }

  /** Closes the connection (idempotent); pending requests fail and {@linkcode closed} says "not lost". */
  close(): void {
    this.#finish({ lost: false });
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return this.closed.then(() => {});
  }

  #ping(): void {
    // A server that does not answer a PING is as good as gone: say so instead of waiting forever.
    this.request({ msgid: MsgId.PING }).catch((error) => this.#finish({ lost: true, cause: error }));
  }

  #write(text: string): void {
    const bytes = encoder.encode(text);
    this.#writing = this.#writing.then(async () => {
      if (this.#done) return;
      try {
        for (let written = 0; written < bytes.length;) {
          written += await this.#conn.write(bytes.subarray(written));
        }
      } catch (error) {
        this.#finish({ lost: true, cause: error });
      }
    });
  }

  async #readLoop(): Promise<void> {
    const decoder = new TextDecoder();
    const buffer = new Uint8Array(READ_BUFFER_BYTES);
    let text = "";
    let cause: unknown;
    try {
      while (true) {
        const n = await this.#conn.read(buffer);
        if (n === null) break;
        text += decoder.decode(buffer.subarray(0, n), { stream: true });
        let newline;
        while ((newline = text.indexOf("\n")) >= 0) {
          const line = text.slice(0, newline);
          text = text.slice(newline + 1);
          if (line.trim() !== "") this.#accept(line);
        }
        if (text.length > MAX_LINE_CHARS) {
          throw new Error(`a server frame exceeds ${MAX_LINE_CHARS} characters`);
        }
      }
    } catch (error) {
      cause = error;
    }
    this.#finish({ lost: true, cause });
  }

  #accept(line: string): void {
    let frame: unknown;
    try {
      frame = JSON.parse(line);
    } catch {
      this.#options.onMalformed?.(line);
      return;
    }
    if (typeof frame !== "object" || frame === null || !Number.isInteger((frame as Frame).msgid)) {
      this.#options.onMalformed?.(line);
      return;
    }
    const reply = frame as Frame;
    const pending = typeof reply.cid === "number" ? this.#pending.get(reply.cid) : undefined;
    if (pending) {
      this.#pending.delete(reply.cid as number);
      clearTimeout(pending.timer);
      pending.resolve(reply);
    } else if (typeof reply.cid === "number" && reply.cid < this.#nextCid) {
      // The late reply to a request that already timed out: its caller has reported the timeout.
    } else {
      this.#options.onFrame(reply);
    }
  }

  #finish(reason: CloseReason): void {
    if (this.#done) return;
    this.#done = true;
    if (this.#heartbeat !== undefined) clearInterval(this.#heartbeat);
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
    for (const [cid, pending] of this.#pending) {
      clearTimeout(pending.timer);
      pending.reject(new ConnectionLostError(this.address, { cause: reason.cause }));
      this.#pending.delete(cid);
    }
    this.#closed.resolve(reason);
  }
}
