import assert from "node:assert/strict";
import { StoreUnavailableError } from "../lib/store/errors.ts";
import type { AppendedMessage, AppendResult, NewMessage, Store } from "../lib/store/store.ts";
import { MessageWriter } from "../lib/service/message_writer.ts";
import { RecordingLogger } from "./harness/service_fakes.ts";

/** A store that records each appendMessages batch, numbers messages per conversation, and can fail. */
class BatchStore {
  readonly batches: string[][] = [];
  failNext = false;
  /** While set, commits wait for it (a slow database). */
  gate: Promise<void> | undefined;
  readonly #seqs = new Map<string, number>();

  async appendMessages(messages: NewMessage[]): Promise<AppendResult[]> {
    this.batches.push(messages.map((message) => message.mid));
    await this.gate;
    if (this.failNext) {
      this.failNext = false;
      throw new StoreUnavailableError("down");
    }
    return messages.map((message): AppendResult => {
      // A recipient who blocks the sender: not stored, no seq used.
      if (message.cmid === "blocked") return { blocked: true, conv: message.conv };
      const seq = (this.#seqs.get(message.conv) ?? 0) + 1;
      this.#seqs.set(message.conv, seq);
      const { conv, senderId, mid, ts } = message;
      return { conv, seq, senderId, mid, ts, frame: message.frame(seq), dup: message.cmid === "dup" };
    });
  }
}

function message(mid: string, cmid?: string): NewMessage {
  return { conv: "u:1:2", senderId: 1, mid, cmid, ts: 1, frame: (seq) => `{"seq":${seq},"mid":"${mid}"}` };
}

/** The stored message of a result that was not refused. */
function stored(result: AppendResult): AppendedMessage {
  assert.ok(!("blocked" in result), JSON.stringify(result));
  return result;
}

function writer(store: BatchStore, maxBatch?: number): MessageWriter {
  return new MessageWriter(store as unknown as Store, new RecordingLogger(), maxBatch);
}

Deno.test("MessageWriter.append() stores messages of one turn in one transaction, in order", async () => {
  const store = new BatchStore();
  const messages = writer(store);
  const results = await Promise.all(["a", "b", "c"].map((mid) => messages.append(message(mid))));
  assert.deepEqual(store.batches, [["a", "b", "c"]]);
  assert.deepEqual(results.map(stored).map((m) => [m.mid, m.seq, m.frame]), [
    ["a", 1, '{"seq":1,"mid":"a"}'],
    ["b", 2, '{"seq":2,"mid":"b"}'],
    ["c", 3, '{"seq":3,"mid":"c"}'],
  ]);
  assert.deepEqual(messages.counters, { stored: 3, commits: 1 });
});

Deno.test("MessageWriter.append() batches what arrives during a commit into the next one", async () => {
  const store = new BatchStore();
  const messages = writer(store);
  const open = Promise.withResolvers<void>();
  store.gate = open.promise;
  const first = messages.append(message("a"));
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.deepEqual(store.batches, [["a"]], "the first commit started and waits for the database");
  const later = Promise.all([messages.append(message("b")), messages.append(message("c"))]);
  open.resolve();
  assert.equal(stored(await first).seq, 1);
  assert.deepEqual((await later).map(stored).map((m) => m.seq), [2, 3]);
  assert.deepEqual(store.batches, [["a"], ["b", "c"]]);
});

Deno.test("MessageWriter.append() splits a long queue into batches of at most maxBatch", async () => {
  const store = new BatchStore();
  const messages = writer(store, 2);
  await Promise.all(["a", "b", "c", "d", "e"].map((mid) => messages.append(message(mid))));
  assert.deepEqual(store.batches, [["a", "b"], ["c", "d"], ["e"]]);
  assert.deepEqual(messages.counters, { stored: 5, commits: 3 });
});

Deno.test("MessageWriter.append() rejects every message of a failed transaction, and the next one works", async () => {
  const store = new BatchStore();
  const messages = writer(store);
  store.failNext = true;
  const failed = await Promise.allSettled([messages.append(message("a")), messages.append(message("b"))]);
  assert.deepEqual(failed.map((result) => result.status), ["rejected", "rejected"]);
  for (const result of failed) {
    assert.ok(result.status === "rejected" && result.reason instanceof StoreUnavailableError);
  }
  const next = stored(await messages.append(message("c")));
  assert.equal(next.seq, 1);
  assert.deepEqual(messages.counters, { stored: 1, commits: 1 });
});

Deno.test("MessageWriter.counters do not count a duplicate (cmid) as stored", async () => {
  const store = new BatchStore();
  const messages = writer(store);
  const [first, again] = await Promise.all([
    messages.append(message("a")),
    messages.append(message("b", "dup")),
  ]);
  assert.deepEqual([stored(first).dup, stored(again).dup], [false, true]);
  assert.deepEqual(messages.counters, { stored: 1, commits: 1 });
});

Deno.test("MessageWriter.append() resolves a message refused for a block as such, and does not count it", async () => {
  const store = new BatchStore();
  const messages = writer(store);
  const [refused, next] = await Promise.all([
    messages.append(message("a", "blocked")),
    messages.append(message("b")),
  ]);
  assert.deepEqual(refused, { blocked: true, conv: "u:1:2" });
  assert.equal(stored(next).seq, 1);
  assert.deepEqual(messages.counters, { stored: 1, commits: 1 });
});
