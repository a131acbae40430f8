/**
 * Live delivery to devices (DESIGN.md "Delivery without loss", steps 2–4), driven directly: `Delivery` and
 * real `Session`s on fake connections, a bus that records what is published. Nothing here stores anything:
 * the store is the truth, and a device that misses a live frame gets it past its cursor at its next login.
 */
import assert from "node:assert/strict";
import type { BusMessage } from "../lib/bus/bus.ts";
import { groupChatFrame, line, oneChatFrame, presenceFrame } from "../lib/protocol/encode.ts";
import { Delivery } from "../lib/service/delivery.ts";
import { DEFAULT_DEVICE, Session } from "../lib/service/session.ts";
import { SessionRegistry } from "../lib/service/session_registry.ts";
import { RecordingConnection } from "./harness/service_fakes.ts";

/** A one-to-one chat frame from user 1 to user 7, as the store keeps it. */
const chat = (seq: number, msg = `m${seq}`, conv = "u:1:7") =>
  oneChatFrame({ conv, seq, id: 1, name: "alice", toid: 7, msg, time: "t", mid: `m${seq}`, ts: 1 });
const PRESENCE = presenceFrame(1, true);
const RECEIPT = JSON.stringify({ msgid: 19, conv: "u:1:7", id: 1, seq: 3 });

/** Records publishes; `closed` makes it reject as a closed bus does (shutdown). */
class RecordingBroker {
  readonly published: BusMessage[] = [];
  closed = false;

  publish(message: BusMessage): Promise<void> {
    if (this.closed) return Promise.reject(new Error("bus closed"));
    this.published.push(message);
    return Promise.resolve();
  }
}

/** One node: its sessions, its delivery and the bus it publishes on. */
function node() {
  const sessions = new SessionRegistry<Session>({ maxPerUser: 5 });
  const bus = new RecordingBroker();
  const delivery = new Delivery({ sessions, bus });
  /** A session of `userId`'s `device` here: bound and, unless `holding`, past its login. */
  const login = (userId: number, options: { version?: 1 | 2; device?: string; holding?: boolean } = {}) => {
    const connection = new RecordingConnection();
    const session = new Session(connection);
    session.version = options.version ?? 2;
    session.bind({ id: userId, name: `user${userId}` }, options.device ?? DEFAULT_DEVICE);
    if (!options.holding) session.release();
    sessions.add(userId, session);
    return { session, connection };
  };
  return { sessions, bus, delivery, login };
}

Deno.test("Delivery.toUser() writes to every device of the user here and publishes for other nodes", async () => {
  const { delivery, login, bus } = node();
  const phone = login(7, { device: "phone" });
  const laptop = login(7, { device: "laptop" });
  await delivery.toUser(7, chat(1));
  assert.deepEqual(phone.connection.sent, [line(chat(1))]);
  assert.deepEqual(laptop.connection.sent, [line(chat(1))]);
  assert.deepEqual(bus.published.map((message) => [message.userId, message.frame]), [[7, chat(1)]]);
  assert.equal(delivery.counters.live, 2);
});

Deno.test("Delivery.toUser() skips the `except` session: the sender's copy goes to its other devices only", async () => {
  const { delivery, login } = node();
  const sender = login(1, { device: "phone" });
  const other = login(1, { device: "laptop" });
  await delivery.toUser(1, chat(4), sender.session);
  assert.deepEqual(sender.connection.sent, []);
  assert.deepEqual(other.connection.sent, [line(chat(4))]);
});

Deno.test("Delivery.toUser() to a user with no device anywhere resolves and stores nothing", async () => {
  const { delivery, bus } = node();
  await delivery.toUser(7, chat(1));
  assert.equal(bus.published.length, 1);
  assert.equal(delivery.counters.live, 0);
});

Deno.test("Delivery.toUser() and toUsers() on a closed bus (shutdown) still write here and never reject", async () => {
  const { delivery, login, bus } = node();
  const here = login(7);
  bus.closed = true;
  await delivery.toUser(7, chat(1));
  await delivery.toUsers([7], chat(2));
  assert.deepEqual(here.connection.sent, [chat(1), chat(2)].map(line));
});

Deno.test("Delivery.toUsers() encodes a group frame once and writes it to every member's devices", async () => {
  const { delivery, login, bus } = node();
  const frame = groupChatFrame({
    conv: "g:1",
    seq: 1,
    id: 9,
    name: "carol",
    groupid: 1,
    msg: "群 😀",
    time: "t",
    mid: "m",
    ts: 1,
  });
  const a = login(2, { device: "a" });
  const b = login(2, { device: "b" });
  const c = login(3);
  await delivery.toUsers([2, 3, 4], frame);
  for (const member of [a, b, c]) assert.deepEqual(member.connection.sent, [line(frame)]);
  assert.deepEqual(bus.published.map((message) => message.userId), [2, 3, 4]);
});

Deno.test("Delivery.onBusMessage() writes a frame from another node to the user's devices here", () => {
  const { delivery, login } = node();
  const phone = login(7, { device: "phone" });
  const laptop = login(7, { device: "laptop" });
  delivery.onBusMessage({ userId: 7, frame: chat(1) });
  delivery.onBusMessage({ userId: 8, frame: chat(2) });
  assert.deepEqual(phone.connection.sent, [line(chat(1))]);
  assert.deepEqual(laptop.connection.sent, [line(chat(1))]);
});

Deno.test("a v1 session gets chat frames only: no PRESENCE, RECEIPT or other v2 frames", async () => {
  const { delivery, login } = node();
  const v1 = login(7, { version: 1 });
  const v2 = login(7, { version: 2, device: "v2" });
  const group = groupChatFrame({
    conv: "g:1",
    seq: 1,
    id: 1,
    name: "a",
    groupid: 1,
    msg: "g",
    time: "t",
    mid: "m",
    ts: 1,
  });
  for (const frame of [PRESENCE, chat(1), RECEIPT, group]) await delivery.toUser(7, frame);
  assert.deepEqual(v1.connection.sent, [chat(1), group].map(line));
  assert.deepEqual(v2.connection.sent, [PRESENCE, chat(1), RECEIPT, group].map(line));
});

Deno.test("a chat frame whose seq the device was already handed is dropped, per conversation", async () => {
  const { delivery, login } = node();
  const device = login(7);
  for (const frame of [chat(1), chat(2), chat(2), chat(1), chat(1, "x", "u:2:7"), chat(3)]) {
    await delivery.toUser(7, frame);
  }
  assert.deepEqual(device.connection.sent, [chat(1), chat(2), chat(1, "x", "u:2:7"), chat(3)].map(line));
  assert.deepEqual(new Map(device.session.handed()), new Map([["u:1:7", 3], ["u:2:7", 1]]));
});

Deno.test("a session that is logging in holds live frames, then drops those its offline hand-over sent", async () => {
  const { delivery, login } = node();
  const device = login(7, { holding: true });
  await delivery.toUser(7, chat(2));
  await delivery.toUser(7, chat(3));
  assert.deepEqual(device.connection.sent, []);
  // The login's hand-over read messages 1 and 2 from the store (2 also arrived live meanwhile).
  device.session.sendOffline(chat(1));
  device.session.sendOffline(chat(2));
  device.session.cursors.start("u:1:7", 2);
  device.session.release();
  await delivery.toUser(7, chat(4));
  assert.deepEqual(device.connection.sent, [chat(1), chat(2), chat(3), chat(4)].map(line));
});

Deno.test("the sender's own message moves its device's cursor without being written to it", async () => {
  const { delivery, login } = node();
  const sender = login(1, { device: "phone" });
  await delivery.toUser(1, chat(1));
  await delivery.toUser(1, chat(2), sender.session);
  await delivery.toUser(1, chat(3));
  assert.deepEqual(sender.connection.sent, [chat(1), chat(3)].map(line));
  assert.deepEqual(new Map(sender.session.handed()), new Map([["u:1:7", 3]]));
});

Deno.test("a frame past a hole is written, the cursor waits below the hole, and the hole is reported once", async () => {
  const { delivery, login } = node();
  const device = login(7);
  const holes: string[] = [];
  device.session.onHole = (_session, conv) => holes.push(conv);
  for (const seq of [1, 3, 4]) await delivery.toUser(7, chat(seq));
  assert.deepEqual(device.connection.sent, [chat(1), chat(3), chat(4)].map(line));
  assert.deepEqual(new Map(device.session.handed()), new Map([["u:1:7", 1]]));
  assert.deepEqual(device.session.cursors.hole("u:1:7"), { after: 1, upTo: 4 });
  assert.deepEqual(
    holes,
    ["u:1:7", "u:1:7"],
    "reported with each frame while open (the filler keeps one per hole)",
  );
  // The overtaken frame arrives: written, and the cursor moves over everything.
  await delivery.toUser(7, chat(2));
  await delivery.toUser(7, chat(3));
  assert.deepEqual(device.connection.sent.slice(3), [line(chat(2))]);
  assert.deepEqual(new Map(device.session.handed()), new Map([["u:1:7", 4]]));
  assert.equal(device.session.cursors.hole("u:1:7"), undefined);
});

Deno.test("Session.fill() writes a missing message from someone else, and counts the user's own as handed", () => {
  const { login } = node();
  const device = login(7);
  device.session.cursors.start("u:1:7", 1);
  device.session.deliver(chat(4));
  device.session.fill({ conv: "u:1:7", seq: 2, senderId: 1, frame: chat(2) });
  device.session.fill({ conv: "u:1:7", seq: 3, senderId: 7, frame: chat(3) });
  device.session.fill({ conv: "u:1:7", seq: 4, senderId: 1, frame: chat(4) });
  assert.deepEqual(device.connection.sent, [chat(4), chat(2)].map(line));
  assert.deepEqual(new Map(device.session.handed()), new Map([["u:1:7", 4]]));
});

Deno.test("Session.takeHanded() reports moves once, then nothing until the next move", async () => {
  const { delivery, login } = node();
  const device = login(7);
  assert.equal(device.session.takeHanded(), undefined);
  await delivery.toUser(7, chat(1));
  await delivery.toUser(7, chat(2));
  assert.deepEqual(device.session.takeHanded(), new Map([["u:1:7", 2]]));
  assert.equal(device.session.takeHanded(), undefined);
  await delivery.toUser(7, chat(2));
  assert.equal(device.session.takeHanded(), undefined, "a dropped duplicate moves nothing");
});

Deno.test("a chat frame is tagged with its user for the connection, so an unsent one comes back", async () => {
  const { delivery, login } = node();
  const device = login(7);
  await delivery.toUser(7, chat(1));
  await delivery.toUser(7, PRESENCE);
  assert.deepEqual(device.connection.tags, [{ userId: 7, frame: chat(1) }, undefined]);
});

Deno.test("an unbound or closed session takes nothing, and its held frames are dropped", async () => {
  const { delivery, login } = node();
  const closed = login(7, { device: "closed" });
  closed.connection.close();
  const leaving = login(7, { device: "leaving", holding: true });
  await delivery.toUser(7, chat(1));
  leaving.session.unbind();
  leaving.session.release();
  assert.deepEqual(closed.connection.sent, []);
  assert.deepEqual(leaving.connection.sent, []);
  assert.equal(delivery.counters.live, 1, "only the held frame was taken");
  assert.equal(leaving.session.deliver(chat(2)), false);
});
