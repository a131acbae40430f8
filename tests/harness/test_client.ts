/**
 * A raw TCP client for tests: sends frames or arbitrary bytes and reads the server's `\n`-terminated
 * frames, keeping those a test has not asked for yet.
 */

/** A decoded server frame. */
export type Reply = Record<string, unknown> & { msgid: number };

const encoder = new TextEncoder();

/**
 * Reads `conn` until it ends or fails, calling `onLine` with each `\n`-terminated line (without the `\n`);
 * an incomplete last line is dropped. A throwing `onLine` ends the reading too.
 */
export async function readLines(conn: Deno.Conn, onLine: (line: string) => void): Promise<void> {
  const decoder = new TextDecoder();
  const buffer = new Uint8Array(64 * 1024);
  let text = "";
  try {
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) break;
      text += decoder.decode(buffer.subarray(0, n), { stream: true });
      let newline;
      while ((newline = text.indexOf("\n")) >= 0) {
        onLine(text.slice(0, newline));
        text = text.slice(newline + 1);
      }
    }
  } catch {
    // Reset by the peer or closed locally: either way the reading is over.
  }
}

/**
 * Reads a raw connection until the server closes it (or it fails) and returns the complete frames it got:
 * what reached a client that was not reading, once the server gave up on it.
 */
export async function readUntilClosed(conn: Deno.Conn): Promise<Reply[]> {
  const frames: Reply[] = [];
  await readLines(conn, (line) => frames.push(JSON.parse(line)));
  conn.close();
  return frames;
}

export class TestClient implements AsyncDisposable {
  readonly #conn: Deno.TcpConn;
  readonly #frames: Reply[] = [];
  #waiters: { match: (frame: Reply) => boolean; resolve: (frame: Reply) => void }[] = [];
  #closedResolvers = Promise.withResolvers<void>();
  #closed = false;
  #nextCid = 1;

  private constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
    this.#read();
  }

  static async connect(port: number, hostname = "127.0.0.1"): Promise<TestClient> {
    return new TestClient(await Deno.connect({ hostname, port }));
  }

  /** Resolves when the server closed the connection. */
  get closed(): Promise<void> {
    return this.#closedResolvers.promise;
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  /** Frames received and not yet taken. */
  get pending(): readonly Reply[] {
    return this.#frames;
  }

  async #read(): Promise<void> {
    await readLines(this.#conn, (line) => this.#accept(JSON.parse(line)));
    this.close(); // the server is done: let go of our end too, or a test leaks it
    this.#closedResolvers.resolve();
  }

  #accept(frame: Reply): void {
    const index = this.#waiters.findIndex((waiter) => waiter.match(frame));
    if (index >= 0) {
      const [waiter] = this.#waiters.splice(index, 1);
      waiter.resolve(frame);
    } else {
      this.#frames.push(frame);
    }
  }

  /** Sends an object as one `\n`-terminated frame, or a string / bytes exactly as given. */
  async send(frame: Record<string, unknown> | string | Uint8Array): Promise<void> {
    const bytes = frame instanceof Uint8Array
      ? frame
      : encoder.encode(typeof frame === "string" ? frame : JSON.stringify(frame) + "\n");
    for (let written = 0; written < bytes.length;) written += await this.#conn.write(bytes.subarray(written));
  }

  /** The next frame matching `match` (already received or still to come). */
  next(match: (frame: Reply) => boolean = () => true, timeoutMs = 5000): Promise<Reply> {
    const index = this.#frames.findIndex(match);
    if (index >= 0) return Promise.resolve(this.#frames.splice(index, 1)[0]);
    const { promise, resolve, reject } = Promise.withResolvers<Reply>();
    const waiter = { match, resolve };
    this.#waiters.push(waiter);
    const timer = setTimeout(() => {
      this.#waiters = this.#waiters.filter((w) => w !== waiter);
      reject(new Error(`no matching frame within ${timeoutMs} ms; pending: ${JSON.stringify(this.#frames)}`));
    }, timeoutMs);
    return promise.finally(() => clearTimeout(timer));
  }

  /** The next frame with this msgid. */
  nextOf(msgid: number, timeoutMs?: number): Promise<Reply> {
    return this.next((frame) => frame.msgid === msgid, timeoutMs);
  }

  /** Sends a v2 request with a fresh cid and waits for the reply carrying that cid. */
  async request(frame: Record<string, unknown>, timeoutMs?: number): Promise<Reply> {
    const cid = this.#nextCid++;
    await this.send({ ...frame, v: 2, cid });
    return this.next((reply) => reply.cid === cid, timeoutMs);
  }

  /** Asserts that no frame arrives within `ms` (beyond those already pending). */
  async quiet(ms = 200): Promise<Reply[]> {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return this.#frames.splice(0);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // Already closed by the server.
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await this.closed;
  }
}
