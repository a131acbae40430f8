import assert from "node:assert/strict";
import { NetworkTurns, openLoopback } from "../lib/service/network_turns.ts";

/** A connection pair on 127.0.0.1 whose `reader` has a read pending. */
async function pendingRead() {
  const { writer, reader } = await openLoopback();
  const buffer = new Uint8Array(16);
  const read = reader.read(buffer);
  return { writer, reader, read, [Symbol.dispose]: () => [writer, reader].forEach((end) => end.close()) };
}

Deno.test("NetworkTurns runs a callback after the network reads that were ready, all queued ones in one turn", async () => {
  using turns = new NetworkTurns();
  using pair = await pendingRead();
  const order: string[] = [];
  pair.read.then(() => order.push("read"));
  await pair.writer.write(new Uint8Array([1]));
  const done = Promise.withResolvers<void>();
  turns.schedule(() => order.push("first"));
  turns.schedule(() => {
    order.push("second");
    done.resolve();
  });
  await done.promise;
  assert.deepEqual(order, ["read", "first", "second"]);
  assert.equal(turns.fellBack, false);
  // A later turn, on the same loopback connection.
  await new Promise<void>((resolve) => turns.schedule(resolve));
});

Deno.test("NetworkTurns falls back to timers when the loopback connection cannot be opened, losing no callback", async () => {
  const told: unknown[] = [];
  using turns = new NetworkTurns(
    () => Promise.reject(new Deno.errors.PermissionDenied("no net")),
    (error) => told.push(error),
  );
  const ran: number[] = [];
  await new Promise<void>((resolve) => {
    turns.schedule(() => ran.push(1));
    turns.schedule(() => {
      ran.push(2);
      resolve();
    });
  });
  assert.equal(turns.fellBack, true);
  await new Promise<void>((resolve) => turns.schedule(resolve));
  assert.deepEqual(ran, [1, 2]);
  assert.equal(told.length, 1, "the fallback is told once, however many callbacks waited or came after");
  assert.ok(told[0] instanceof Deno.errors.PermissionDenied);
});

Deno.test("NetworkTurns.close() closes the loopback connection and still runs what was queued", async () => {
  const turns = new NetworkTurns();
  await new Promise<void>((resolve) => turns.schedule(resolve));
  const ran = Promise.withResolvers<void>();
  turns.schedule(ran.resolve);
  turns.close();
  await ran.promise;
  await new Promise<void>((resolve) => turns.schedule(resolve));
  // Let the close of the pair and the cancelled read settle before the resource sanitizer looks.
  await new Promise((resolve) => setTimeout(resolve, 10));
});
