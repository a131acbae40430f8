/**
 * A scripted stand-in for the chat server, for unit tests of the load generator's clients (SoakDevice,
 * LoginStorm, token issuing): the generator is one layer, and what the real server does is what the
 * scenarios themselves measure.
 *
 * @module
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A frame as JSON. */
export type Frame = Record<string, unknown>;
/** The frames to answer `frame` with (each gets its cid). */
export type Answer = (frame: Frame, connection: FakeConnection) => Frame[];

/** One client connection as the fake server sees it. */
export interface FakeConnection {
  /** Writes the frames in one socket write (so the client reads them in one chunk). */
  write(...frames: Frame[]): Promise<void>;
  close(): void;
}

/**
 * A TCP server answering each `\n`-terminated JSON frame with what `answer` returns; records every frame.
 *
 * @example
 * ```ts ignore
 * await using server = new FakeChatServer((frame) => frame.msgid === 1 ? [{ msgid: 2, errno: 0 }] : []);
 * const client = await LoadClient.connect(server.endpoint);
 * ```
 */
export class FakeChatServer implements AsyncDisposable {
  readonly received: Frame[] = [];
  readonly connections: FakeConnection[] = [];
  readonly #listener: Deno.TcpListener;
  readonly #served: Promise<void>[] = [];
  readonly #accepting: Promise<void>;
  answer: Answer;

  constructor(answer: Answer) {
    this.answer = answer;
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#accepting = this.#accept();
  }

  get endpoint() {
    return { hostname: "127.0.0.1", port: this.#listener.addr.port };
  }

  frames(msgid: number): Frame[] {
    return this.received.filter((frame) => frame.msgid === msgid);
  }

  async #accept(): Promise<void> {
    try {
      for await (const conn of this.#listener) this.#served.push(this.#serve(conn));
    } catch {
      // Closed.
    }
  }

  async #serve(conn: Deno.TcpConn): Promise<void> {
    let closed = false;
    const connection: FakeConnection = {
      write: async (...frames) => {
        const text = frames.map((frame) => JSON.stringify(frame) + "\n").join("");
        if (!closed) await conn.write(encoder.encode(text)).catch(() => {});
      },
      close: () => {
        if (closed) return;
        closed = true;
        conn.close();
      },
    };
    this.connections.push(connection);
    const buffer = new Uint8Array(65536);
    let text = "";
    try {
      while (true) {
        const n = await conn.read(buffer);
        if (n === null) break;
        text += decoder.decode(buffer.subarray(0, n), { stream: true });
        let end;
        while ((end = text.indexOf("\n")) >= 0) {
          const frame = JSON.parse(text.slice(0, end));
          text = text.slice(end + 1);
          this.received.push(frame);
          for (const reply of this.answer(frame, connection)) {
            await connection.write({ ...reply, cid: frame.cid });
          }
        }
      }
    } catch {
      // Reset by the client.
    }
    connection.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#listener.close();
    await this.#accepting;
    for (const connection of this.connections) connection.close();
    await Promise.all(this.#served);
  }
}
