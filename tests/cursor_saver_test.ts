/**
 * `CursorSaver`: devices' cursors are saved in batches, only once their frames were flushed, only forward,
 * and a session's last cursors are saved when its login ends, below any frame its connection never wrote.
 */
import assert from "node:assert/strict";
import { oneChatFrame } from "../lib/protocol/encode.ts";
import { CursorSaver } from "../lib/service/cursor_saver.ts";
import { Session } from "../lib/service/session.ts";
import { StoreUnavailableError } from "../lib/store/errors.ts";
import type { CursorUpdate } from "../lib/store/store.ts";
import { RecordingConnection, RecordingLogger } from "./harness/service_fakes.ts";

const sanitized = { sanitizeOps: true, sanitizeResources: true };

const chat = (seq: number, conv = "u:1:7") =>
  oneChatFrame({ conv, seq, id: 1, name: "alice", toid: 7, msg: "m", time: "t", mid: "m", ts: 1 });

/** Records `saveCursors` calls; can fail like an unreachable database. */
class RecordingCursorStore {
  readonly saves: CursorUpdate[][] = [];
  fails = false;
  saveCursors(updates: CursorUpdate[]): Promise<void> {
    if (this.fails) return Promise.reject(new StoreUnavailableError("down"));
    this.saves.push(updates);
    return Promise.resolve();
  }
}

/** A connection whose flush waits until the test says the socket took everything. */
class SlowConnection extends RecordingConnection {
  #flushed = Promise.withResolvers<boolean>();
  override flushed(): Promise<boolean> {
    return this.#flushed.promise;
  }
  drain(ok = true): void {
    this.#flushed.resolve(ok);
    this.#flushed = Promise.withResolvers<boolean>();
  }
}

function loggedIn(connection = new RecordingConnection(), device = "phone"): Session {
  const session = new Session(connection);
  session.version = 2;
  session.bind({ id: 7, name: "bob" }, device);
  session.release();
  return session;
}

Deno.test(
  "CursorSaver.add() coalesces cursors per device and conversation, keeping the highest",
  sanitized,
  async () => {
    const store = new RecordingCursorStore();
    const saver = new CursorSaver(store, new RecordingLogger());
    saver.add([{ userId: 7, device: "phone", conv: "u:1:7", seq: 3 }]);
    saver.add([{ userId: 7, device: "phone", conv: "u:1:7", seq: 2 }]);
    saver.add([{ userId: 7, device: "laptop", conv: "u:1:7", seq: 1 }, {
      userId: 7,
      device: "phone",
      conv: "g:1",
      seq: 9,
    }]);
    await saver.flush();
    saver.stop();
    assert.deepEqual(store.saves, [[
      { userId: 7, device: "phone", conv: "u:1:7", seq: 3 },
      { userId: 7, device: "laptop", conv: "u:1:7", seq: 1 },
      { userId: 7, device: "phone", conv: "g:1", seq: 9 },
    ]]);
    await saver.flush();
    assert.equal(store.saves.length, 1, "nothing new: no call");
    assert.deepEqual(saver.counters, { saves: 1, cursors: 3, failures: 0 });
  },
);

Deno.test(
  "CursorSaver saves a watched session's live cursors only once its connection flushed them",
  sanitized,
  async () => {
    const store = new RecordingCursorStore();
    const saver = new CursorSaver(store, new RecordingLogger());
    const connection = new SlowConnection();
    const session = loggedIn(connection);
    saver.watch(session);
    session.deliver(chat(1));
    session.deliver(chat(2));
    const flushing = saver.flush();
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.deepEqual(store.saves, [], "not before the flush");
    connection.drain();
    await flushing;
    assert.deepEqual(store.saves, [[{ userId: 7, device: "phone", conv: "u:1:7", seq: 2 }]]);
    saver.stop();
  },
);

Deno.test(
  "CursorSaver saves nothing for frames whose connection closed before they were flushed",
  sanitized,
  async () => {
    const store = new RecordingCursorStore();
    const saver = new CursorSaver(store, new RecordingLogger());
    const connection = new SlowConnection();
    const session = loggedIn(connection);
    saver.watch(session);
    session.deliver(chat(1));
    const flushing = saver.flush();
    connection.drain(false);
    await flushing;
    assert.deepEqual(store.saves, []);
    saver.stop();
  },
);

Deno.test("CursorSaver saves on its own timer while sessions are watched", sanitized, async () => {
  const store = new RecordingCursorStore();
  const saver = new CursorSaver(store, new RecordingLogger(), 5);
  const session = loggedIn();
  saver.watch(session);
  session.deliver(chat(4));
  while (store.saves.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.deepEqual(store.saves, [[{ userId: 7, device: "phone", conv: "u:1:7", seq: 4 }]]);
  await saver.finish(session);
  saver.stop();
});

Deno.test(
  "CursorSaver.finish() saves what the session handed, below the first frame its connection gave back",
  sanitized,
  async () => {
    const store = new RecordingCursorStore();
    const saver = new CursorSaver(store, new RecordingLogger());
    const connection = new RecordingConnection();
    const session = loggedIn(connection);
    saver.watch(session);
    for (const frame of [chat(1), chat(2), chat(3), chat(8, "g:4")]) session.deliver(frame);
    connection.close();
    // The connection wrote 1 but not 2 and 3: the device's cursor stays at 1, so 2 and 3 come at its next login.
    await saver.finish(session, [{ userId: 7, frame: chat(2) }, { userId: 7, frame: chat(3) }]);
    assert.deepEqual(store.saves, [[
      { userId: 7, device: "phone", conv: "u:1:7", seq: 1 },
      { userId: 7, device: "phone", conv: "g:4", seq: 8 },
    ]]);
    saver.stop();
  },
);

Deno.test("CursorSaver.finish() of a session that was never bound saves nothing", sanitized, async () => {
  const store = new RecordingCursorStore();
  const saver = new CursorSaver(store, new RecordingLogger());
  await saver.finish(new Session(new RecordingConnection()));
  assert.deepEqual(store.saves, []);
});

Deno.test(
  "a failed save is logged and counted, never thrown; the next move is saved again",
  sanitized,
  async () => {
    const store = new RecordingCursorStore();
    const log = new RecordingLogger();
    const saver = new CursorSaver(store, log);
    const session = loggedIn();
    saver.watch(session);
    store.fails = true;
    session.deliver(chat(1));
    await saver.flush();
    store.fails = false;
    session.deliver(chat(2));
    await saver.flush();
    saver.stop();
    assert.deepEqual(store.saves, [[{ userId: 7, device: "phone", conv: "u:1:7", seq: 2 }]]);
    assert.deepEqual(saver.counters, { saves: 1, cursors: 1, failures: 1 });
    assert.equal(log.problems().length, 1);
    assert.match(log.problems()[0], /^warn saving delivery cursors failed/);
  },
);

Deno.test("the cursors a login starts a session at are saved with the next batch", sanitized, async () => {
  const store = new RecordingCursorStore();
  const saver = new CursorSaver(store, new RecordingLogger());
  const session = new Session(new RecordingConnection());
  session.bind({ id: 7, name: "bob" }, "phone");
  session.cursors.start("u:1:7", 6);
  session.release();
  saver.watch(session);
  await saver.flush();
  saver.stop();
  assert.deepEqual(store.saves, [[{ userId: 7, device: "phone", conv: "u:1:7", seq: 6 }]]);
});

Deno.test(
  "CursorSaver lets go of a session with nothing to save, and watches it again once it is handed a message",
  sanitized,
  async () => {
    const store = new RecordingCursorStore();
    const saver = new CursorSaver(store, new RecordingLogger());
    const session = loggedIn();
    session.onMoved = saver.watch;
    let looks = 0;
    const takeHanded = session.takeHanded.bind(session);
    session.takeHanded = () => {
      looks++;
      return takeHanded();
    };
    saver.watch(session);
    session.deliver(chat(1));
    await saver.flush();
    assert.equal(looks, 1);
    await saver.flush();
    assert.equal(looks, 2, "looked at once more: nothing moved, so it is let go");
    await saver.flush();
    assert.equal(looks, 2, "an idle session is not visited");
    session.deliver(chat(2));
    await saver.flush();
    assert.equal(looks, 3);
    assert.deepEqual(store.saves, [
      [{ userId: 7, device: "phone", conv: "u:1:7", seq: 1 }],
      [{ userId: 7, device: "phone", conv: "u:1:7", seq: 2 }],
    ]);
    saver.stop();
  },
);

Deno.test(
  "a hole skipped over (Session.skipTo) makes the saver watch the session again",
  sanitized,
  async () => {
    const store = new RecordingCursorStore();
    const saver = new CursorSaver(store, new RecordingLogger());
    const session = loggedIn();
    session.onMoved = saver.watch;
    session.deliver(chat(1));
    session.deliver(chat(3));
    await saver.flush();
    await saver.flush();
    session.skipTo("u:1:7", 3);
    await saver.flush();
    saver.stop();
    assert.deepEqual(store.saves, [
      [{ userId: 7, device: "phone", conv: "u:1:7", seq: 1 }],
      [{ userId: 7, device: "phone", conv: "u:1:7", seq: 3 }],
    ]);
  },
);
