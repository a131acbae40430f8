/**
 * A chat message is acknowledged once it is stored, without waiting for the bus to take the live frames
 * (a slow or hung Redis delays nobody's ACK; live delivery is best effort and the store has the message).
 */
import assert from "node:assert/strict";
import { LocalBus } from "../lib/bus/local_bus.ts";
import type { BusMessage } from "../lib/bus/bus.ts";
import { groupConv } from "../lib/conversation_name.ts";
import { MsgId } from "../lib/protocol/msg_id.ts";
import { ChatService } from "../lib/service/chat_service.ts";
import { hashPassword } from "../lib/service/password.ts";
import { SqliteStore } from "../lib/store/sqlite_store.ts";
import { RecordingConnection, RecordingLogger } from "./harness/service_fakes.ts";

const sanitized = { sanitizeOps: true, sanitizeResources: true };

/** A `LocalBus` whose publishes wait until `release()`. */
class SlowBus extends LocalBus {
  readonly held: BusMessage[] = [];
  #gate = Promise.withResolvers<void>();

  override async publish(message: BusMessage): Promise<void> {
    this.held.push(message);
    await this.#gate.promise;
    return await super.publish(message);
  }

  release(): void {
    this.#gate.resolve();
  }
}

Deno.test(
  "ONE_CHAT and GROUP_CHAT are acknowledged while the bus still holds their publishes",
  sanitized,
  async () => {
    await using store = SqliteStore.open(":memory:");
    await store.migrate();
    const alice = await store.createUser("alice", await hashPassword("pw"));
    const bob = await store.createUser("bob", await hashPassword("pw"));
    const group = await store.createGroup(alice, "g", "");
    await store.addGroupMember(group, bob);
    const bus = new SlowBus("n1");
    const service = new ChatService({ store, bus, log: new RecordingLogger() });
    const connection = new RecordingConnection();
    service.onOpen(connection);
    await service.onFrame(
      connection,
      JSON.stringify({ msgid: MsgId.LOGIN, v: 2, id: alice, password: "pw", device: "phone", cid: 1 }),
    );
    assert.equal(connection.frames()[0].errno, 0, JSON.stringify(connection.frames()));

    await service.onFrame(
      connection,
      JSON.stringify({ msgid: MsgId.ONE_CHAT, v: 2, cid: 2, id: alice, name: "alice", toid: bob, msg: "hi" }),
    );
    await service.onFrame(
      connection,
      JSON.stringify({
        msgid: MsgId.GROUP_CHAT,
        v: 2,
        cid: 3,
        id: alice,
        name: "alice",
        groupid: group,
        msg: "all",
      }),
    );
    const acks = connection.frames().filter((frame) => frame.cid === 2 || frame.cid === 3);
    assert.deepEqual(acks.map((ack) => [ack.cid, ack.errno, ack.seq]), [[2, 0, 1], [3, 0, 1]]);
    assert.equal(acks[1].conv, groupConv(group));
    assert.deepEqual(
      bus.held.map((message) => message.userId).sort(),
      [alice, alice, bob, bob].sort(),
      "published for bob's devices and alice's other ones, not yet taken",
    );
    assert.equal(bus.counters.published, 0);

    bus.release();
    await service.endAllLogins();
    assert.equal(bus.counters.published, 4);
    await bus.close();
  },
);
