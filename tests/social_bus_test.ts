/**
 * Friend and group changes while a backing service half fails: the change is made and acknowledged, and
 * only the best-effort part (a presence, a group event) is lost, with a warning in the log.
 */
import assert from "node:assert/strict";
import { LocalBus } from "../lib/bus/local_bus.ts";
import { MsgId } from "../lib/protocol/msg_id.ts";
import { ChatService } from "../lib/service/chat_service.ts";
import { hashPassword } from "../lib/service/password.ts";
import { SqliteStore } from "../lib/store/sqlite_store.ts";
import type { Store } from "../lib/store/store.ts";
import { RecordingConnection, RecordingLogger } from "./harness/service_fakes.ts";

const sanitized = { sanitizeOps: true, sanitizeResources: true };

/** A `LocalBus` whose `onlineUsers` fails, as ioredis does while Redis is down, once `down` is set. */
class FlakyBus extends LocalBus {
  down = false;

  override onlineUsers(ids: number[]) {
    if (this.down) return Promise.reject(new Error("Stream isn't writeable"));
    return super.onlineUsers(ids);
  }
}

/** One node in process with two users logged in over v2: `send` answers with the frames it caused. */
async function setup(store: Store, bus: FlakyBus, log: RecordingLogger) {
  const service = new ChatService({ store, bus, log });
  const users = await Promise.all(["ann", "bob"].map(async (name) => {
    const id = await store.createUser(name, await hashPassword("pw"));
    const connection = new RecordingConnection();
    service.onOpen(connection);
    await service.onFrame(connection, JSON.stringify({ msgid: 1, v: 2, id, password: "pw" }));
    assert.equal(connection.frames()[0].errno, 0);
    connection.sent.length = 0;
    return { id, connection };
  }));
  const send = async (user: { connection: RecordingConnection }, frame: Record<string, unknown>) => {
    await service.onFrame(user.connection, JSON.stringify({ v: 2, ...frame }));
    return user.connection.frames().find((reply) => reply.msgid === MsgId.ACK)!;
  };
  return { service, users, send };
}

Deno.test(
  "FRIEND_REPLY accept while the bus cannot tell presence: friends, acknowledged, the answerer's PRESENCE of the requester lost with a warning",
  sanitized,
  async () => {
    await using store = SqliteStore.open(":memory:");
    await store.migrate();
    const bus = new FlakyBus("n1");
    const log = new RecordingLogger();
    const { service, users: [ann, bob], send } = await setup(store, bus, log);
    assert.equal((await send(ann, { msgid: MsgId.FRIEND_REQUEST, friendid: bob.id })).errno, 0);
    bus.down = true;
    bob.connection.sent.length = 0;
    const ack = await send(bob, { msgid: MsgId.FRIEND_REPLY, id: ann.id, accept: true });
    assert.deepEqual([ack.errno, ack.accept], [0, true]);
    assert.deepEqual(bob.connection.frames().filter((frame) => frame.msgid === MsgId.PRESENCE), []);
    assert.deepEqual(ann.connection.frames().filter((frame) => frame.msgid === MsgId.PRESENCE), [
      { msgid: MsgId.PRESENCE, id: bob.id, state: "online" },
    ]);
    assert.deepEqual((await store.listFriends(bob.id)).map((friend) => friend.id), [ann.id]);
    assert.deepEqual(log.problems().map((line) => line.split(" {")[0]), [
      "warn presence of a new friend unknown",
    ]);
    bus.down = false;
    await service.endAllLogins();
    await bus.close();
  },
);

Deno.test(
  "ADD_GROUP while the bus cannot tell presence: joined, the ACK's group shows everyone offline, with a warning",
  sanitized,
  async () => {
    await using store = SqliteStore.open(":memory:");
    await store.migrate();
    const bus = new FlakyBus("n1");
    const log = new RecordingLogger();
    const { service, users: [ann, bob], send } = await setup(store, bus, log);
    const groupid = (await send(ann, { msgid: MsgId.CREATE_GROUP, groupname: "g" })).groupid as number;
    bus.down = true;
    const ack = await send(bob, { msgid: MsgId.ADD_GROUP, groupid });
    assert.deepEqual(ack.users, [
      { id: ann.id, name: "ann", state: "offline", role: "creator" },
      { id: bob.id, name: "bob", state: "offline", role: "normal" },
    ]);
    assert.deepEqual(log.problems().map((line) => line.split(" {")[0]), [
      "warn presence of group members unknown",
    ]);
    bus.down = false;
    await service.endAllLogins();
    await bus.close();
  },
);

Deno.test(
  "KICK when the members cannot be read for the event: kicked and acknowledged, the event lost with a warning",
  sanitized,
  async () => {
    await using sqlite = SqliteStore.open(":memory:");
    await sqlite.migrate();
    let failMembers = false;
    // The store fails only the read of the members to tell.
    const store = new Proxy(sqlite, {
      get(target, key, receiver) {
        if (key === "listGroupMemberIds" && failMembers) return () => Promise.reject(new Error("gone"));
        const value = Reflect.get(target, key, receiver);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const bus = new FlakyBus("n1");
    const log = new RecordingLogger();
    const { service, users: [ann, bob], send } = await setup(store, bus, log);
    const groupid = (await send(ann, { msgid: MsgId.CREATE_GROUP, groupname: "g" })).groupid as number;
    await send(bob, { msgid: MsgId.ADD_GROUP, groupid });
    bob.connection.sent.length = 0;
    failMembers = true;
    assert.equal((await send(ann, { msgid: MsgId.KICK, groupid, userid: bob.id })).errno, 0);
    failMembers = false;
    assert.deepEqual(bob.connection.frames(), [], "no event");
    assert.deepEqual(await sqlite.listGroupMemberIds(groupid), [ann.id]);
    assert.deepEqual(log.problems().map((line) => line.split(" {")[0]), ["warn group event not sent"]);
    await service.endAllLogins();
    await bus.close();
  },
);
