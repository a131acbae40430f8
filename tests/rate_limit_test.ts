/**
 * The per-connection rate limit shapes: a sender faster than the limit is slowed (its frames wait for a token,
 * and TCP back-pressure slows it), and no frame is refused or dropped, on v1 or v2. Errno 10 stays for failed
 * logins (protocol_suite.ts). Every message of a burst is stored (group commit) before it is delivered, with
 * seqs 1..n in the order sent.
 */
import assert from "node:assert/strict";
import { startTestNode } from "./harness/chat_node.ts";
import type { Reply, TestClient } from "./harness/test_client.ts";
import { member, v1Login } from "./protocol_suite.ts";
import { takeToken, TokenBucket } from "../lib/service/token_bucket.ts";

/** A low limit, so that a burst of 5,000 is shaped: 2,000 pass at once, the rest at 2,000/s. */
const RATE = 1000;
const BURST_FRAMES = 5000;
const encoder = new TextEncoder();

async function rateLimitedCount(metricsPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith("chat_rate_limited_total"));
  return Number(line?.split(" ")[1] ?? 0);
}

/** `count` frames, all in one write, as a paste or a script would send them. */
function burst(count: number, frame: (i: number) => Record<string, unknown>, terminator: string): Uint8Array {
  let text = "";
  for (let i = 0; i < count; i++) text += JSON.stringify(frame(i)) + terminator;
  return encoder.encode(text);
}

async function collect(
  client: TestClient,
  count: number,
  match: (frame: Reply) => boolean,
): Promise<Reply[]> {
  const frames: Reply[] = [];
  while (frames.length < count) frames.push(await client.next(match, 15_000));
  return frames;
}

Deno.test("rate limit: a v1 burst of 5,000 ONE_CHAT frames is delivered whole and in order", async () => {
  await using node = await startTestNode({ rateLimit: RATE, metricsPort: 0 });
  const bob = await member(node.port);
  const alice = await member(node.port);
  alice.client.close();
  const [sender, login] = await v1Login(node.port, alice.id, alice.password);
  assert.equal(login.errno, 0);
  await sender.send(
    burst(BURST_FRAMES, (i) => ({ msgid: 6, id: alice.id, from: "alice", toid: bob.id, msg: `m${i}` }), "\0"),
  );
  const received = await collect(bob.client, BURST_FRAMES, (frame) => frame.msgid === 6);
  assert.deepEqual(
    received.map((frame) => frame.msg),
    Array.from({ length: BURST_FRAMES }, (_, i) => `m${i}`),
  );
  assert.deepEqual(received.map((frame) => frame.seq), Array.from({ length: BURST_FRAMES }, (_, i) => i + 1));
  assert.deepEqual(sender.pending.filter((frame) => frame.msgid === 12), [], "no ERROR frame");
  assert.ok(await rateLimitedCount(node.metricsPort!) > 0, "the burst was shaped, so the limit was reached");
  sender.close();
  bob.client.close();
});

Deno.test("rate limit: a v2 burst is delivered whole and in order, every frame ACKed with errno 0", async () => {
  await using node = await startTestNode({ rateLimit: RATE, metricsPort: 0 });
  const bob = await member(node.port);
  const alice = await member(node.port);
  await alice.client.send(
    burst(BURST_FRAMES, (i) => ({ msgid: 6, v: 2, cid: 1000 + i, toid: bob.id, msg: `m${i}` }), "\n"),
  );
  const acks = await collect(alice.client, BURST_FRAMES, (frame) => frame.msgid === 11);
  assert.deepEqual(acks.map((ack) => ack.cid), Array.from({ length: BURST_FRAMES }, (_, i) => 1000 + i));
  assert.deepEqual(acks.filter((ack) => ack.errno !== 0), [], "every frame accepted");
  const received = await collect(bob.client, BURST_FRAMES, (frame) => frame.msgid === 6);
  assert.deepEqual(received.map((frame) => frame.mid), acks.map((ack) => ack.mid));
  assert.deepEqual(acks.map((ack) => ack.seq), Array.from({ length: BURST_FRAMES }, (_, i) => i + 1));
  assert.deepEqual(received.map((frame) => frame.seq), acks.map((ack) => ack.seq));
  assert.ok(await rateLimitedCount(node.metricsPort!) > 0, "the burst was shaped, so the limit was reached");
  alice.client.close();
  bob.client.close();
});

Deno.test("rate limit: a flooding connection does not hold up other clients", async () => {
  await using node = await startTestNode({ rateLimit: 100 });
  const flooder = await member(node.port);
  const other = await member(node.port);
  // 2,000 frames at 100/s after a burst of 200: the flooder is slowed for about 18 s.
  await flooder.client.send(burst(2000, (i) => ({ msgid: 13, v: 2, cid: i }), "\n"));
  await flooder.client.next((frame) => frame.cid === 199);
  assert.equal((await other.client.request({ msgid: 13 })).msgid, 14, "other clients are served");
  assert.equal(flooder.client.isClosed, false, "the flooder is slowed, not cut off");
  flooder.client.close();
  other.client.close();
});

Deno.test("TokenBucket.take() gives the burst at once, then refills at the rate", () => {
  const bucket = new TokenBucket(10, 2, 0);
  assert.equal(bucket.take(0), true);
  assert.equal(bucket.take(0), true);
  assert.equal(bucket.take(0), false);
  assert.equal(bucket.msUntilToken(0), 100);
  assert.equal(bucket.msUntilToken(50), 50);
  assert.equal(bucket.take(100), true);
  assert.equal(bucket.take(100), false);
  assert.equal(bucket.msUntilToken(1000), 0, "refilled");
  assert.equal(bucket.take(10_000), true);
  assert.equal(bucket.take(10_000), true);
  assert.equal(bucket.take(10_000), false, "never holds more than the burst");
});

Deno.test("takeToken() waits for the refill when the bucket is empty", async () => {
  const bucket = new TokenBucket(1000, 1);
  await takeToken(bucket);
  assert.equal(bucket.take(), false, "the one token is gone");
  await takeToken(bucket);
  assert.equal(bucket.msUntilToken() > 0, true, "took the refilled token");
});
