/**
 * The shared store suite's cases for devices and their offline queues (`tests/store_suite.ts`):
 * registerDevice(), deviceCursors(), messagesPast() and saveCursors().
 *
 * @module
 */

import assert from "node:assert/strict";
import { directConv, groupConv } from "../lib/conversation_name.ts";
import { StoreUnavailableError } from "../lib/store/errors.ts";
import type { DeviceCursor } from "../lib/store/store.ts";
import { chat, type SuiteTest, texts, users } from "./store_suite_fixture.ts";

/** Cursors as a plain object, easier to compare. */
function plain(cursors: Map<string, DeviceCursor>): Record<string, DeviceCursor> {
  return Object.fromEntries(cursors);
}

/** Registers the cases of registerDevice(), deviceCursors(), messagesPast() and saveCursors(). */
export function deviceCases(test: SuiteTest): void {
  test("registerDevice() is true for a new device and false for a known one", async ({ store }) => {
    const [a, b] = await users(store, "a", "b");
    assert.equal(await store.registerDevice(a, "phone"), true);
    assert.equal(await store.registerDevice(a, "phone"), false);
    assert.equal(await store.registerDevice(a, "laptop"), true);
    assert.equal(await store.registerDevice(b, "phone"), true, "devices are per user");
  });

  test("registerDevice() of a known device keeps its cursors (a reconnect)", async ({ store }) => {
    const [a, b] = await users(store, "a", "b");
    assert.equal(await store.registerDevice(a, "phone"), true);
    const conv = directConv(a, b);
    await store.appendMessages([chat(conv, b, "1"), chat(conv, b, "2")]);
    await store.saveCursors([{ userId: a, device: "phone", conv, seq: 2 }]);
    assert.equal(await store.registerDevice(a, "phone"), false);
    assert.equal((await store.deviceCursors(a, "phone")).get(conv)?.cursor, 2);
  });

  test("deviceCursors() lists the user's conversations with messages, at 0 for a first device", async ({ store }) => {
    const [a, b, c] = await users(store, "a", "b", "c");
    const groupId = await store.createGroup(b, "g", "");
    await store.addGroupMember(groupId, a);
    await store.createGroup(a, "quiet", "");
    await store.appendMessages([
      chat(directConv(a, b), b, "1"),
      chat(directConv(a, b), b, "2"),
      chat(directConv(b, c), b, "not a's"),
      chat(groupConv(groupId), b, "g1"),
    ]);
    await store.registerDevice(a, "phone");
    assert.deepEqual(plain(await store.deviceCursors(a, "phone")), {
      [directConv(a, b)]: { cursor: 0, lastSeq: 2 },
      [groupConv(groupId)]: { cursor: 0, lastSeq: 1 },
    });
  });

  test("deviceCursors() never puts a group cursor below the seq the user joined at", async ({ store }) => {
    const [a, late] = await users(store, "a", "late");
    const groupId = await store.createGroup(a, "g", "");
    const group = groupConv(groupId);
    await store.appendMessages([chat(group, a, "1"), chat(group, a, "2"), chat(group, a, "3")]);
    await store.addGroupMember(groupId, late);
    await store.registerDevice(late, "phone");
    await store.appendMessages([chat(group, a, "4")]);
    assert.deepEqual(plain(await store.deviceCursors(late, "phone")), { [group]: { cursor: 3, lastSeq: 4 } });
    await store.saveCursors([{ userId: late, device: "phone", conv: group, seq: 1 }]);
    assert.deepEqual(plain(await store.deviceCursors(late, "phone")), { [group]: { cursor: 3, lastSeq: 4 } });
    // Offline delivery starts at the join; the history before it stays readable (HISTORY).
    assert.deepEqual(texts(await store.messagesPast(late, new Map([[group, 3]]), 10)), ["4"]);
    assert.deepEqual(texts(await store.messagesBefore(group, 4, 10)), ["1", "2", "3"]);
  });

  test("deviceCursors() leaves out groups the user left", async ({ store }) => {
    const [a, b] = await users(store, "a", "b");
    const groupId = await store.createGroup(a, "g", "");
    await store.addGroupMember(groupId, b);
    await store.appendMessages([chat(groupConv(groupId), a, "1")]);
    await store.removeGroupMember(groupId, b);
    await store.registerDevice(b, "phone");
    assert.deepEqual(plain(await store.deviceCursors(b, "phone")), {});
  });

  test("registerDevice() starts a new device at the lowest cursor of the user's other devices", async ({ store }) => {
    const [a, b, c] = await users(store, "a", "b", "c");
    const ab = directConv(a, b);
    const ac = directConv(a, c);
    await store.appendMessages([
      ...Array.from({ length: 6 }, (_, i) => chat(ab, b, `ab${i}`)),
      ...Array.from({ length: 4 }, (_, i) => chat(ac, c, `ac${i}`)),
    ]);
    await store.registerDevice(a, "phone");
    await store.registerDevice(a, "laptop");
    await store.saveCursors([
      { userId: a, device: "phone", conv: ab, seq: 5 },
      { userId: a, device: "laptop", conv: ab, seq: 3 },
      // Only the phone got past ac: the laptop is still at 0 there.
      { userId: a, device: "phone", conv: ac, seq: 4 },
    ]);
    assert.equal(await store.registerDevice(a, "tablet"), true);
    assert.deepEqual(plain(await store.deviceCursors(a, "tablet")), {
      [ab]: { cursor: 3, lastSeq: 6 },
      [ac]: { cursor: 0, lastSeq: 4 },
    });
    // A known device keeps its own cursors.
    assert.equal(await store.registerDevice(a, "phone"), false);
    assert.deepEqual(plain(await store.deviceCursors(a, "phone")), {
      [ab]: { cursor: 5, lastSeq: 6 },
      [ac]: { cursor: 4, lastSeq: 4 },
    });
  });

  test("registerDevice() of a user's only device starts at 0 whatever other users' devices have", async ({ store }) => {
    const [a, b] = await users(store, "a", "b");
    const conv = directConv(a, b);
    await store.appendMessages([chat(conv, a, "1"), chat(conv, b, "2")]);
    await store.registerDevice(b, "phone");
    await store.saveCursors([{ userId: b, device: "phone", conv, seq: 2 }]);
    await store.registerDevice(a, "phone");
    assert.deepEqual(plain(await store.deviceCursors(a, "phone")), { [conv]: { cursor: 0, lastSeq: 2 } });
  });

  test("saveCursors() only moves cursors forward, all in one call", async ({ store }) => {
    const [a, b] = await users(store, "a", "b");
    const conv = directConv(a, b);
    await store.appendMessages(Array.from({ length: 5 }, (_, i) => chat(conv, b, `${i}`)));
    await store.registerDevice(a, "phone");
    await store.saveCursors([{ userId: a, device: "phone", conv, seq: 4 }]);
    await store.saveCursors([{ userId: a, device: "phone", conv, seq: 2 }]);
    assert.equal((await store.deviceCursors(a, "phone")).get(conv)?.cursor, 4);
    await store.saveCursors([
      { userId: a, device: "phone", conv, seq: 3 },
      { userId: a, device: "phone", conv, seq: 5 },
      { userId: a, device: "phone", conv, seq: 1 },
    ]);
    assert.equal((await store.deviceCursors(a, "phone")).get(conv)?.cursor, 5);
    await store.saveCursors([]);
    assert.equal((await store.deviceCursors(a, "phone")).get(conv)?.cursor, 5);
  });

  test("saveCursors() with a bad update rejects and saves none of the call", async ({ store }) => {
    const [a, b] = await users(store, "a", "b");
    const conv = directConv(a, b);
    await store.appendMessages([chat(conv, b, "1"), chat(conv, b, "2")]);
    await store.registerDevice(a, "phone");
    await assert.rejects(
      store.saveCursors([
        { userId: a, device: "phone", conv, seq: 2 },
        { userId: a, device: "phone", conv: "nonsense", seq: 1 },
      ]),
      RangeError,
    );
    await assert.rejects(store.saveCursors([{ userId: a, device: "phone", conv, seq: -1 }]), RangeError);
    assert.equal((await store.deviceCursors(a, "phone")).get(conv)?.cursor, 0);
  });

  test("messagesPast() returns others' messages past the cursors, in stored order, at most limit", async ({ store }) => {
    const [a, b, c] = await users(store, "a", "b", "c");
    const ab = directConv(a, b);
    const ac = directConv(a, c);
    const groupId = await store.createGroup(c, "g", "");
    await store.addGroupMember(groupId, a);
    const group = groupConv(groupId);
    await store.appendMessages([chat(ab, b, "ab1"), chat(ac, c, "ac1"), chat(ab, a, "ab2 own")]);
    await store.appendMessages([chat(group, c, "g1"), chat(ab, b, "ab3"), chat(ac, a, "ac2 own")]);
    await store.appendMessages([chat(ac, c, "ac3"), chat(group, a, "g2 own"), chat(group, c, "g3")]);
    const all = new Map([[ab, 0], [ac, 0], [group, 0]]);
    assert.deepEqual(texts(await store.messagesPast(a, all, 100)), ["ab1", "ac1", "g1", "ab3", "ac3", "g3"]);
    assert.deepEqual(texts(await store.messagesPast(a, all, 4)), ["ab1", "ac1", "g1", "ab3"]);
    const later = new Map([[ab, 1], [ac, 3], [group, 0]]);
    assert.deepEqual(texts(await store.messagesPast(a, later, 100)), ["g1", "ab3", "g3"]);
    assert.deepEqual(texts(await store.messagesPast(a, new Map([[ab, 0]]), 100)), ["ab1", "ab3"]);
    const past = await store.messagesPast(a, new Map([[ab, 2]]), 100);
    assert.deepEqual(past.map((m) => [m.conv, m.seq, m.senderId]), [[ab, 3, b]]);
    assert.deepEqual(await store.messagesPast(a, all, 0), []);
    assert.deepEqual(await store.messagesPast(a, new Map(), 100), []);
  });

  test("messagesPast() pages through a long queue in stored order", async ({ store }) => {
    const [a, b, c] = await users(store, "a", "b", "c");
    const ab = directConv(a, b);
    const ac = directConv(a, c);
    const expected: string[] = [];
    for (let batch = 0; batch < 30; batch++) {
      const messages = [chat(ab, b, `ab${batch}`), chat(ac, c, `ac${batch}`)];
      if (batch % 3 === 0) messages.reverse();
      expected.push(...messages.map((m) => JSON.parse(m.frame(0)).msg));
      await store.appendMessages(messages);
    }
    const cursors = new Map([[ab, 0], [ac, 0]]);
    const seen: string[] = [];
    for (;;) {
      const page = await store.messagesPast(a, cursors, 7);
      if (page.length === 0) break;
      for (const message of page) cursors.set(message.conv, message.seq);
      seen.push(...texts(page));
    }
    assert.deepEqual(seen, expected);
  });

  test("the device methods reject bad arguments with RangeError", async ({ store }) => {
    await assert.rejects(store.registerDevice(1, ""), RangeError);
    await assert.rejects(store.registerDevice(1.5, "phone"), RangeError);
    await assert.rejects(store.deviceCursors(1, ""), RangeError);
    await assert.rejects(store.messagesPast(1, new Map([["u:1:2", 0]]), -1), RangeError);
    await assert.rejects(store.messagesPast(1, new Map([["bad", 0]]), 10), RangeError);
    await assert.rejects(store.messagesPast(1, new Map([["u:1:2", 0.5]]), 10), RangeError);
  });

  test("the device methods reject with StoreUnavailableError once the store is closed", async ({ store }) => {
    await store.close();
    await assert.rejects(store.registerDevice(1, "phone"), StoreUnavailableError);
    await assert.rejects(store.deviceCursors(1, "phone"), StoreUnavailableError);
    await assert.rejects(store.messagesPast(1, new Map([["u:1:2", 0]]), 10), StoreUnavailableError);
    await assert.rejects(
      store.saveCursors([{ userId: 1, device: "phone", conv: "u:1:2", seq: 1 }]),
      StoreUnavailableError,
    );
  });
}
