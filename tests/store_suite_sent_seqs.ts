/**
 * The shared store suite's cases for the read seq that sending moves (`tests/store_suite.ts`): the sender's
 * read seq of a one-to-one conversation is kept on the conversation's row (lib/store/sent_seqs.ts), a
 * group's in its read seq rows; either way listConversations() and markRead() see max(read, sent).
 *
 * @module
 */

import assert from "node:assert/strict";
import { directConv, groupConv } from "../lib/conversation_name.ts";
import type { Store } from "../lib/store/store.ts";
import { append, chat, type SuiteTest, users } from "./store_suite_fixture.ts";

/** The user's summary of `conv`. */
async function summaryOf(store: Store, userId: number, conv: string) {
  return (await store.listConversations(userId)).find((summary) => summary.conv === conv);
}

/** Registers the cases of the sender's read seq. */
export function sentSeqCases(test: SuiteTest): void {
  test("appendMessages() moves each one-to-one sender's read seq to their last message of the batch, the lower id's and the higher's", async ({ store }) => {
    const [low, high] = await users(store, "low", "high");
    const conv = directConv(low, high);
    await append(store, [chat(conv, high, "1"), chat(conv, high, "2")]);
    assert.deepEqual(await summaryOf(store, low, conv), {
      conv,
      lastseq: 2,
      readseq: 0,
      peerread: 2,
      unread: 2,
    });
    assert.deepEqual(await summaryOf(store, high, conv), {
      conv,
      lastseq: 2,
      readseq: 2,
      peerread: 0,
      unread: 0,
    });
    // Interleaved in one batch: low's last is seq 5, high's seq 7.
    const stored = await append(store, [
      chat(conv, low, "3"),
      chat(conv, high, "4"),
      chat(conv, low, "5"),
      chat(conv, high, "6"),
      chat(conv, high, "7"),
    ]);
    assert.deepEqual(stored.map((message) => message.seq), [3, 4, 5, 6, 7]);
    assert.deepEqual(await summaryOf(store, low, conv), {
      conv,
      lastseq: 7,
      readseq: 5,
      peerread: 7,
      unread: 2,
    });
    assert.deepEqual(await summaryOf(store, high, conv), {
      conv,
      lastseq: 7,
      readseq: 7,
      peerread: 5,
      unread: 0,
    });
  });

  test("markRead() below the seq the user last sent changes nothing and answers that seq; above it moves", async ({ store }) => {
    const [a, b] = await users(store, "a", "b");
    const conv = directConv(a, b);
    await append(store, [chat(conv, b, "1"), chat(conv, a, "2"), chat(conv, a, "3"), chat(conv, b, "4")]);
    assert.equal(await store.markRead(a, conv, 1), 3, "a sent seq 3");
    assert.equal(await store.markRead(a, conv, 3), 3);
    assert.deepEqual(await summaryOf(store, a, conv), {
      conv,
      lastseq: 4,
      readseq: 3,
      peerread: 4,
      unread: 1,
    });
    assert.equal(await store.markRead(a, conv, 4), 4);
    assert.equal(await store.markRead(a, conv, 2), 4, "never backwards");
    assert.deepEqual(await summaryOf(store, b, conv), {
      conv,
      lastseq: 4,
      readseq: 4,
      peerread: 4,
      unread: 0,
    });
    // Sending again moves it past what READ stored.
    await append(store, [chat(conv, a, "5")]);
    assert.equal(await store.markRead(a, conv, 4), 5);
    assert.deepEqual(await summaryOf(store, b, conv), {
      conv,
      lastseq: 5,
      readseq: 4,
      peerread: 5,
      unread: 1,
    });
  });

  test("appendMessages(): a repeated cmid or a blocked message moves no read seq, in the batch or after it", async ({ store }) => {
    const [a, b] = await users(store, "a", "b");
    const conv = directConv(a, b);
    await append(store, [chat(conv, a, "1", { cmid: "first" })]);
    // A resend of seq 1 (stored before), a new message, a repeat of it within the batch, b's reply.
    const results = await append(store, [
      chat(conv, a, "resend", { cmid: "first" }),
      chat(conv, b, "2"),
      chat(conv, a, "3", { cmid: "second" }),
      chat(conv, a, "again", { cmid: "second" }),
      chat(conv, b, "4"),
    ]);
    assert.deepEqual(results.map((result) => [result.seq, result.dup]), [
      [1, true],
      [2, false],
      [3, false],
      [3, true],
      [4, false],
    ]);
    assert.deepEqual(await summaryOf(store, a, conv), {
      conv,
      lastseq: 4,
      readseq: 3,
      peerread: 4,
      unread: 1,
    });
    // b blocks a: a's new messages are refused, b's go on.
    await store.setBlock(b, a, true);
    const blocked = await store.appendMessages([
      chat(conv, b, "5"),
      chat(conv, a, "refused"),
      chat(conv, b, "6"),
    ]);
    assert.deepEqual(blocked.map((result) => "blocked" in result ? "blocked" : result.seq), [
      5,
      "blocked",
      6,
    ]);
    assert.deepEqual(await summaryOf(store, a, conv), {
      conv,
      lastseq: 6,
      readseq: 3,
      peerread: 6,
      unread: 3,
    });
    assert.deepEqual(await summaryOf(store, b, conv), {
      conv,
      lastseq: 6,
      readseq: 6,
      peerread: 3,
      unread: 0,
    });
  });

  test("appendMessages() of a group message still moves its sender's read seq, and markRead() below it changes nothing", async ({ store }) => {
    const [a, b] = await users(store, "a", "b");
    const group = groupConv(await store.createGroup(a, "g", ""));
    await store.addGroupMember(Number(group.slice(2)), b);
    await append(store, [chat(group, a, "1"), chat(group, b, "2"), chat(group, a, "3"), chat(group, b, "4")]);
    assert.deepEqual(await summaryOf(store, a, group), { conv: group, lastseq: 4, readseq: 3, unread: 1 });
    assert.deepEqual(await summaryOf(store, b, group), { conv: group, lastseq: 4, readseq: 4, unread: 0 });
    assert.equal(await store.markRead(a, group, 2), 3);
    assert.equal(await store.markRead(a, group, 4), 4);
  });

  test("the sender's read seq of one conversation moves nothing in another of theirs", async ({ store }) => {
    const [a, b, c] = await users(store, "a", "b", "c");
    const ab = directConv(a, b);
    const bc = directConv(b, c);
    await append(store, [chat(ab, a, "1"), chat(bc, c, "1"), chat(bc, c, "2"), chat(ab, b, "2")]);
    assert.deepEqual(
      await store.listConversations(b),
      [
        { conv: ab, lastseq: 2, readseq: 2, peerread: 1, unread: 0 },
        { conv: bc, lastseq: 2, readseq: 0, peerread: 2, unread: 2 },
      ].toSorted((x, y) => x.conv < y.conv ? -1 : 1),
    );
    assert.equal(await store.markRead(b, bc, 1), 1);
  });
}
