/**
 * The shared store suite's cases for a user's list of conversations and read state (`tests/store_suite.ts`):
 * listConversations() and markRead().
 *
 * @module
 */

import assert from "node:assert/strict";
import { directConv, groupConv } from "../lib/conversation_name.ts";
import { chat, type SuiteTest, users } from "./store_suite_fixture.ts";

/** Registers the cases of listConversations() and markRead(). */
export function conversationCases(test: SuiteTest): void {
  test("listConversations() lists one-to-one and group conversations with messages, ordered by conv", async ({ store }) => {
    const [a, b, c, d] = await users(store, "a", "b", "c", "d");
    const g1 = await store.createGroup(a, "g1", "");
    const g2 = await store.createGroup(b, "g2", "");
    const quiet = await store.createGroup(a, "quiet", "");
    await store.addGroupMember(g2, a);
    await store.appendMessages([
      chat(directConv(a, b), b, "b→a"),
      chat(directConv(c, a), c, "c→a"),
      chat(directConv(b, c), b, "not a's"),
      chat(groupConv(g1), a, "a in g1"),
      chat(groupConv(g2), b, "b in g2"),
      chat(groupConv(g2), b, "b in g2 again"),
    ]);
    const expected = [
      { conv: groupConv(g1), lastseq: 1, readseq: 1, unread: 0 },
      { conv: groupConv(g2), lastseq: 2, readseq: 0, unread: 2 },
      { conv: directConv(a, b), lastseq: 1, readseq: 0, peerread: 1, unread: 1 },
      { conv: directConv(a, c), lastseq: 1, readseq: 0, peerread: 1, unread: 1 },
    ].toSorted((x, y) => x.conv < y.conv ? -1 : 1);
    assert.deepEqual(await store.listConversations(a), expected);
    assert.ok(!(await store.listConversations(a)).some((conv) => conv.conv === groupConv(quiet)));
    assert.deepEqual(await store.listConversations(d), [], "a user without conversations");
  });

  test("listConversations() counts as unread only others' messages past the read seq", async ({ store }) => {
    const [a, b, c] = await users(store, "a", "b", "c");
    const groupId = await store.createGroup(a, "g", "");
    const group = groupConv(groupId);
    await store.addGroupMember(groupId, b);
    await store.addGroupMember(groupId, c);
    await store.appendMessages([
      chat(group, a, "1"),
      chat(group, b, "2"),
      chat(group, c, "3"),
      chat(group, b, "4"),
    ]);
    const summary = async (userId: number) => (await store.listConversations(userId))[0];
    assert.deepEqual(await summary(a), { conv: group, lastseq: 4, readseq: 1, unread: 3 });
    assert.deepEqual(await summary(b), { conv: group, lastseq: 4, readseq: 4, unread: 0 });
    assert.deepEqual(await summary(c), { conv: group, lastseq: 4, readseq: 3, unread: 1 });
    await store.markRead(a, group, 3);
    assert.deepEqual(await summary(a), { conv: group, lastseq: 4, readseq: 3, unread: 1 });
  });

  test("listConversations() of a late joiner counts unread from the seq they joined at", async ({ store }) => {
    const [a, late] = await users(store, "a", "late");
    const groupId = await store.createGroup(a, "g", "");
    const group = groupConv(groupId);
    await store.appendMessages([chat(group, a, "1"), chat(group, a, "2")]);
    await store.addGroupMember(groupId, late);
    assert.deepEqual(await store.listConversations(late), [{
      conv: group,
      lastseq: 2,
      readseq: 2,
      unread: 0,
    }]);
    await store.appendMessages([chat(group, a, "3")]);
    assert.deepEqual(await store.listConversations(late), [{
      conv: group,
      lastseq: 3,
      readseq: 2,
      unread: 1,
    }]);
  });

  test("listConversations() of a former member is capped at the seq they left at", async ({ store }) => {
    const [a, b] = await users(store, "a", "b");
    const groupId = await store.createGroup(a, "g", "");
    const group = groupConv(groupId);
    await store.addGroupMember(groupId, b);
    await store.appendMessages([chat(group, a, "1"), chat(group, a, "2")]);
    await store.markRead(b, group, 1);
    await store.removeGroupMember(groupId, b);
    await store.appendMessages([chat(group, a, "after b left")]);
    assert.deepEqual(await store.listConversations(b), [{ conv: group, lastseq: 2, readseq: 1, unread: 1 }]);
    await store.addGroupMember(groupId, b);
    assert.deepEqual(await store.listConversations(b), [{ conv: group, lastseq: 3, readseq: 3, unread: 0 }]);
  });

  test("listConversations() leaves out a group left before it had messages", async ({ store }) => {
    const [a, b] = await users(store, "a", "b");
    const groupId = await store.createGroup(a, "g", "");
    await store.addGroupMember(groupId, b);
    await store.removeGroupMember(groupId, b);
    await store.appendMessages([chat(groupConv(groupId), a, "after b left")]);
    assert.deepEqual(await store.listConversations(b), []);
  });

  test("markRead() never moves the read seq backwards and returns the result", async ({ store }) => {
    const [a, b] = await users(store, "a", "b");
    const conv = directConv(a, b);
    await store.appendMessages(Array.from({ length: 5 }, (_, i) => chat(conv, b, `${i}`)));
    assert.equal(await store.markRead(a, conv, 3), 3);
    assert.equal(await store.markRead(a, conv, 2), 3);
    assert.equal(await store.markRead(a, conv, 0), 3);
    assert.equal(await store.markRead(a, conv, 5), 5);
    const [ofA] = await store.listConversations(a);
    assert.deepEqual(ofA, { conv, lastseq: 5, readseq: 5, peerread: 5, unread: 0 });
    const [ofB] = await store.listConversations(b);
    assert.equal(ofB.peerread, 5, "the other side sees the read seq");
  });

  test("markRead() of a conversation not read before starts from 0", async ({ store }) => {
    const [a, b] = await users(store, "a", "b");
    const group = groupConv(await store.createGroup(b, "g", ""));
    await store.appendMessages([chat(group, b, "1"), chat(group, b, "2")]);
    assert.equal(await store.markRead(a, group, 0), 0);
    assert.equal(await store.markRead(a, group, 2), 2);
  });

  test("markRead() and listConversations() reject bad arguments with RangeError", async ({ store }) => {
    await assert.rejects(store.markRead(1, "u:1", 1), RangeError);
    await assert.rejects(store.markRead(1, "u:1:2", -1), RangeError);
    await assert.rejects(store.markRead(1.5, "u:1:2", 1), RangeError);
    await assert.rejects(store.listConversations(Number.NaN), RangeError);
  });
}
