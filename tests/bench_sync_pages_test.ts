import assert from "node:assert/strict";
import { fetchProblem, type Page, pageOf, seqOf, walkBackward, walkForward } from "./bench/sync_pages.ts";

/** A conversation of seqs 1..count served as SYNC and HISTORY pages of `limit`, recording the requests. */
function conversation(count: number, limit: number) {
  const frames = Array.from({ length: count }, (_, i) => ({ msgid: 6, conv: "u:1:2", seq: i + 1 }));
  const requests: (number | undefined)[] = [];
  return {
    requests,
    sync(after: number): Promise<Page> {
      requests.push(after);
      const rest = frames.filter((f) => f.seq > after);
      return Promise.resolve({ messages: rest.slice(0, limit), more: rest.length > limit });
    },
    history(before: number | undefined): Promise<Page> {
      requests.push(before);
      const older = frames.filter((f) => before === undefined || f.seq < before);
      return Promise.resolve({ messages: older.slice(-limit), more: older.length > limit });
    },
  };
}

Deno.test("walkForward() pages with SYNC after the last seq until more is false", async () => {
  const conv = conversation(2500, 1000);
  const walk = await walkForward((after) => conv.sync(after));
  assert.equal(walk.pages, 3);
  assert.deepEqual(conv.requests, [0, 1000, 2000]);
  assert.equal(fetchProblem(walk.messages.map(seqOf), 2500), undefined);
});

Deno.test("walkBackward() pages with HISTORY before the first seq and returns ascending", async () => {
  const conv = conversation(2500, 1000);
  const walk = await walkBackward((before) => conv.history(before));
  assert.equal(walk.pages, 3);
  assert.deepEqual(conv.requests, [undefined, 1501, 501]);
  assert.equal(fetchProblem(walk.messages.map(seqOf), 2500), undefined);
});

Deno.test("walkForward() and walkBackward() take one page for an empty or exactly-one-page conversation", async () => {
  for (const count of [0, 1000]) {
    assert.equal((await walkForward(conversation(count, 1000).sync)).pages, 1);
    assert.equal((await walkBackward(conversation(count, 1000).history)).pages, 1);
  }
});

Deno.test("walkForward() and walkBackward() refuse a server that says more without moving", async () => {
  const stuck = () => Promise.resolve({ messages: [{ seq: 5 }], more: true });
  await assert.rejects(
    walkForward(async (after) => after === 0 ? await stuck() : await stuck()),
    /did not move forward/,
  );
  await assert.rejects(
    walkForward(() => Promise.resolve({ messages: [], more: true })),
    /did not move forward/,
  );
  await assert.rejects(walkBackward(stuck), /did not move backward/);
});

Deno.test("fetchProblem() names a missing, extra or misplaced seq", () => {
  assert.equal(fetchProblem([1, 2, 3], 3), undefined);
  assert.equal(fetchProblem([], 0), undefined);
  assert.equal(fetchProblem([1, 3], 3), "2 messages instead of 3; seq 3 at position 2");
  assert.equal(fetchProblem([1, 2, 3, 4], 3), "4 messages instead of 3");
  assert.equal(fetchProblem([2, 1], 2), "seq 2 at position 1");
  assert.equal(fetchProblem([1, NaN], 2), "seq NaN at position 2");
});

Deno.test("seqOf() reads a frame object or its JSON text; NaN without a numeric seq", () => {
  assert.equal(seqOf({ seq: 3 }), 3);
  assert.equal(seqOf('{"msgid":6,"seq":4}'), 4);
  for (const bad of [null, undefined, "not json", { seq: "3" }, {}, 7]) assert.ok(Number.isNaN(seqOf(bad)));
});

Deno.test("pageOf() takes messages and more from a successful ACK and refuses anything else", () => {
  assert.deepEqual(pageOf({ msgid: 11, errno: 0, messages: [{ seq: 1 }], more: false }), {
    messages: [{ seq: 1 }],
    more: false,
  });
  for (
    const reply of [
      { msgid: 11, errno: 4, errmsg: "limit" },
      { msgid: 11, errno: 0, messages: "x", more: false },
      { msgid: 11, errno: 0, messages: [] },
    ]
  ) {
    assert.throws(() => pageOf(reply), /not a page of messages/);
  }
});
