/**
 * The shared store suite's cases for storing and reading a conversation's messages (`tests/store_suite.ts`):
 * appendMessages() with its seq and cmid rules, lastSeq(), messagesAfter(), messagesBefore() and retention.
 *
 * @module
 */

import assert from "node:assert/strict";
import { directConv, groupConv } from "../lib/conversation_name.ts";
import { StoreUnavailableError } from "../lib/store/errors.ts";
import type { NewMessage } from "../lib/store/store.ts";
import { append, AWKWARD_NAMES, chat, reopen, type SuiteTest, texts, users } from "./store_suite_fixture.ts";

function throwingFrame(): string {
  throw new Error("frame failed");
}

/** Registers the cases of appendMessages(), lastSeq(), messagesAfter(), messagesBefore(), deleteMessagesBefore(). */
export function messageCases(test: SuiteTest): void {
  test("appendMessages() numbers each conversation 1, 2, 3 … without gaps, across batches", async ({ store }) => {
    const [a, b, c] = await users(store, "a", "b", "c");
    const ab = directConv(a, b);
    const ac = directConv(a, c);
    const group = groupConv(await store.createGroup(a, "g", ""));
    const first = await append(store, [chat(ab, a, "ab1"), chat(ac, a, "ac1"), chat(ab, b, "ab2")]);
    const second = await append(store, [chat(group, a, "g1"), chat(ab, a, "ab3"), chat(ac, c, "ac2")]);
    assert.deepEqual(
      [...first, ...second].map((m) => [m.conv, m.seq]),
      [[ab, 1], [ac, 1], [ab, 2], [group, 1], [ab, 3], [ac, 2]],
    );
    assert.equal(await store.lastSeq(ab), 3);
    assert.equal(await store.lastSeq(ac), 2);
    assert.equal(await store.lastSeq(group), 1);
    assert.deepEqual(texts(await store.messagesAfter(ab, 0, 100)), ["ab1", "ab2", "ab3"]);
  });

  test("appendMessages() of one conversation from many batches and senders leaves no gap", async ({ store }) => {
    const [a, b] = await users(store, "a", "b");
    const conv = directConv(a, b);
    for (let batch = 0; batch < 20; batch++) {
      await store.appendMessages(
        Array.from({ length: batch % 4 + 1 }, (_, i) => chat(conv, i % 2 ? a : b, `${batch}.${i}`)),
      );
    }
    const all = await store.messagesAfter(conv, 0, 1000);
    assert.deepEqual(all.map((m) => m.seq), Array.from({ length: all.length }, (_, i) => i + 1));
    assert.equal(await store.lastSeq(conv), all.length);
  });

  test("appendMessages() returns what it stored: the frame built for the seq, mid, ts, sender", async ({ store }) => {
    const [a, b] = await users(store, "a", "b");
    const conv = directConv(a, b);
    const message: NewMessage = {
      conv,
      senderId: a,
      mid: "server-mid-1",
      ts: 1_795_000_123_456,
      frame: (seq) => `{"msgid":6,"seq":${seq},"msg":"hi"}`,
    };
    const [stored] = await append(store, [message]);
    const expected = {
      conv,
      seq: 1,
      senderId: a,
      mid: "server-mid-1",
      ts: 1_795_000_123_456,
      frame: `{"msgid":6,"seq":1,"msg":"hi"}`,
    };
    assert.deepEqual(stored, { ...expected, dup: false });
    assert.deepEqual(await store.messagesAfter(conv, 0, 10), [expected]);
  });

  test("appendMessages() of no messages resolves [] and stores nothing", async ({ store }) => {
    const [a, b] = await users(store, "a", "b");
    assert.deepEqual(await store.appendMessages([]), []);
    assert.equal(await store.lastSeq(directConv(a, b)), 0);
  });

  for (
    const [what, bad] of [
      ["a malformed conv", { conv: "u:2:1" }],
      ["a fractional sender id", { senderId: 1.5 }],
      ["a ts that is not an integer", { ts: Number.NaN }],
      ["a frame that throws", { frame: throwingFrame }],
      ["a frame that is not a string", { frame: () => null as unknown as string }],
    ] as [string, Partial<NewMessage>][]
  ) {
    test(`appendMessages() with ${what} in the batch rejects and stores nothing`, async ({ store }) => {
      const [a, b] = await users(store, "a", "b");
      const conv = directConv(a, b);
      await store.appendMessages([chat(conv, a, "before")]);
      const batch = [
        chat(conv, a, "kept out", { cmid: "c1" }),
        chat(conv, b, "bad", bad),
        chat(conv, a, "after"),
      ];
      await assert.rejects(store.appendMessages(batch));
      assert.equal(await store.lastSeq(conv), 1);
      assert.deepEqual(texts(await store.messagesAfter(conv, 0, 10)), ["before"]);
      // Nothing of the failed batch remains: its cmid is free, and the next seq is 2.
      const [again] = await append(store, [chat(conv, a, "retry", { cmid: "c1" })]);
      assert.deepEqual([again.seq, again.dup], [2, false]);
    });
  }

  test("appendMessages() of a cmid stored before answers the first message with dup: true", async (fixture) => {
    const { store } = fixture;
    const [a, b] = await users(store, "a", "b");
    const conv = directConv(a, b);
    const [first] = await append(store, [chat(conv, a, "first", { cmid: "c-1" })]);
    await store.appendMessages([chat(conv, b, "reply")]);
    const [repeat, next] = await append(store, [
      chat(conv, a, "first again", { cmid: "c-1" }),
      chat(conv, a, "next"),
    ]);
    assert.deepEqual(repeat, { ...first, dup: true });
    assert.equal(next.seq, 3, "a repeat takes no seq");
    assert.deepEqual(texts(await store.messagesAfter(conv, 0, 10)), ["first", "reply", "next"]);
  });

  test("appendMessages() of a cmid repeated inside one batch stores it once", async ({ store }) => {
    const [a, b] = await users(store, "a", "b");
    const conv = directConv(a, b);
    const results = await append(store, [
      chat(conv, a, "one", { cmid: "same" }),
      chat(conv, a, "two", { cmid: "other" }),
      chat(conv, a, "one again", { cmid: "same" }),
    ]);
    assert.deepEqual(results.map((m) => [m.seq, m.dup]), [[1, false], [2, false], [1, true]]);
    assert.deepEqual(results[2], { ...results[0], dup: true });
    assert.equal(await store.lastSeq(conv), 2);
  });

  test("appendMessages() keeps cmids apart per sender", async ({ store }) => {
    const [a, b] = await users(store, "a", "b");
    const conv = directConv(a, b);
    const results = await append(store, [
      chat(conv, a, "a's", { cmid: "x" }),
      chat(conv, b, "b's", { cmid: "x" }),
    ]);
    assert.deepEqual(results.map((m) => [m.seq, m.dup]), [[1, false], [2, false]]);
  });

  test("appendMessages() still knows a cmid after the store is reopened", async (fixture) => {
    const [a, b] = await users(fixture.store, "a", "b");
    const conv = directConv(a, b);
    const [first] = await fixture.store.appendMessages([chat(conv, a, "first", { cmid: "restart" })]);
    const store = await reopen(fixture);
    const [repeat] = await append(store, [chat(conv, a, "first", { cmid: "restart" })]);
    assert.deepEqual(repeat, { ...first, dup: true });
    const [next] = await append(store, [chat(conv, b, "next")]);
    assert.equal(next.seq, 2, "seq goes on after a restart");
  });

  test("appendMessages() moves the sender's read seq, not the recipient's", async ({ store }) => {
    const [a, b] = await users(store, "a", "b");
    const conv = directConv(a, b);
    await store.appendMessages([chat(conv, a, "1"), chat(conv, a, "2"), chat(conv, b, "3")]);
    const [ofA] = await store.listConversations(a);
    const [ofB] = await store.listConversations(b);
    assert.deepEqual(ofA, { conv, lastseq: 3, readseq: 2, peerread: 3, unread: 1 });
    assert.deepEqual(ofB, { conv, lastseq: 3, readseq: 3, peerread: 2, unread: 0 });
  });

  test("appendMessages() round-trips unicode and a 100,000-byte frame unchanged", async ({ store }) => {
    const [a, b] = await users(store, "a", "b");
    const conv = directConv(a, b);
    const head = JSON.stringify({ msg: "😀".repeat(20_000) });
    const huge = JSON.stringify({
      msg: "😀".repeat(20_000) + "x".repeat(100_000 - new TextEncoder().encode(head).length),
    });
    const frames = [...AWKWARD_NAMES.map((msg) => JSON.stringify({ msg })), huge];
    await store.appendMessages(frames.map((frame) => ({ ...chat(conv, a, ""), frame: () => frame })));
    const read = (await store.messagesAfter(conv, 0, 100)).map((m) => m.frame);
    assert.equal(read.length, frames.length);
    read.forEach((frame, i) => assert.ok(frame === frames[i], `frame ${i} changed`));
  });

  test("lastSeq() is 0 for a conversation without messages", async ({ store }) => {
    assert.equal(await store.lastSeq("u:1:2"), 0);
    assert.equal(await store.lastSeq("g:1"), 0);
  });

  test("messagesAfter() returns seq > after, ascending, at most limit, up to upTo", async ({ store }) => {
    const [a, b] = await users(store, "a", "b");
    const conv = directConv(a, b);
    await store.appendMessages(Array.from({ length: 10 }, (_, i) => chat(conv, a, `m${i + 1}`)));
    const seqs = async (after: number, limit: number, upTo?: number) =>
      (await store.messagesAfter(conv, after, limit, upTo)).map((m) => m.seq);
    assert.deepEqual(await seqs(0, 3), [1, 2, 3]);
    assert.deepEqual(await seqs(7, 100), [8, 9, 10]);
    assert.deepEqual(await seqs(10, 100), []);
    assert.deepEqual(await seqs(50, 100), []);
    assert.deepEqual(await seqs(0, 0), []);
    assert.deepEqual(await seqs(2, 100, 5), [3, 4, 5]);
    assert.deepEqual(await seqs(5, 100, 5), []);
    assert.deepEqual(await seqs(0, 100, 0), []);
    assert.deepEqual(await store.messagesAfter(directConv(a, b + 1000), 0, 10), [], "another conversation");
  });

  test("messagesBefore() returns the newest `limit` with seq < before and ≤ upTo, ascending", async ({ store }) => {
    const [a, b] = await users(store, "a", "b");
    const conv = directConv(a, b);
    await store.appendMessages(Array.from({ length: 10 }, (_, i) => chat(conv, b, `m${i + 1}`)));
    const seqs = async (before: number, limit: number, upTo?: number) =>
      (await store.messagesBefore(conv, before, limit, upTo)).map((m) => m.seq);
    assert.deepEqual(await seqs(11, 3), [8, 9, 10]);
    assert.deepEqual(await seqs(Number.MAX_SAFE_INTEGER, 3), [8, 9, 10]);
    assert.deepEqual(await seqs(4, 100), [1, 2, 3]);
    assert.deepEqual(await seqs(1, 100), []);
    assert.deepEqual(await seqs(11, 0), []);
    assert.deepEqual(await seqs(11, 2, 6), [5, 6]);
    assert.deepEqual(await seqs(4, 100, 6), [1, 2, 3]);
    assert.deepEqual(texts(await store.messagesBefore(conv, 3, 10)), ["m1", "m2"]);
  });

  test("messagesAfter(), messagesBefore() and lastSeq() reject a malformed conv or bound with RangeError", async ({ store }) => {
    await assert.rejects(store.messagesAfter("x:1", 0, 10), RangeError);
    await assert.rejects(store.messagesAfter("u:1:2", -1, 10), RangeError);
    await assert.rejects(store.messagesAfter("u:1:2", 0, -1), RangeError);
    await assert.rejects(store.messagesAfter("u:1:2", 0, 10, 1.5), RangeError);
    await assert.rejects(store.messagesBefore("g:0", 5, 10), RangeError);
    await assert.rejects(store.messagesBefore("u:1:2", Number.NaN, 10), RangeError);
    await assert.rejects(store.lastSeq("u:1:1"), RangeError);
  });

  test("deleteMessagesBefore() deletes by age, returns how many, and seq goes on", async ({ store }) => {
    const [a, b] = await users(store, "a", "b");
    const conv = directConv(a, b);
    const group = groupConv(await store.createGroup(a, "g", ""));
    await store.appendMessages([
      chat(conv, a, "old1", { ts: 1000 }),
      chat(group, a, "old2", { ts: 1999 }),
      chat(conv, b, "new1", { ts: 2000 }),
      chat(group, a, "new2", { ts: 3000 }),
    ]);
    assert.equal(await store.deleteMessagesBefore(2000), 2);
    assert.equal(await store.deleteMessagesBefore(2000), 0);
    assert.deepEqual(texts(await store.messagesAfter(conv, 0, 10)), ["new1"]);
    assert.deepEqual(texts(await store.messagesAfter(group, 0, 10)), ["new2"]);
    assert.equal(await store.deleteMessagesBefore(10_000), 2);
    assert.equal(await store.lastSeq(conv), 2, "the conversation keeps its last seq");
    const [next] = await append(store, [chat(conv, a, "after")]);
    assert.equal(next.seq, 3);
  });

  test("deleteMessagesBefore() deletes more rows than one chunk", async ({ store }) => {
    const [a, b] = await users(store, "a", "b");
    const conv = directConv(a, b);
    await store.appendMessages(
      Array.from({ length: 4500 }, (_, i) => chat(conv, a, `m${i}`, { ts: 1000 + i })),
    );
    assert.equal(await store.deleteMessagesBefore(1000 + 4400), 4400);
    assert.deepEqual((await store.messagesAfter(conv, 0, 1000)).map((m) => m.seq)[0], 4401);
  });

  test("the message methods reject with StoreUnavailableError once the store is closed", async ({ store }) => {
    await store.close();
    await assert.rejects(store.appendMessages([chat("u:1:2", 1, "x")]), StoreUnavailableError);
    await assert.rejects(store.lastSeq("u:1:2"), StoreUnavailableError);
    await assert.rejects(store.messagesAfter("u:1:2", 0, 10), StoreUnavailableError);
    await assert.rejects(store.messagesBefore("u:1:2", 10, 10), StoreUnavailableError);
    await assert.rejects(store.listConversations(1), StoreUnavailableError);
    await assert.rejects(store.markRead(1, "u:1:2", 1), StoreUnavailableError);
    await assert.rejects(store.deleteMessagesBefore(1), StoreUnavailableError);
  });
}
