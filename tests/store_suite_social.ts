/**
 * The shared store suite's cases for friends by request and blocking (`tests/store_suite.ts`):
 * requestFriend(), answerFriendRequest(), listFriendRequests(), removeFriend(), setBlock(), isBlocked(),
 * listBlocks(), and appendMessages() refusing a message to a user who blocks its sender. The group roles are in
 * `store_suite_group_roles.ts`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { directConv, groupConv } from "../lib/conversation_name.ts";
import { StoreUnavailableError } from "../lib/store/errors.ts";
import type { Store } from "../lib/store/store.ts";
import { append, AWKWARD_NAMES, chat, type SuiteTest, texts, users } from "./store_suite_fixture.ts";

/** Both users' friend ids, each list ordered by id. */
async function friendIds(store: Store, a: number, b: number): Promise<[number[], number[]]> {
  const ids = async (user: number) => (await store.listFriends(user)).map((friend) => friend.id);
  return [await ids(a), await ids(b)];
}

/** Registers the cases of friend requests, blocks and blocked messages. */
export function socialCases(test: SuiteTest): void {
  test("requestFriend() of strangers is sent: the target lists it, nobody is a friend yet", async ({ store }) => {
    const [a, b] = await users(store, "a", "b");
    assert.equal(await store.requestFriend(a, b, "hi, it's a"), "sent");
    assert.deepEqual(await store.listFriendRequests(b), [{ id: a, name: "a", note: "hi, it's a" }]);
    assert.deepEqual(await store.listFriendRequests(a), [], "the requester has nothing to answer");
    assert.deepEqual(await friendIds(store, a, b), [[], []]);
  });

  test("requestFriend() again while pending is pending: the first note stays, nothing is added", async ({ store }) => {
    const [a, b] = await users(store, "a", "b");
    await store.requestFriend(a, b, "first");
    assert.equal(await store.requestFriend(a, b, "second"), "pending");
    assert.deepEqual(await store.listFriendRequests(b), [{ id: a, name: "a", note: "first" }]);
  });

  test("requestFriend() to a user who asked first is accepted: friends both ways, no request left", async ({ store }) => {
    const [a, b] = await users(store, "a", "b");
    await store.requestFriend(a, b, "from a");
    assert.equal(await store.requestFriend(b, a, "from b"), "accepted");
    assert.deepEqual(await friendIds(store, a, b), [[b], [a]]);
    assert.deepEqual(await store.listFriendRequests(a), []);
    assert.deepEqual(await store.listFriendRequests(b), []);
    assert.equal(await store.answerFriendRequest(b, a, true), false, "nothing left to answer");
  });

  test("requestFriend() between friends both ways is friends and stores no request", async ({ store }) => {
    const [a, b] = await users(store, "a", "b");
    await store.addFriend(a, b);
    await store.addFriend(b, a);
    assert.equal(await store.requestFriend(a, b, "again?"), "friends");
    assert.deepEqual(await store.listFriendRequests(b), []);
    assert.deepEqual(await friendIds(store, a, b), [[b], [a]]);
  });

  test("requestFriend() over a one-way friend row is sent; accepting adds the missing direction", async ({ store }) => {
    const [a, b, c] = await users(store, "a", "b", "c");
    await store.addFriend(a, b); // v1 ADD_FRIEND: b is in a's list only
    assert.equal(await store.requestFriend(a, b, ""), "sent");
    assert.equal(await store.answerFriendRequest(b, a, true), true);
    assert.deepEqual(await friendIds(store, a, b), [[b], [a]]);
    await store.addFriend(c, a);
    assert.equal(await store.requestFriend(a, c, ""), "sent", "a one-way row the other way stops nothing");
    assert.equal(await store.requestFriend(c, a, ""), "accepted");
    assert.deepEqual(await friendIds(store, a, c), [[b, c], [a]]);
  });

  test("requestFriend() to a user who blocks the requester is blocked and stores nothing", async ({ store }) => {
    const [a, b] = await users(store, "a", "b");
    await store.setBlock(b, a, true);
    assert.equal(await store.requestFriend(a, b, "let me in"), "blocked");
    assert.deepEqual(await store.listFriendRequests(b), []);
  });

  test("requestFriend() to a user the requester blocks is blocking and stores nothing", async ({ store }) => {
    const [a, b] = await users(store, "a", "b");
    await store.setBlock(a, b, true);
    assert.equal(await store.requestFriend(a, b, ""), "blocking");
    assert.deepEqual(await store.listFriendRequests(b), []);
  });

  test("requestFriend() between users who block each other is blocked", async ({ store }) => {
    const [a, b] = await users(store, "a", "b");
    await store.setBlock(a, b, true);
    await store.setBlock(b, a, true);
    assert.equal(await store.requestFriend(a, b, ""), "blocked");
    assert.equal(await store.requestFriend(b, a, ""), "blocked");
  });

  test("requestFriend() keeps notes with quotes, emoji and 200 characters unchanged", async ({ store }) => {
    const [target, ...requesters] = await users(store, "target", "r1", "r2", "r3", "r4", "r5");
    const notes = [...AWKWARD_NAMES, "é".repeat(200)];
    for (const [i, note] of notes.entries()) await store.requestFriend(requesters[i], target, note);
    assert.deepEqual(
      (await store.listFriendRequests(target)).map((request) => request.note),
      notes,
    );
  });

  test("listFriendRequests() lists the requests waiting for the user, oldest first, with names", async ({ store }) => {
    const [target, early, late, other] = await users(store, "target", "early", "late", "other");
    // Made in the opposite order of the ids: the list goes by when they were made.
    await store.requestFriend(late, target, "2nd");
    await store.requestFriend(early, target, "3rd");
    await store.requestFriend(other, late, "not for target");
    assert.deepEqual(await store.listFriendRequests(target), [
      { id: late, name: "late", note: "2nd" },
      { id: early, name: "early", note: "3rd" },
    ]);
    await store.answerFriendRequest(target, late, false);
    assert.equal(await store.requestFriend(late, target, "again"), "sent");
    assert.deepEqual(
      (await store.listFriendRequests(target)).map((request) => request.id),
      [early, late],
      "a request made again is the newest",
    );
  });

  test("answerFriendRequest() accepting makes friends both ways; a second answer finds nothing", async ({ store }) => {
    const [a, b] = await users(store, "a", "b");
    await store.requestFriend(a, b, "");
    assert.equal(await store.answerFriendRequest(b, a, true), true);
    assert.deepEqual(await friendIds(store, a, b), [[b], [a]]);
    assert.deepEqual(await store.listFriendRequests(b), []);
    assert.equal(await store.answerFriendRequest(b, a, true), false);
    assert.equal(await store.answerFriendRequest(b, a, false), false);
    assert.deepEqual(await friendIds(store, a, b), [[b], [a]], "a late refusal undoes nothing");
  });

  test("answerFriendRequest() refusing removes the request and makes nobody a friend", async ({ store }) => {
    const [a, b] = await users(store, "a", "b");
    await store.requestFriend(a, b, "");
    assert.equal(await store.answerFriendRequest(b, a, false), true);
    assert.deepEqual(await friendIds(store, a, b), [[], []]);
    assert.deepEqual(await store.listFriendRequests(b), []);
    assert.equal(await store.answerFriendRequest(b, a, false), false);
    assert.equal(await store.requestFriend(a, b, "once more"), "sent", "a refused requester may ask again");
  });

  test("answerFriendRequest() without a request from that user is false and changes nothing", async ({ store }) => {
    const [a, b, c] = await users(store, "a", "b", "c");
    await store.requestFriend(a, b, "");
    assert.equal(await store.answerFriendRequest(a, b, true), false, "the requester cannot answer it");
    assert.equal(await store.answerFriendRequest(b, c, true), false, "c never asked");
    assert.equal(await store.answerFriendRequest(c, a, true), false, "a asked b, not c");
    assert.deepEqual(await friendIds(store, a, b), [[], []]);
    assert.deepEqual(await store.listFriendRequests(b), [{ id: a, name: "a", note: "" }]);
  });

  test("answerFriendRequest() twice at once: exactly one finds the request", async ({ store }) => {
    const [a, b] = await users(store, "a", "b");
    await store.requestFriend(a, b, "");
    const answers = await Promise.all([
      store.answerFriendRequest(b, a, true),
      store.answerFriendRequest(b, a, false),
    ]);
    assert.deepEqual(answers.toSorted(), [false, true]);
  });

  test("removeFriend() ends the friendship both ways and leaves other friends", async ({ store }) => {
    const [a, b, c] = await users(store, "a", "b", "c");
    for (const [x, y] of [[a, b], [b, a], [a, c], [c, b]]) await store.addFriend(x, y);
    await store.removeFriend(a, b);
    assert.deepEqual(await friendIds(store, a, b), [[c], []]);
    assert.deepEqual(await store.listFriends(c), [{ id: b, name: "b" }]);
    await store.removeFriend(c, b); // one-way: c had b
    assert.deepEqual(await store.listFriends(c), []);
  });

  test("removeFriend() of a non-friend is a no-op", async ({ store }) => {
    const [a, b, c] = await users(store, "a", "b", "c");
    await store.addFriend(a, c);
    await store.removeFriend(a, b);
    await store.removeFriend(a, b);
    assert.deepEqual(await friendIds(store, a, c), [[c], []]);
  });

  test("setBlock() on blocks one way; isBlocked() and listBlocks() show it from both sides", async ({ store }) => {
    const [a, b, c] = await users(store, "a", "b", "c");
    await store.setBlock(b, a, true);
    await store.setBlock(b, c, true);
    await store.setBlock(a, c, true);
    assert.equal(await store.isBlocked(b, a), true);
    assert.equal(await store.isBlocked(a, b), false, "one way");
    assert.deepEqual(await store.listBlocks(b), { blocking: [a, c], blockedBy: [] });
    assert.deepEqual(await store.listBlocks(a), { blocking: [c], blockedBy: [b] });
    assert.deepEqual(await store.listBlocks(c), { blocking: [], blockedBy: [a, b] });
  });

  test("setBlock() on ends friendship and pending requests in both directions", async ({ store }) => {
    const [a, b, c, d] = await users(store, "a", "b", "c", "d");
    await store.addFriend(a, b);
    await store.addFriend(b, a);
    await store.addFriend(a, c);
    await store.requestFriend(c, b, "to the blocker");
    await store.requestFriend(b, d, "from the blocker");
    await store.requestFriend(a, c, "from a");
    await store.setBlock(b, a, true);
    assert.deepEqual(await friendIds(store, a, b), [[c], []]);
    await store.setBlock(b, c, true);
    await store.setBlock(b, d, true);
    assert.deepEqual(await store.listFriendRequests(b), []);
    assert.deepEqual(await store.listFriendRequests(d), []);
    assert.deepEqual(await store.listFriendRequests(c), [{ id: a, name: "a", note: "from a" }]);
  });

  test("setBlock() twice is a no-op; off lifts it and brings back no friendship", async ({ store }) => {
    const [a, b] = await users(store, "a", "b");
    await store.addFriend(a, b);
    await store.setBlock(a, b, true);
    await store.setBlock(a, b, true);
    assert.deepEqual(await store.listBlocks(a), { blocking: [b], blockedBy: [] });
    await store.setBlock(a, b, false);
    await store.setBlock(a, b, false);
    assert.equal(await store.isBlocked(a, b), false);
    assert.deepEqual(await store.listBlocks(a), { blocking: [], blockedBy: [] });
    assert.deepEqual(await friendIds(store, a, b), [[], []]);
    assert.equal(await store.requestFriend(a, b, ""), "sent", "requests work again");
  });

  test("setBlock() off of a block the other way leaves that block", async ({ store }) => {
    const [a, b] = await users(store, "a", "b");
    await store.setBlock(a, b, true);
    await store.setBlock(b, a, false);
    assert.equal(await store.isBlocked(a, b), true);
  });

  test("appendMessages() to a user who blocks the sender is blocked; nothing stored, no seq taken", async ({ store }) => {
    const [a, b] = await users(store, "a", "b");
    const conv = directConv(a, b);
    await append(store, [chat(conv, a, "before")]);
    await store.setBlock(b, a, true);
    const [result] = await store.appendMessages([chat(conv, a, "after the block")]);
    assert.deepEqual(result, { blocked: true, conv });
    assert.equal(await store.lastSeq(conv), 1);
    const [reply] = await append(store, [chat(conv, b, "the blocker may still write")]);
    assert.equal(reply.seq, 2, "the blocked message took no seq");
    assert.deepEqual(texts(await store.messagesAfter(conv, 0, 10)), [
      "before",
      "the blocker may still write",
    ]);
  });

  test("appendMessages() of a new conversation to a blocker creates no conversation", async ({ store }) => {
    const [a, b] = await users(store, "a", "b");
    await store.setBlock(b, a, true);
    const conv = directConv(a, b);
    assert.deepEqual(await store.appendMessages([chat(conv, a, "hi")]), [{ blocked: true, conv }]);
    assert.equal(await store.lastSeq(conv), 0);
    assert.deepEqual(await store.listConversations(a), []);
    assert.deepEqual(await store.listConversations(b), []);
  });

  test("appendMessages() stores the rest of a batch around a blocked message, gapless", async ({ store }) => {
    const [a, b, c] = await users(store, "a", "b", "c");
    const ab = directConv(a, b);
    const ac = directConv(a, c);
    await store.setBlock(b, a, true);
    const results = await store.appendMessages([
      chat(ac, a, "ac1"),
      chat(ab, a, "blocked"),
      chat(ac, a, "ac2"),
      chat(ab, b, "b writes"),
    ]);
    assert.deepEqual(results.map((r) => "blocked" in r ? "blocked" : r.seq), [1, "blocked", 2, 1]);
    assert.deepEqual(texts(await store.messagesAfter(ab, 0, 10)), ["b writes"]);
    assert.deepEqual(texts(await store.messagesAfter(ac, 0, 10)), ["ac1", "ac2"]);
  });

  test("appendMessages() of a cmid stored before the block still answers the dup", async ({ store }) => {
    const [a, b] = await users(store, "a", "b");
    const conv = directConv(a, b);
    const [first] = await append(store, [chat(conv, a, "first", { cmid: "c-1" })]);
    await store.setBlock(b, a, true);
    const [repeat, fresh] = await store.appendMessages([
      chat(conv, a, "first again", { cmid: "c-1" }),
      chat(conv, a, "new", { cmid: "c-2" }),
    ]);
    assert.deepEqual(repeat, { ...first, dup: true });
    assert.deepEqual(fresh, { blocked: true, conv });
  });

  test("appendMessages() is blocked only one way, only one-to-one, and only while the block lasts", async ({ store }) => {
    const [a, b] = await users(store, "a", "b");
    const conv = directConv(a, b);
    const group = await store.createGroup(a, "g", "");
    await store.addGroupMember(group, b);
    await store.setBlock(b, a, true);
    const [toGroup, fromBlocker] = await append(store, [
      chat(groupConv(group), a, "group chat is untouched"),
      chat(conv, b, "blocker to blocked"),
    ]);
    assert.deepEqual([toGroup.seq, fromBlocker.seq], [1, 1]);
    await store.setBlock(b, a, false);
    const [after] = await append(store, [chat(conv, a, "after unblock")]);
    assert.equal(after.seq, 2);
  });

  test("friend and block methods reject fractional ids with RangeError", async ({ store }) => {
    await assert.rejects(store.requestFriend(1.5, 2, ""), RangeError);
    await assert.rejects(store.answerFriendRequest(1, Number.NaN, true), RangeError);
    await assert.rejects(store.listFriendRequests(2 ** 53), RangeError);
    await assert.rejects(store.removeFriend(1, 0.5), RangeError);
    await assert.rejects(store.setBlock(1.5, 2, true), RangeError);
    await assert.rejects(store.isBlocked(1, 2.5), RangeError);
    await assert.rejects(store.listBlocks(Number.NaN), RangeError);
  });

  test("friend and block methods reject with StoreUnavailableError once closed", async ({ store }) => {
    await store.close();
    await assert.rejects(store.requestFriend(1, 2, ""), StoreUnavailableError);
    await assert.rejects(store.answerFriendRequest(1, 2, true), StoreUnavailableError);
    await assert.rejects(store.listFriendRequests(1), StoreUnavailableError);
    await assert.rejects(store.removeFriend(1, 2), StoreUnavailableError);
    await assert.rejects(store.setBlock(1, 2, true), StoreUnavailableError);
    await assert.rejects(store.isBlocked(1, 2), StoreUnavailableError);
    await assert.rejects(store.listBlocks(1), StoreUnavailableError);
  });
}
