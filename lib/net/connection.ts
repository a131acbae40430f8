/**
 * One client connection: a manual read loop feeding the {@linkcode FrameDecoder}, and a bounded
 * outbound queue whose writes are coalesced (everything queued while a write is in flight goes out in
 * the next single write).
 */
import { FrameDecoder } from "./frame_decoder.ts";
import { borrowScratch, encodeForWrite, fullyWritten, type Outbound, returnScratch } from "./outbound.ts";

/** What the connection reports upward. `T` tags outbound items (the service marks chat frames). */
export interface ConnectionHandler<T> {
  /**
   * A complete frame's text; `null` when its bytes are not valid UTF-8. When it returns a promise, the
   * next frame waits for it: one connection's requests are handled in order, and a client that sends
   * faster than it is served stops being read (back-pressure instead of an unbounded backlog).
   */
  onFrame(connection: Connection<T>, text: string | null): void | Promise<void>;
  /** The peer sent a frame over the size limit; the connection is closing. */
  onFrameTooLarge(connection: Connection<T>, size: number): void;
  /** A new connection, before its first read. */
  onOpen?(connection: Connection<T>): void;
  /** The connection closed. `unsent` holds the tags of queued items that never reached the socket. */
  onClose(connection: Connection<T>, unsent: T[]): void;
}

/** What a {@linkcode Connection} uses of its socket: a `Deno.Conn` has it, and a test's fake can. */
export type ConnectionSocket = Pick<Deno.Conn, "read" | "write" | "close"> & {
  readonly remoteAddr: Deno.Addr;
};

/** Options for {@linkcode Connection}. */
export interface ConnectionOptions {
  /** Largest accepted inbound frame (default 64 KiB). */
  maxFrameBytes?: number;
  /** Outbound bytes that may wait for a slow reader before it is disconnected (default 4 MiB). */
  maxOutboundBytes?: number;
}

/**
 * Read buffer sizes. Idle connections dominate memory and a pending read holds its buffer, so a connection
 * starts (and falls back) small; a read that fills the buffer means more is waiting, so the next one is
 * larger (DESIGN.md: a 4 KiB buffer alone costs about 4 KB per idle connection). 64 bytes hold a PING or a
 * short LOGIN; a chat message fills it and the next read is 256 bytes, which a stream of them keeps.
 */
const MIN_READ_BUFFER_BYTES = 64;
const MAX_READ_BUFFER_BYTES = 64 * 1024;

const decoder = new TextDecoder("utf-8", { fatal: true });

let nextConnectionId = 1;

/** One {@linkcode Connection.flushed} call waiting for the writes to reach `target` items. */
interface FlushWaiter {
  target: number;
  resolve: (flushed: boolean) => void;
}

/** The empty queue every idle connection shares; never pushed to (see {@linkcode Connection.send}). */
const NOTHING_QUEUED: never[] = [];

/**
 * The buffer for the next read: larger after a read that filled `buffer`; the minimal one after a read that
 * would have fitted in it on its own (a PING, the last frame before the client falls silent), so that an idle
 * connection's pending read holds 64 bytes. Not after the tail of a frame that began in an earlier read: a
 * 109-byte chat message arrives as 64 bytes and a 45-byte tail, and falling back then would split every one.
 */
function nextReadBuffer(
  buffer: Uint8Array<ArrayBuffer>,
  bytesRead: number,
  endsEarlierFrame: boolean,
): Uint8Array<ArrayBuffer> {
  if (bytesRead === buffer.length && buffer.length < MAX_READ_BUFFER_BYTES) {
    return new Uint8Array(buffer.length * 4);
  }
  if (buffer.length > MIN_READ_BUFFER_BYTES && bytesRead < MIN_READ_BUFFER_BYTES && !endsEarlierFrame) {
    return new Uint8Array(MIN_READ_BUFFER_BYTES);
  }
  return buffer;
}

/** A frame's text; `null` when its bytes are not valid UTF-8. */
function frameText(bytes: Uint8Array): string | null {
  try {
    return decoder.decode(bytes);
  } catch {
    return null;
  }
}

/** The size counted against the outbound limit (UTF-16 units for text: cheap, and close enough). */
function queuedSize(item: Outbound): number {
  return item.length;
}

/**
 * A framed TCP connection.
 *
 * @example
 * ```ts
 * declare const tcpConn: Deno.Conn;
 * declare const handler: ConnectionHandler<unknown>;
 * const connection = new Connection(tcpConn, handler);
 * connection.start();
 * connection.send('{"msgid":14}\n');
 * ```
 */
export class Connection<T = unknown> {
  /** Process-unique id, for logs. */
  readonly id = nextConnectionId++;
  /** Whatever the layer above wants to keep with this connection. */
  context: unknown = undefined;
  /** When bytes last arrived (performance.now()), for idle timeouts. */
  lastReadAt = performance.now();

  readonly #conn: ConnectionSocket;
  readonly #handler: ConnectionHandler<T>;
  readonly #decoder: FrameDecoder;
  readonly #maxOutboundBytes: number;
  // The queue, its tags and the flush waiters start as shared empty arrays, replaced by arrays of their own
  // when something is queued: most connections sit idle, and three empty arrays each cost ~100 B.
  #queue: Outbound[] = NOTHING_QUEUED;
  #queueTags: (T | undefined)[] = NOTHING_QUEUED;
  #queuedBytes = 0;
  #writing = false;
  #closed = false;
  /** Set once onClose ran: nothing is accepted any more. */
  #finished = false;
  /** Set once onClose has returned: {@linkcode Connection.closed} is resolved from then on. */
  #closeReported = false;
  #closeWhenDrained = false;
  /** Items accepted by send() and items written, for flushed(). */
  #sent = 0;
  #written = 0;
  #flushWaiters: FlushWaiter[] = NOTHING_QUEUED;
  /** Made when {@linkcode Connection.closed} is first asked for (rarely before shutdown). */
  #done: PromiseWithResolvers<void> | undefined;
  /** The next read's buffer ({@linkcode nextReadBuffer}). */
  #buffer = new Uint8Array(MIN_READ_BUFFER_BYTES);

  constructor(conn: ConnectionSocket, handler: ConnectionHandler<T>, options: ConnectionOptions = {}) {
    this.#conn = conn;
    this.#handler = handler;
    this.#decoder = new FrameDecoder({ maxFrameBytes: options.maxFrameBytes });
    this.#maxOutboundBytes = options.maxOutboundBytes ?? 4 * 1024 * 1024;
  }

  /** `host:port` of the peer, for logs (made when asked: the socket keeps the address anyway). */
  get remote(): string {
    const addr = this.#conn.remoteAddr as Deno.NetAddr;
    return `${addr.hostname}:${addr.port}`;
  }

  /** Resolves once the connection is closed and `onClose` has run. */
  get closed(): Promise<void> {
    this.#done ??= Promise.withResolvers<void>();
    if (this.#closeReported) this.#done.resolve();
    return this.#done.promise;
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  /** Bytes waiting to be written. */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /** Starts the read loop (once). */
  start(): void {
    this.#readLoop();
  }

  /**
   * Queues one frame (including its `\n`), as text or as UTF-8 bytes (bytes may be shared with other
   * connections: they are only read). Returns `false` only when the connection is closed and has reported
   * its unsent items. A reader so slow that the queue limit is exceeded is disconnected; this item and the
   * rest of the queue then come back as unsent through `onClose` (tagged items only).
   */
  send(data: Outbound, tag?: T): boolean {
    if (this.#finished) return false;
    if (this.#queue === NOTHING_QUEUED) {
      this.#queue = [data];
      this.#queueTags = [tag];
    } else {
      this.#queue.push(data);
      this.#queueTags.push(tag);
    }
    this.#queuedBytes += queuedSize(data);
    this.#sent++;
    if (this.#closed) {
      // Closed while a write is still in flight: the item is reported with the rest, after the
      // in-flight remainder, so the order of what comes back as unsent is the order of sending.
    } else if (this.#queuedBytes > this.#maxOutboundBytes) {
      this.close();
    } else if (!this.#writing) {
      this.#flush();
    }
    return true;
  }

  /** Resolves `true` once everything sent so far reached the socket, `false` if the connection closed first. */
  flushed(): Promise<boolean> {
    if (this.#written >= this.#sent) return Promise.resolve(true);
    if (this.#closed) return Promise.resolve(false);
    const { promise, resolve } = Promise.withResolvers<boolean>();
    const waiter = { target: this.#sent, resolve };
    if (this.#flushWaiters === NOTHING_QUEUED) this.#flushWaiters = [waiter];
    else this.#flushWaiters.push(waiter);
    return promise;
  }

  /** Closes the socket; queued items are reported as unsent. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // Already closed by the peer: nothing left to release.
    }
    // A write in flight reports its own items when it fails; the queue is reported here.
    if (!this.#writing) this.#finish();
  }

  #finish(): void {
    this.#finished = true;
    const unsent = this.#queueTags.filter((tag): tag is T => tag !== undefined);
    this.#queue = NOTHING_QUEUED;
    this.#queueTags = NOTHING_QUEUED;
    this.#queuedBytes = 0;
    const waiters = this.#flushWaiters;
    this.#flushWaiters = NOTHING_QUEUED;
    for (const waiter of waiters) waiter.resolve(false);
    try {
      this.#handler.onClose(this, unsent);
    } finally {
      this.#closeReported = true;
      this.#done?.resolve();
    }
  }

  async #flush(): Promise<void> {
    this.#writing = true;
    while (this.#queue.length > 0 && !this.#closed) {
      const items = this.#queue;
      const tags = this.#queueTags;
      this.#queue = NOTHING_QUEUED;
      this.#queueTags = NOTHING_QUEUED;
      const scratch = borrowScratch();
      const bytes = encodeForWrite(items, scratch);
      let written = 0;
      try {
        while (written < bytes.length) {
          written += await this.#conn.write(written === 0 ? bytes : bytes.subarray(written));
        }
        this.#queuedBytes -= items.reduce((sum, item) => sum + queuedSize(item), 0);
        this.#written += items.length;
        this.#notifyFlushed();
      } catch {
        // Frames that fully reached the socket are delivered; the rest (including one cut in the
        // middle, which the peer cannot parse) go back to the queue to be reported as unsent.
        const delivered = fullyWritten(items, written);
        this.#queue = items.slice(delivered).concat(this.#queue);
        this.#queueTags = tags.slice(delivered).concat(this.#queueTags);
        this.#closed = true;
        try {
          this.#conn.close();
        } catch {
          // Already closed.
        }
      } finally {
        // The write has completed or failed: nothing reads the buffer any more.
        returnScratch(scratch);
      }
    }
    this.#writing = false;
    if (this.#closed) this.#finish();
    else if (this.#closeWhenDrained) this.close();
  }

  /**
   * Reads and hands frames to the handler until the peer or this side ends the connection. An idle connection
   * keeps this function suspended in its pending read, with whatever its locals last held (one slot each, per
   * connection): so it holds only the byte count, and the read's buffer, chunk and frames live in
   * {@linkcode Connection.#handleRead}, which has returned by then. Otherwise the last chunk (a larger buffer
   * than the idle one) and its frames would stay referenced for as long as the connection sits idle.
   */
  async #readLoop(): Promise<void> {
    try {
      while (!this.#closed && !this.#closeWhenDrained) {
        const n = await this.#conn.read(this.#buffer);
        if (n === null) break;
        if (!(await this.#handleRead(n))) return;
      }
    } catch {
      // Reset by peer or closed locally: either way the connection is over.
    }
    // After closeAfterFlush() the writer closes once the last frame is out.
    if (!this.#closeWhenDrained || !this.#writing) this.close();
  }

  /**
   * Hands the frames of the `n` bytes just read to the handler, one at a time (the next waits for the previous
   * one's promise); `false` when the connection stops reading.
   */
  async #handleRead(n: number): Promise<boolean> {
    this.lastReadAt = performance.now();
    const chunk = this.#buffer;
    this.#buffer = nextReadBuffer(chunk, n, this.#decoder.buffered > 0);
    const frames = this.#decoder.push(chunk.subarray(0, n));
    for (const frame of frames) {
      if (frame.kind === "too_large") {
        this.#handler.onFrameTooLarge(this, frame.size);
        this.closeAfterFlush();
        return false;
      }
      const handled = this.#handler.onFrame(this, frameText(frame.bytes));
      if (handled) await handled;
      if (this.#closed || this.#closeWhenDrained) return false;
    }
    return true;
  }

  #notifyFlushed(): void {
    if (this.#flushWaiters.length === 0) return;
    const waiting = this.#flushWaiters.filter((waiter) => {
      if (waiter.target > this.#written) return true;
      waiter.resolve(true);
      return false;
    });
    this.#flushWaiters = waiting.length === 0 ? NOTHING_QUEUED : waiting;
  }

  /** Stops reading and closes once what is queued has been written (used after a final error frame). */
  closeAfterFlush(): void {
    if (this.#closed) return;
    this.#closeWhenDrained = true;
    if (!this.#writing) this.close();
  }
}
