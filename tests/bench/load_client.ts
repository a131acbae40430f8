/**
 * The load generator's TCP client: as cheap per frame as we can make it, so that the generator (which shares
 * the two cores with the server) is not what a benchmark measures.
 *
 * - A manual `conn.read()` loop into one buffer per connection; frames are split in place (a byte loop, no
 *   decoding) and handed to a raw handler as `(bytes, start, end)`: the hot paths read the msgid and a few
 *   bytes and never build a string or an object.
 * - Outgoing frames are pre-encoded by the caller; writes issued while one is in flight are coalesced.
 * - Setup traffic (REG, LOGIN, group admin) goes through {@linkcode LoadClient.request}, which parses JSON.
 *
 * Framing: `newline` splits at `\n` (what our server writes); `json` finds where each top-level object closes,
 * which also reads the C++ original, whose frames have no terminator at all.
 *
 * @module
 */

/** A frame as parsed on the slow (setup) path. */
export type Reply = Record<string, unknown> & { msgid: number };

/** Called for every frame on the fast path; `bytes` is only valid during the call. */
export type RawFrameHandler = (bytes: Uint8Array, start: number, end: number) => void;

/** Options for {@linkcode LoadClient.connect}. */
export interface LoadClientOptions {
  /** `newline` for our server's `\n`-terminated frames, `json` to find object boundaries (v1, C++ original). */
  framing?: "newline" | "json";
  /** Initial read buffer; grows for larger frames (default 16 KiB). */
  bufferBytes?: number;
  /** Protocol level: v2 requests carry `"v":2` and a cid and end with `\n`; v1 ones end with NUL. */
  v1?: boolean;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

const NEWLINE = 0x0a;
const NUL = 0x00;
const SPACE = 0x20;
const OPEN = 0x7b;
const CLOSE = 0x7d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
/** `"msgid":` */
const MSGID_KEY = encoder.encode('"msgid":');

/**
 * The integer msgid of the frame in `bytes[start, end)`, without decoding: `{"msgid":N` at the front (our
 * server) or `"msgid":N` anywhere (nlohmann::json sorts keys). -1 when absent.
 */
export function msgidAt(bytes: Uint8Array, start: number, end: number): number {
  let at = -1;
  if (
    bytes[start + 1] === QUOTE && bytes[start + 2] === 0x6d /* m */ && bytes[start + 6] === 0x64 /* d */ &&
    bytes[start + 7] === QUOTE && bytes[start + 8] === 0x3a /* : */
  ) {
    at = start + 9;
  } else {
    outer: for (let i = start; i + MSGID_KEY.length < end; i++) {
      for (let k = 0; k < MSGID_KEY.length; k++) if (bytes[i + k] !== MSGID_KEY[k]) continue outer;
      at = i + MSGID_KEY.length;
      break;
    }
    if (at < 0) return -1;
  }
  while (bytes[at] === SPACE) at++;
  let n = 0;
  let digits = 0;
  for (; at < end; at++, digits++) {
    const d = bytes[at] - 48;
    if (d < 0 || d > 9) break;
    n = n * 10 + d;
  }
  return digits === 0 ? -1 : n;
}

/** Whether the frame in `bytes[start, end)` contains `"errno":0` (a success ACK). Cheap byte search. */
export function hasErrnoZero(bytes: Uint8Array, start: number, end: number): boolean {
  const key = ERRNO_ZERO;
  outer: for (let i = start; i + key.length <= end; i++) {
    for (let k = 0; k < key.length; k++) if (bytes[i + k] !== key[k]) continue outer;
    const next = bytes[i + key.length];
    return next === 0x2c /* , */ || next === CLOSE;
  }
  return false;
}
const ERRNO_ZERO = encoder.encode('"errno":0');

/**
 * A raw TCP client for load generation.
 *
 * @example
 * ```ts ignore
 * const client = await LoadClient.connect({ hostname: "127.0.0.1", port });
 * const ack = await client.request({ msgid: 1, id, password }, (r) => r.msgid === 2);
 * client.onRawFrame = (bytes, start, end) => { if (msgidAt(bytes, start, end) === 6) count++; };
 * client.send(preEncodedFrame);
 * ```
 */
export class LoadClient {
  /** The fast path; when unset, frames are parsed and offered to {@linkcode LoadClient.request} waiters. */
  onRawFrame: RawFrameHandler | undefined;
  /** Called once when the connection ends, for whatever reason. */
  onClose: (() => void) | undefined;
  /** The error that ended the connection, if any. */
  error: unknown;
  /** Frames parsed on the slow path that no waiter took (kept for inspection; bounded). */
  readonly unclaimed: Reply[] = [];

  readonly #conn: Deno.Conn;
  readonly #json: boolean;
  readonly #v1: boolean;
  #buf: Uint8Array;
  #len = 0;
  #writing = false;
  #pending: Uint8Array[] = [];
  #closing = false;
  #closed = false;
  #done = Promise.withResolvers<void>();
  #waiters: { match: (reply: Reply) => boolean; resolve: (reply: Reply) => void }[] = [];
  #cid = 0;

  private constructor(conn: Deno.Conn, options: LoadClientOptions) {
    this.#conn = conn;
    this.#json = (options.framing ?? (options.v1 ? "json" : "newline")) === "json";
    this.#v1 = options.v1 ?? false;
    this.#buf = new Uint8Array(options.bufferBytes ?? 16 * 1024);
    this.#readLoop();
  }

  /** Connects over TLS when `address` has `caCerts` (the server's CA), in plain text otherwise. */
  static async connect(
    address: { hostname: string; port: number; caCerts?: string[] },
    options: LoadClientOptions = {},
  ): Promise<LoadClient> {
    const conn = await Deno.connect({ hostname: address.hostname, port: address.port, transport: "tcp" });
    conn.setNoDelay(true);
    if (!address.caCerts) return new LoadClient(conn, options);
    // A TlsConn has no setNoDelay in Deno 2.9.6: start TLS on a socket that has it already.
    const tls = await Deno.startTls(conn, { hostname: address.hostname, caCerts: address.caCerts });
    await tls.handshake();
    return new LoadClient(tls, options);
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  /** Resolves when the connection has ended. */
  get closed(): Promise<void> {
    return this.#done.promise;
  }

  /** Writes pre-encoded bytes; writes issued while one is in flight go out together in the next one. */
  send(bytes: Uint8Array): void {
    if (this.#closed) return;
    if (this.#writing) this.#pending.push(bytes);
    else this.#write(bytes);
  }

  /** Encodes a request at this client's protocol level (v2: `"v":2` and a cid, `\n`; v1: NUL-terminated). */
  encode(frame: Record<string, unknown>, cid?: number): Uint8Array {
    if (this.#v1) return encoder.encode(JSON.stringify(frame) + "\0");
    return encoder.encode(JSON.stringify({ ...frame, v: 2, cid: cid ?? ++this.#cid }) + "\n");
  }

  /**
   * Sends `frame` and resolves with the first reply that `match` accepts (at v2, by default the one echoing
   * the request's cid). Rejects after `timeoutMs` or when the connection ends first.
   */
  request(
    frame: Record<string, unknown>,
    match?: (reply: Reply) => boolean,
    timeoutMs = 30_000,
  ): Promise<Reply> {
    const cid = ++this.#cid;
    const accept = match ?? ((reply: Reply) => reply.cid === cid);
    const promise = this.next(accept, timeoutMs);
    this.send(this.encode(frame, cid));
    return promise;
  }

  /** The next frame (slow path) that `match` accepts, including one already received and unclaimed. */
  next(match: (reply: Reply) => boolean, timeoutMs = 30_000): Promise<Reply> {
    const index = this.unclaimed.findIndex(match);
    if (index >= 0) return Promise.resolve(this.unclaimed.splice(index, 1)[0]);
    if (this.#closed) return Promise.reject(new Error("connection closed", { cause: this.error }));
    const { promise, resolve, reject } = Promise.withResolvers<Reply>();
    const waiter = { match, resolve };
    this.#waiters.push(waiter);
    const timer = setTimeout(() => {
      this.#waiters = this.#waiters.filter((w) => w !== waiter);
      reject(new Error(`no reply within ${timeoutMs} ms`));
    }, timeoutMs);
    this.closed.then(() => {
      if (!this.#waiters.includes(waiter)) return;
      this.#waiters = this.#waiters.filter((w) => w !== waiter);
      reject(new Error("connection closed before the reply", { cause: this.error }));
    });
    return promise.finally(() => clearTimeout(timer));
  }

  /**
   * Half-closes: the server reads end of input and closes, and whatever it wrote before is still read here
   * ({@linkcode LoadClient.closed} resolves at its close). Call it with no write in flight.
   */
  closeWrite(): void {
    if (this.#closing) return;
    try {
      this.#conn.closeWrite();
    } catch {
      // Already closed by the peer: the read loop ends by itself.
    }
  }

  /** Closes the socket. Idempotent. */
  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    try {
      this.#conn.close();
    } catch {
      // Already closed by the peer.
    }
  }

  async #write(bytes: Uint8Array): Promise<void> {
    this.#writing = true;
    let chunk = bytes;
    try {
      while (true) {
        let offset = 0;
        while (offset < chunk.length) {
          offset += await this.#conn.write(offset === 0 ? chunk : chunk.subarray(offset));
        }
        if (this.#pending.length === 0) break;
        chunk = concat(this.#pending);
        this.#pending = [];
      }
    } catch (error) {
      if (!this.#closing) this.error ??= error;
      this.close();
    }
    this.#writing = false;
  }

  async #readLoop(): Promise<void> {
    try {
      while (true) {
        if (this.#len === this.#buf.length) {
          const grown = new Uint8Array(this.#buf.length * 2);
          grown.set(this.#buf);
          this.#buf = grown;
        }
        const n = await this.#conn.read(this.#len === 0 ? this.#buf : this.#buf.subarray(this.#len));
        if (n === null) break;
        this.#len += n;
        const consumed = this.#json ? this.#scanJson() : this.#scanLines();
        if (consumed === this.#len) this.#len = 0;
        else if (consumed > 0) {
          this.#buf.copyWithin(0, consumed, this.#len);
          this.#len -= consumed;
        }
      }
    } catch (error) {
      if (!this.#closing) this.error ??= error;
    }
    this.#closed = true;
    this.#closing = true;
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
    this.#done.resolve();
    this.onClose?.();
  }

  /** Dispatches every complete `\n`-terminated frame; returns the bytes consumed. */
  #scanLines(): number {
    const buf = this.#buf;
    const len = this.#len;
    let start = 0;
    for (let i = 0; i < len; i++) {
      if (buf[i] !== NEWLINE) continue;
      if (i > start) this.#dispatch(buf, start, i);
      start = i + 1;
    }
    return start;
  }

  /** Dispatches every complete top-level JSON object; returns the bytes consumed. */
  #scanJson(): number {
    const buf = this.#buf;
    const len = this.#len;
    let consumed = 0;
    let i = 0;
    while (i < len) {
      const first = buf[i];
      if (first === NEWLINE || first === NUL || first === SPACE || first === 0x0d || first === 0x09) {
        consumed = ++i;
        continue;
      }
      const start = i;
      if (first !== OPEN) {
        // Not an object: up to the next terminator, as the server would treat it.
        while (i < len && buf[i] !== NEWLINE && buf[i] !== NUL) i++;
        if (i === len) return consumed;
        this.#dispatch(buf, start, i);
        consumed = i;
        continue;
      }
      let depth = 0;
      let inString = false;
      let escaped = false;
      let end = -1;
      for (; i < len; i++) {
        const byte = buf[i];
        if (inString) {
          if (escaped) escaped = false;
          else if (byte === BACKSLASH) escaped = true;
          else if (byte === QUOTE) inString = false;
        } else if (byte === QUOTE) inString = true;
        else if (byte === OPEN) depth++;
        else if (byte === CLOSE && --depth === 0) {
          end = i + 1;
          break;
        }
      }
      if (end < 0) return consumed;
      this.#dispatch(buf, start, end);
      consumed = i = end;
    }
    return consumed;
  }

  #dispatch(buf: Uint8Array, start: number, end: number): void {
    const raw = this.onRawFrame;
    if (raw) return raw(buf, start, end);
    let reply: Reply;
    try {
      reply = JSON.parse(decoder.decode(buf.subarray(start, end)));
    } catch {
      return;
    }
    const index = this.#waiters.findIndex((waiter) => waiter.match(reply));
    if (index >= 0) this.#waiters.splice(index, 1)[0].resolve(reply);
    else if (this.unclaimed.length < 1000) this.unclaimed.push(reply);
  }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  let length = 0;
  for (const chunk of chunks) length += chunk.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}
