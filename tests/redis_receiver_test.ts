/**
 * The bus's Receiver when Redis never answers a sharded SSUBSCRIBE or SUNSUBSCRIBE (ioredis's sharded
 * subscriber connections have no command timeout): the subscribe rejects, the unsubscribe resolves and is
 * retried later, and neither waits longer than the reply timeout. A fake connection stands in for Redis.
 */
import assert from "node:assert/strict";
import type { BusMessage } from "../lib/bus/bus.ts";
import type { RedisClient } from "../lib/bus/redis_connection.ts";
import { Receiver } from "../lib/bus/redis_receiver.ts";
import { userChannel } from "../lib/bus/redis_wire.ts";
import { RecordingLogger } from "./harness/service_fakes.ts";

const TOKEN = crypto.randomUUID();

/** A subscriber connection whose (un)subscribe replies never come; it records what was sent. */
function silentSubscriber(): { sub: RedisClient; sent: string[] } {
  const sent: string[] = [];
  const never = (command: string) => (channel: string) => {
    sent.push(`${command} ${channel}`);
    return new Promise<never>(() => {});
  };
  const fake = { status: "ready", ssubscribe: never("ssubscribe"), sunsubscribe: never("sunsubscribe") };
  return { sub: fake as unknown as RedisClient, sent };
}

function receiverOn(sub: RedisClient): { receiver: Receiver; messages: BusMessage[] } {
  const messages: BusMessage[] = [];
  const receiver = new Receiver({
    sub,
    token: TOKEN,
    keyPrefix: "chat:",
    counters: { published: 0, publishFailures: 0, received: 0 },
    log: new RecordingLogger(),
    sharded: true,
    replyTimeoutMs: 50,
  });
  receiver.setHandler({ onMessage: (message) => messages.push(message) });
  return { receiver, messages };
}

Deno.test("Receiver: an SSUBSCRIBE Redis never answers rejects after the reply timeout, and frames for it are dropped", async () => {
  const { sub, sent } = silentSubscriber();
  const { receiver, messages } = receiverOn(sub);
  await assert.rejects(receiver.subscribe(7), /no reply from Redis within 50 ms/);
  assert.deepEqual(sent.slice(0, 1), [`ssubscribe ${userChannel("chat:", 7)}`]);
  // Not subscribed as far as the node knows: a frame that still comes is not handed on.
  receiver.onMessage(userChannel("chat:", 7), `${crypto.randomUUID()}{"msgid":6}`);
  assert.deepEqual(messages, []);
});

Deno.test("Receiver: an SUNSUBSCRIBE Redis never answers resolves after the reply timeout and is sent again later", async () => {
  const { sub, sent } = silentSubscriber();
  const { receiver } = receiverOn(sub);
  const started = performance.now();
  // Resolves, never rejects: a logout that awaits it goes on to release the device.
  await receiver.unsubscribe(7);
  assert.ok(performance.now() - started < 2000, "bounded by the reply timeout");
  await receiver.retryUnsubscribes();
  assert.deepEqual(sent, [
    `sunsubscribe ${userChannel("chat:", 7)}`,
    `sunsubscribe ${userChannel("chat:", 7)}`,
  ]);
});
