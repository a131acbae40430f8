/**
 * `DeviceCursors` and `GapFiller`: a device's cursor only moves over runs without holes, and a hole that
 * stays open is filled from the store (a frame the best-effort bus lost reaches the device late, not never).
 */
import assert from "node:assert/strict";
import { groupChatFrame, oneChatFrame } from "../lib/protocol/encode.ts";
import { DeviceCursors, MAX_ABOVE } from "../lib/service/device_cursor.ts";
import { GapFiller } from "../lib/service/gap_filler.ts";
import { Session } from "../lib/service/session.ts";
import { StoreUnavailableError } from "../lib/store/errors.ts";
import type { DeviceCursor, StoredMessage } from "../lib/store/store.ts";
import { RecordingConnection, RecordingLogger } from "./harness/service_fakes.ts";

const sanitized = { sanitizeOps: true, sanitizeResources: true };

const chat = (seq: number, from = 1) =>
  oneChatFrame({
    conv: "u:1:7",
    seq,
    id: from,
    name: "x",
    toid: 7,
    msg: `m${seq}`,
    time: "t",
    mid: "m",
    ts: 1,
  });
const stored = (seq: number, from = 1): StoredMessage => ({
  conv: "u:1:7",
  seq,
  senderId: from,
  mid: "m",
  ts: 1,
  frame: chat(seq, from),
});

Deno.test("DeviceCursors: a new conversation starts below its first frame; duplicates are refused", () => {
  const cursors = new DeviceCursors();
  assert.equal(cursors.take("g:1", 40), true);
  assert.equal(cursors.take("g:1", 40), false);
  assert.equal(cursors.take("g:1", 39), false, "below where the device started in this session");
  assert.deepEqual(cursors.cursors(), new Map([["g:1", 40]]));
});

Deno.test("DeviceCursors: start() never moves a cursor back, and closes a hole it covers", () => {
  const cursors = new DeviceCursors();
  cursors.start("u:1:7", 5);
  cursors.start("u:1:7", 3);
  assert.deepEqual(cursors.cursors(), new Map([["u:1:7", 5]]));
  cursors.take("u:1:7", 8);
  cursors.take("u:1:7", 9);
  cursors.start("u:1:7", 7);
  assert.deepEqual(cursors.cursors(), new Map([["u:1:7", 9]]));
  assert.equal(cursors.hole("u:1:7"), undefined);
});

Deno.test("DeviceCursors: takeMoved() reports each change once", () => {
  const cursors = new DeviceCursors();
  assert.equal(cursors.takeMoved(), undefined);
  cursors.take("u:1:7", 1);
  assert.deepEqual(cursors.takeMoved(), new Map([["u:1:7", 1]]));
  assert.equal(cursors.takeMoved(), undefined);
  cursors.take("u:1:7", 1);
  assert.equal(cursors.takeMoved(), undefined, "a refused duplicate changes nothing");
});

Deno.test("DeviceCursors: a hole that grows past MAX_ABOVE seqs is given up (the cursor jumps)", () => {
  const cursors = new DeviceCursors();
  cursors.start("u:1:7", 1);
  for (let seq = 3; seq <= MAX_ABOVE + 3; seq++) cursors.take("u:1:7", seq);
  assert.deepEqual(cursors.cursors(), new Map([["u:1:7", MAX_ABOVE + 3]]));
  assert.equal(cursors.hole("u:1:7"), undefined);
});

/** A session of user 7 past its login, with the gap filler wired as the login does. */
function device(gaps: GapFiller) {
  const connection = new RecordingConnection();
  const session = new Session(connection);
  session.version = 2;
  session.bind({ id: 7, name: "bob" }, "phone");
  session.cursors.start("u:1:7", 1);
  session.onHole = gaps.report;
  session.release();
  return { session, connection };
}

/**
 * `messagesAfter` over a list, recording its calls; can fail like an unreachable database. `deviceCursors`
 * answers the stored cursors given as `floors` (for a group, never below the seq the user joined at).
 */
class MessagesStore {
  readonly calls: string[] = [];
  fails = false;
  floors = new Map<string, number>();
  constructor(readonly messages: StoredMessage[]) {}

  deviceCursors(_userId: number, _device: string): Promise<Map<string, DeviceCursor>> {
    return Promise.resolve(
      new Map([...this.floors].map(([conv, cursor]) => [conv, { cursor, lastSeq: cursor }])),
    );
  }

  messagesAfter(conv: string, after: number, limit: number, upTo = Infinity): Promise<StoredMessage[]> {
    this.calls.push(`${conv} ${after} ${limit} ${upTo}`);
    if (this.fails) return Promise.reject(new StoreUnavailableError("down"));
    return Promise.resolve(
      this.messages.filter((m) => m.conv === conv && m.seq > after && m.seq <= upTo).slice(0, limit),
    );
  }
}

Deno.test(
  "GapFiller: a hole still open after the wait is read from the store and handed",
  sanitized,
  async () => {
    const store = new MessagesStore([stored(1), stored(2), stored(3, 7), stored(4), stored(5)]);
    const gaps = new GapFiller(store, new RecordingLogger(), 5);
    const { session, connection } = device(gaps);
    session.deliver(chat(4));
    session.deliver(chat(5));
    while (session.cursors.hole("u:1:7")) await new Promise((resolve) => setTimeout(resolve, 5));
    assert.deepEqual(connection.frames().map((frame) => frame.seq), [4, 5, 2], "3 is bob's own: not written");
    assert.deepEqual(new Map(session.handed()), new Map([["u:1:7", 5]]));
    assert.deepEqual(
      store.calls,
      ["u:1:7 1 500 5"],
      "one read for the hole, however many frames reported it",
    );
    assert.deepEqual(gaps.counters, { fills: 1, filled: 4, failures: 0 });
  },
);

Deno.test("GapFiller: a hole the late frame closes before the wait needs no read", sanitized, async () => {
  const store = new MessagesStore([]);
  const gaps = new GapFiller(store, new RecordingLogger(), 5);
  const { session } = device(gaps);
  session.deliver(chat(3));
  session.deliver(chat(2));
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.deepEqual(store.calls, []);
  assert.deepEqual(new Map(session.handed()), new Map([["u:1:7", 3]]));
});

Deno.test(
  "GapFiller: messages the store no longer has (retention) are skipped, so the cursor moves on",
  sanitized,
  async () => {
    const store = new MessagesStore([stored(4)]);
    const gaps = new GapFiller(store, new RecordingLogger());
    const { session } = device(gaps);
    session.deliver(chat(4));
    await gaps.fill(session, "u:1:7");
    gaps.stop();
    assert.deepEqual(new Map(session.handed()), new Map([["u:1:7", 4]]));
  },
);

Deno.test("GapFiller: a failed read is logged and leaves the cursor below the hole", sanitized, async () => {
  const store = new MessagesStore([stored(2), stored(3)]);
  store.fails = true;
  const log = new RecordingLogger();
  const gaps = new GapFiller(store, log);
  const { session } = device(gaps);
  session.deliver(chat(3));
  await gaps.fill(session, "u:1:7");
  gaps.stop();
  assert.deepEqual(new Map(session.handed()), new Map([["u:1:7", 1]]));
  assert.equal(gaps.counters.failures, 1);
  assert.match(log.problems()[0], /^warn filling a delivery gap failed/);
});

Deno.test("GapFiller: a session that logged out meanwhile gets nothing", sanitized, async () => {
  const store = new MessagesStore([stored(2), stored(3)]);
  const gaps = new GapFiller(store, new RecordingLogger());
  const { session, connection } = device(gaps);
  session.deliver(chat(3));
  session.unbind();
  await gaps.fill(session, "u:1:7");
  gaps.forget(session);
  assert.deepEqual(store.calls, []);
  assert.equal(connection.sent.length, 1);
});

Deno.test(
  "GapFiller.fillAll() fills every open hole of a session at once (a logout does not wait)",
  sanitized,
  async () => {
    const store = new MessagesStore([stored(2), stored(3)]);
    const gaps = new GapFiller(store, new RecordingLogger());
    const { session, connection } = device(gaps);
    session.deliver(chat(3));
    assert.deepEqual(session.cursors.holes(), ["u:1:7"]);
    await gaps.fillAll(session);
    assert.deepEqual(connection.frames().map((frame) => frame.seq), [3, 2]);
    assert.deepEqual(session.cursors.holes(), []);
    assert.deepEqual(new Map(session.handed()), new Map([["u:1:7", 3]]));
  },
);

Deno.test("DeviceCursors.takeMoved() names only the conversations whose cursor moved", () => {
  const cursors = new DeviceCursors();
  cursors.start("u:1:7", 3);
  cursors.start("g:2", 9);
  cursors.takeMoved();
  cursors.take("g:2", 10);
  cursors.take("u:1:7", 5);
  assert.deepEqual(cursors.takeMoved(), new Map([["g:2", 10]]), "5 is past a hole: u:1:7 did not move");
  cursors.take("u:1:7", 4);
  assert.deepEqual(cursors.takeMoved(), new Map([["u:1:7", 5]]));
});

Deno.test("DeviceCursors.changed() names what moved in the session; a start at the stored cursor is not a change", () => {
  const cursors = new DeviceCursors();
  cursors.start("u:1:7", 5, 5);
  cursors.start("g:2", 9, 4);
  assert.deepEqual(cursors.changed(), new Map([["g:2", 9]]));
  assert.deepEqual(cursors.takeMoved(), new Map([["g:2", 9]]));
  cursors.take("u:1:7", 6);
  cursors.takeMoved();
  assert.deepEqual(
    cursors.changed(),
    new Map([["g:2", 9], ["u:1:7", 6]]),
    "taking moved ones does not forget them",
  );
});

Deno.test("GapFiller: a group hole never reaches back before the user (re)joined", sanitized, async () => {
  const group = (seq: number): StoredMessage => ({
    conv: "g:3",
    seq,
    senderId: 1,
    mid: "m",
    ts: 1,
    frame: groupChatFrame({
      conv: "g:3",
      seq,
      id: 1,
      name: "x",
      groupid: 3,
      msg: `g${seq}`,
      time: "t",
      mid: "m",
      ts: 1,
    }),
  });
  // Bob was handed up to 2, left, and joined again at 5: 3 and 4 were said while he was away.
  const store = new MessagesStore([2, 3, 4, 5, 6, 7].map(group));
  store.floors.set("g:3", 5);
  const gaps = new GapFiller(store, new RecordingLogger());
  const { session, connection } = device(gaps);
  session.cursors.start("g:3", 2);
  session.deliver(group(7).frame);
  await gaps.fill(session, "g:3");
  gaps.stop();
  assert.deepEqual(connection.frames().map((frame) => frame.seq), [7, 6]);
  assert.deepEqual(store.calls, ["g:3 5 500 7"]);
  assert.deepEqual(session.cursors.holes(), []);
});
