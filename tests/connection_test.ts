/** Connection's output queue against a fake socket whose writes the test completes by hand. */
import assert from "node:assert/strict";
import { Connection, type ConnectionHandler, type ConnectionSocket } from "../lib/net/connection.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A socket whose reads never return and whose writes wait for the test. */
class FakeConn implements ConnectionSocket {
  readonly remoteAddr: Deno.NetAddr = { transport: "tcp", hostname: "127.0.0.1", port: 1 };
  readonly writes: { bytes: Uint8Array; done: PromiseWithResolvers<number> }[] = [];
  readonly #closed = Promise.withResolvers<null>();
  closed = false;

  read(_buffer: Uint8Array): Promise<number | null> {
    return this.#closed.promise;
  }

  write(bytes: Uint8Array): Promise<number> {
    const done = Promise.withResolvers<number>();
    this.writes.push({ bytes: bytes.slice(), done });
    return done.promise;
  }

  close(): void {
    this.closed = true;
    this.#closed.resolve(null);
  }
}

function open(options: { maxOutboundBytes?: number } = {}) {
  const fake = new FakeConn();
  const unsent: string[][] = [];
  const handler: ConnectionHandler<string> = {
    onFrame: () => {},
    onFrameTooLarge: () => {},
    onClose: (_connection, tags) => unsent.push(tags),
  };
  const connection = new Connection<string>(fake, handler, options);
  connection.start();
  return { fake, connection, unsent };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

/** These tests own timers and connections: nothing may outlive a case. */
const sanitized = { sanitizeOps: true, sanitizeResources: true };

Deno.test(
  "Connection coalesces text and shared bytes queued during a write into one write, in order",
  sanitized,
  async () => {
    const { fake, connection } = open();
    const shared = encoder.encode('{"msgid":10,"msg":"群 😀"}\n');
    connection.send('{"first":1}\n');
    connection.send(shared, "g1");
    connection.send('{"text":"é"}\n');
    connection.send(shared, "g2");
    assert.equal(fake.writes.length, 1, "one write in flight");
    fake.writes[0].done.resolve(fake.writes[0].bytes.length);
    await tick();
    assert.equal(fake.writes.length, 2);
    assert.equal(
      decoder.decode(fake.writes[1].bytes),
      '{"msgid":10,"msg":"群 😀"}\n{"text":"é"}\n{"msgid":10,"msg":"群 😀"}\n',
    );
    assert.deepEqual(
      [...shared],
      [...encoder.encode('{"msgid":10,"msg":"群 😀"}\n')],
      "shared bytes untouched",
    );
    fake.writes[1].done.resolve(fake.writes[1].bytes.length);
    assert.equal(await connection.flushed(), true);
    connection.close();
  },
);

Deno.test(
  "Connection reports the items a failed write did not finish, bytes and text, in order",
  sanitized,
  async () => {
    const { fake, connection, unsent } = open();
    const shared = encoder.encode('{"msg":"😀😀"}\n');
    connection.send("{}\n", "first");
    connection.send(shared, "bytes-1");
    connection.send('{"msg":"é"}\n', "text-2");
    connection.send(shared, "bytes-3");
    fake.writes[0].done.resolve(3);
    await tick();
    // The second write reaches the socket up to the middle of "text-2", then the peer is gone.
    const cut = shared.length + 4;
    fake.writes[1].done.resolve(cut);
    await tick();
    fake.writes[2].done.reject(new Deno.errors.ConnectionReset("gone"));
    await connection.closed;
    assert.deepEqual(unsent, [["text-2", "bytes-3"]]);
  },
);

Deno.test(
  "Connection closes a reader over the outbound limit and reports every queued item",
  sanitized,
  async () => {
    const { fake, connection, unsent } = open({ maxOutboundBytes: 64 });
    const shared = encoder.encode(`{"msg":"${"x".repeat(30)}"}\n`);
    assert.equal(connection.send(shared, "a"), true);
    assert.equal(connection.send(shared, "b"), true);
    assert.equal(connection.send(shared, "c"), true, "accepted, then the connection closes");
    assert.equal(connection.isClosed, true);
    fake.writes[0].done.reject(new Deno.errors.BadResource("closed"));
    await connection.closed;
    assert.deepEqual(unsent, [["a", "b", "c"]]);
    assert.equal(connection.send(shared, "d"), false, "nothing is accepted after onClose");
  },
);

Deno.test(
  "Connection.closed resolves after onClose whether it was asked for before or after the close",
  sanitized,
  async () => {
    const before = open();
    const waiting = before.connection.closed;
    let settled = false;
    waiting.then(() => settled = true);
    await tick();
    assert.equal(settled, false, "still open");
    before.connection.close();
    await waiting;
    assert.deepEqual(before.unsent, [[]], "onClose ran first");
    const after = open();
    after.connection.close();
    await after.connection.closed;
    assert.deepEqual(after.unsent, [[]]);
  },
);

Deno.test(
  "Connection queues again after its queue was written, and reports the peer as host:port",
  sanitized,
  async () => {
    const { fake, connection, unsent } = open();
    assert.equal(connection.remote, "127.0.0.1:1");
    connection.send("a\n", "a");
    fake.writes[0].done.resolve(fake.writes[0].bytes.length);
    assert.equal(await connection.flushed(), true);
    connection.send("b\n", "b");
    connection.send("c\n", "c");
    const flushed = connection.flushed();
    assert.equal(decoder.decode(fake.writes[1].bytes), "b\n");
    connection.close();
    fake.writes[1].done.reject(new Deno.errors.BadResource("closed"));
    assert.equal(await flushed, false);
    await connection.closed;
    assert.deepEqual(unsent, [["b", "c"]]);
  },
);

/** A socket that serves `chunks` to successive reads (as much of each as the buffer takes) and records the buffer sizes. */
class ScriptedConn implements ConnectionSocket {
  readonly remoteAddr: Deno.NetAddr = { transport: "tcp", hostname: "127.0.0.1", port: 1 };
  readonly bufferSizes: number[] = [];
  readonly #pending: Uint8Array[];
  readonly #closed = Promise.withResolvers<null>();

  constructor(chunks: string[]) {
    this.#pending = chunks.map((chunk) => encoder.encode(chunk));
  }

  read(buffer: Uint8Array): Promise<number | null> {
    this.bufferSizes.push(buffer.length);
    const next = this.#pending[0];
    if (!next) return this.#closed.promise;
    const n = Math.min(next.length, buffer.length);
    buffer.set(next.subarray(0, n));
    if (n === next.length) this.#pending.shift();
    else this.#pending[0] = next.subarray(n);
    return Promise.resolve(n);
  }

  write(bytes: Uint8Array): Promise<number> {
    return Promise.resolve(bytes.length);
  }

  close(): void {
    this.#closed.resolve(null);
  }
}

Deno.test(
  "Connection reads into 64 bytes while idle, grows for a frame that fills them and falls back after a small frame, not after a frame's tail",
  sanitized,
  async () => {
    const chat = `{"msgid":6,"v":2,"cid":1,"toid":2,"msg":"${
      "x".repeat(32)
    }","time":"2026-01-01 00:00:00"}\n`;
    const ping = '{"msgid":30,"v":2}\n';
    // Each string is what the peer has sent by the time of one read.
    const fake = new ScriptedConn([chat, chat, ping]);
    const frames: (string | null)[] = [];
    const connection = new Connection(fake, {
      onFrame: (_connection, text) => void frames.push(text),
      onFrameTooLarge: () => {},
      onClose: () => {},
    });
    connection.start();
    await tick();
    assert.deepEqual(frames, [chat.trim(), chat.trim(), ping.trim()]);
    // 64 bytes of the first chat, its tail in 256 (no fall back: the tail ends an earlier frame), the second chat
    // whole, the PING (small: back to 64 for the next, pending read).
    assert.deepEqual(fake.bufferSizes, [64, 256, 256, 256, 64]);
    connection.close();
    await connection.closed;
  },
);
