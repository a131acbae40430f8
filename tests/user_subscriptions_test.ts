/** `UserSubscriptions`: one bus subscription per user on a node, shared by the user's devices there. */
import assert from "node:assert/strict";
import { UserSubscriptions } from "../lib/service/user_subscriptions.ts";

/** Records subscribe/unsubscribe calls in order; a subscribe can be held open or fail. */
class RecordingBroker {
  readonly calls: string[] = [];
  failNext = false;
  gate: Promise<void> | undefined;
  async subscribe(userId: number): Promise<void> {
    this.calls.push(`subscribe ${userId}`);
    await this.gate;
    if (this.failNext) {
      this.failNext = false;
      throw new Error("bus unreachable");
    }
    this.calls.push(`subscribed ${userId}`);
  }
  unsubscribe(userId: number): Promise<void> {
    this.calls.push(`unsubscribe ${userId}`);
    return Promise.resolve();
  }
}

Deno.test("the first device subscribes, the last one unsubscribes, the ones between do nothing", async () => {
  const broker = new RecordingBroker();
  const subscriptions = new UserSubscriptions(broker);
  await subscriptions.acquire(7);
  await subscriptions.acquire(7);
  await subscriptions.acquire(8);
  await subscriptions.release(7);
  assert.deepEqual(broker.calls, ["subscribe 7", "subscribed 7", "subscribe 8", "subscribed 8"]);
  await subscriptions.release(7);
  await subscriptions.release(8);
  assert.deepEqual(broker.calls.slice(4), ["unsubscribe 7", "unsubscribe 8"]);
});

Deno.test("a second device waits for the first one's subscribe to finish", async () => {
  const broker = new RecordingBroker();
  const gate = Promise.withResolvers<void>();
  broker.gate = gate.promise;
  const subscriptions = new UserSubscriptions(broker);
  const first = subscriptions.acquire(7);
  let secondDone = false;
  const second = subscriptions.acquire(7).then(() => secondDone = true);
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(secondDone, false);
  gate.resolve();
  await Promise.all([first, second]);
  assert.deepEqual(broker.calls, ["subscribe 7", "subscribed 7"]);
});

Deno.test("an unsubscribe never overtakes the subscribe of a device that arrives meanwhile", async () => {
  const broker = new RecordingBroker();
  const subscriptions = new UserSubscriptions(broker);
  await subscriptions.acquire(7);
  const leaving = subscriptions.release(7);
  const arriving = subscriptions.acquire(7);
  await Promise.all([leaving, arriving]);
  assert.deepEqual(broker.calls, [
    "subscribe 7",
    "subscribed 7",
    "unsubscribe 7",
    "subscribe 7",
    "subscribed 7",
  ]);
});

Deno.test("a failed subscribe rejects acquire; release afterwards still resolves and a later login subscribes", async () => {
  const broker = new RecordingBroker();
  const subscriptions = new UserSubscriptions(broker);
  broker.failNext = true;
  await assert.rejects(subscriptions.acquire(7), /bus unreachable/);
  await subscriptions.release(7);
  await subscriptions.acquire(7);
  assert.deepEqual(broker.calls, ["subscribe 7", "unsubscribe 7", "subscribe 7", "subscribed 7"]);
});
