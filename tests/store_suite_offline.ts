/**
 * The shared store suite's cases for the first release's offline messages (`tests/store_suite.ts`): rows that
 * a database of that release still holds are read, oldest first, and deleted once handed over. New messages
 * never go there, so the rows are put in past the store ({@linkcode StoreFixture.insertLegacyOffline}).
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  AWKWARD_NAMES,
  chatFrame,
  missingId,
  type StoreFixture,
  type SuiteTest,
} from "./store_suite_fixture.ts";

async function insertAll(fixture: StoreFixture, rows: [number, string][]): Promise<void> {
  for (const [userId, frame] of rows) await fixture.insertLegacyOffline(userId, frame);
}

/** Registers the cases of readOffline() and deleteOffline(). */
export function offlineCases(test: SuiteTest): void {
  test("readOffline() returns the oldest `limit` messages, oldest first, without consuming them", async (fixture) => {
    const { store } = fixture;
    const a = await store.createUser("a", "h");
    const frames = Array.from({ length: 10 }, (_, i) => chatFrame(a, `m${i}`));
    await insertAll(fixture, frames.map((frame) => [a, frame]));
    const first = await store.readOffline(a, 3);
    assert.deepEqual(first.map((m) => m.frame), frames.slice(0, 3));
    assert.deepEqual(await store.readOffline(a, 3), first, "reading does not consume");
    await store.deleteOffline(a, first.map((m) => m.id));
    assert.deepEqual((await store.readOffline(a, 3)).map((m) => m.frame), frames.slice(3, 6));
    assert.deepEqual((await store.readOffline(a, 100)).map((m) => m.frame), frames.slice(3));
    assert.deepEqual(await store.readOffline(a, 0), []);
    assert.deepEqual(await store.readOffline(missingId(a), 10), []);
  });

  test("readOffline() keeps each user's order when users' rows interleave", async (fixture) => {
    const { store } = fixture;
    const ids = [await store.createUser("a", "h"), await store.createUser("b", "h")];
    const expected = new Map<number, string[]>(ids.map((id) => [id, []]));
    for (let i = 0; i < 40; i++) {
      const userId = ids[(i * 7) % 3 === 0 ? 0 : 1];
      const frame = chatFrame(userId, `#${i}`);
      await fixture.insertLegacyOffline(userId, frame);
      expected.get(userId)!.push(frame);
    }
    for (const userId of ids) {
      const messages = await store.readOffline(userId, 1000);
      assert.deepEqual(messages.map((m) => m.frame), expected.get(userId));
      assert.ok(messages.every((m, i) => i === 0 || m.id > messages[i - 1].id), "ids increase with age");
    }
  });

  test("readOffline() returns frames unchanged: unicode, escapes, a 100,000-byte frame", async (fixture) => {
    const { store } = fixture;
    const a = await store.createUser("a", "h");
    const head = chatFrame(a, "😀".repeat(20_000));
    const huge = chatFrame(
      a,
      "😀".repeat(20_000) + "x".repeat(100_000 - new TextEncoder().encode(head).length),
    );
    assert.equal(new TextEncoder().encode(huge).length, 100_000);
    const frames = [
      ...AWKWARD_NAMES.map((text) => chatFrame(a, text)),
      chatFrame(a, "line\nbreak \u0000 nul \u2028 separator \\u00e9 literal"),
      huge,
    ];
    await insertAll(fixture, frames.map((frame) => [a, frame]));
    const read = (await store.readOffline(a, 100)).map((m) => m.frame);
    assert.equal(read.length, frames.length);
    read.forEach((frame, i) => assert.ok(frame === frames[i], `frame ${i} changed`));
  });

  test("deleteOffline() deletes exactly the given ids of that user", async (fixture) => {
    const { store } = fixture;
    const a = await store.createUser("a", "h");
    const b = await store.createUser("b", "h");
    await insertAll(fixture, [[a, "a1"], [b, "b1"], [a, "a2"], [a, "a3"], [b, "b2"]]);
    const sent = await store.readOffline(a, 2);
    assert.deepEqual(sent.map((m) => m.frame), ["a1", "a2"]);
    const [b1] = await store.readOffline(b, 1);
    await store.deleteOffline(a, [
      ...sent.map((m) => m.id),
      b1.id,
      missingId(b1.id, ...sent.map((m) => m.id)),
    ]);
    assert.deepEqual((await store.readOffline(a, 10)).map((m) => m.frame), ["a3"]);
    assert.deepEqual(
      (await store.readOffline(b, 10)).map((m) => m.frame),
      ["b1", "b2"],
      "other user's rows kept",
    );
    await store.deleteOffline(a, []);
    assert.deepEqual((await store.readOffline(a, 10)).map((m) => m.frame), ["a3"]);
  });

  test("readOffline() finds another user's rows while any are left, and stops reading an empty table", async (fixture) => {
    const { store } = fixture;
    const a = await store.createUser("a", "h");
    const b = await store.createUser("b", "h");
    await fixture.insertLegacyOffline(a, "a1");
    assert.deepEqual(await store.readOffline(b, 10), [], "b has none, but the table is not empty");
    const [a1] = await store.readOffline(a, 10);
    assert.equal(a1.frame, "a1");
    await store.deleteOffline(a, [a1.id]);
    assert.deepEqual(await store.readOffline(a, 10), []);
    // No release adds rows after the upgrade: this one, put in past the store, shows the table is not read again.
    await fixture.insertLegacyOffline(b, "b1");
    assert.deepEqual(await store.readOffline(b, 10), []);
    await assert.rejects(store.readOffline(b, -1), RangeError, "arguments are still checked");
  });

  test("readOffline() and deleteOffline() reject ids and limits that are not integers with RangeError", async ({ store }) => {
    const a = await store.createUser("a", "h");
    await assert.rejects(store.readOffline(a, -1), RangeError);
    await assert.rejects(store.readOffline(1.5, 10), RangeError);
    await assert.rejects(store.deleteOffline(a, [Number.NaN]), RangeError);
  });
}
