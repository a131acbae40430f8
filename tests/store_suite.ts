/**
 * The shared contract test of {@linkcode Store}: every implementation runs exactly these cases
 * (`tests/sqlite_store_test.ts`, and the MySQL test with a fresh database per case).
 *
 * The cases never assume particular id values (a database may hand out ids from any start); they use the ids
 * the store returns, and "missing" ids are derived from them.
 *
 * @module
 */

import assert from "node:assert/strict";
import { NameTakenError, StoreUnavailableError } from "../lib/store/errors.ts";
import type { OfflineEntry, Store } from "../lib/store/store.ts";

/** Names and frames that break naive quoting or encoding. Names stay within 50 characters (PROTOCOL.md). */
const AWKWARD_NAMES = [
  `O'Brien "the" \\ back\\slash`,
  "Zoë 你好 مرحبا 😀👩‍👩‍👧",
  "'; DROP TABLE user; --",
  "%_ wildcards\ttab",
];

/** A frame as the service stores it: one JSON object with a chat message in it. */
function chatFrame(from: number, msg: string): string {
  return JSON.stringify({ msgid: 6, id: from, name: "sender", toid: 0, msg, time: "2026-11-22 10:00:00" });
}

/** An id that none of `ids` is, nor any id the store handed out before them. */
function missingId(...ids: number[]): number {
  return Math.max(0, ...ids) + 1_000_000;
}

/**
 * Registers the shared {@linkcode Store} cases as `Deno.test`s named `${name}: <method> <criteria>`.
 * `open` must return a migrated, empty store that the case owns; each case closes it.
 *
 * @example
 * ```ts
 * storeSuite("SqliteStore", async () => {
 *   const store = SqliteStore.open(":memory:");
 *   await store.migrate();
 *   return store;
 * });
 * ```
 */
export function storeSuite(name: string, open: () => Promise<Store>): void {
  function test(title: string, fn: (store: Store) => Promise<void>): void {
    Deno.test({
      name: `${name}: ${title}`,
      // A store owns sockets and timers in some implementations; a case must leave nothing open.
      sanitizeOps: true,
      sanitizeResources: true,
      async fn() {
        await using store = await open();
        await fn(store);
      },
    });
  }

  test("ping() resolves on an open store", async (store) => {
    assert.equal(await store.ping(), undefined);
  });

  test("migrate() twice is harmless and keeps the data", async (store) => {
    const id = await store.createUser("alice", "hash-a");
    await store.migrate();
    await store.migrate();
    assert.deepEqual(await store.findUser(id), { id, name: "alice", passwordHash: "hash-a" });
  });

  test("close() twice is harmless, later calls reject with StoreUnavailableError", async (store) => {
    await store.close();
    await store.close();
    await assert.rejects(store.ping(), StoreUnavailableError);
    await assert.rejects(store.findUser(1), StoreUnavailableError);
  });

  test("createUser() returns an id that findUser() reads back", async (store) => {
    const alice = await store.createUser("alice", "scrypt$salt$hash");
    const bob = await store.createUser("bob", "other-hash");
    assert.ok(Number.isSafeInteger(alice) && alice > 0, `id ${alice}`);
    assert.notEqual(alice, bob);
    assert.deepEqual(await store.findUser(alice), {
      id: alice,
      name: "alice",
      passwordHash: "scrypt$salt$hash",
    });
    assert.deepEqual(await store.findUser(bob), { id: bob, name: "bob", passwordHash: "other-hash" });
  });

  test("createUser() of a taken name rejects with NameTakenError and changes nothing", async (store) => {
    const id = await store.createUser("alice", "first");
    await assert.rejects(store.createUser("alice", "second"), NameTakenError);
    assert.deepEqual(await store.findUser(id), { id, name: "alice", passwordHash: "first" });
    const next = await store.createUser("alice2", "h");
    assert.deepEqual(await store.existingUsers([id, next]), new Set([id, next]));
  });

  test("createUser() round-trips unicode, emoji, quotes and backslashes unchanged", async (store) => {
    const ids = [];
    for (const userName of AWKWARD_NAMES) ids.push(await store.createUser(userName, `${userName}-hash`));
    for (const [i, userName] of AWKWARD_NAMES.entries()) {
      assert.deepEqual(await store.findUser(ids[i]), {
        id: ids[i],
        name: userName,
        passwordHash: `${userName}-hash`,
      });
    }
    await assert.rejects(store.createUser(AWKWARD_NAMES[1], "again"), NameTakenError);
  });

  test("createUser() treats names that differ only in emoji as different names", async (store) => {
    // Collations that weigh every emoji alike (MySQL's utf8mb4_unicode_ci) would report these as taken.
    const apple = await store.createUser("fan 🍎", "h");
    const pear = await store.createUser("fan 🍐", "h");
    assert.equal((await store.findUser(apple))?.name, "fan 🍎");
    assert.equal((await store.findUser(pear))?.name, "fan 🍐");
  });

  test("findUser() of a missing id resolves null", async (store) => {
    const id = await store.createUser("alice", "h");
    assert.equal(await store.findUser(missingId(id)), null);
  });

  test("existingUsers() of no ids is an empty set", async (store) => {
    await store.createUser("alice", "h");
    assert.deepEqual(await store.existingUsers([]), new Set());
  });

  test("existingUsers() returns exactly the ids that exist", async (store) => {
    const a = await store.createUser("a", "h");
    const b = await store.createUser("b", "h");
    const c = await store.createUser("c", "h");
    const missing = missingId(a, b, c);
    assert.deepEqual(await store.existingUsers([c, missing, a, a]), new Set([a, c]));
    assert.deepEqual(await store.existingUsers([missing]), new Set());
  });

  test("setUserState() and setUsersOffline() succeed with and without ids and change nothing else", async (store) => {
    const a = await store.createUser("a", "ha");
    const b = await store.createUser("b", "hb");
    await store.addFriend(a, b);
    await store.setUserState(a, true);
    await store.setUserState(b, true);
    await store.setUserState(a, false);
    await store.setUserState(missingId(a, b), true);
    await store.setUsersOffline([]);
    await store.setUsersOffline([b, missingId(a, b)]);
    await store.setUsersOffline();
    assert.deepEqual(await store.findUser(a), { id: a, name: "a", passwordHash: "ha" });
    assert.deepEqual(await store.findUser(b), { id: b, name: "b", passwordHash: "hb" });
    assert.deepEqual(await store.listFriends(a), [{ id: b, name: "b" }]);
  });

  test("addFriend() twice is a no-op and is one-directional", async (store) => {
    const a = await store.createUser("a", "h");
    const b = await store.createUser("b", "h");
    await store.addFriend(a, b);
    await store.addFriend(a, b);
    assert.deepEqual(await store.listFriends(a), [{ id: b, name: "b" }]);
    assert.deepEqual(await store.listFriends(b), []);
    assert.deepEqual(await store.listFollowers(b), [a]);
  });

  test("listFriends() lists friends ordered by id with their names", async (store) => {
    const me = await store.createUser("me", "h");
    const f1 = await store.createUser("Zoë 😀", "h");
    const f2 = await store.createUser("bob", "h");
    const f3 = await store.createUser(`"carol"`, "h");
    await store.createUser("stranger", "h");
    for (const friend of [f3, f1, f2]) await store.addFriend(me, friend);
    assert.deepEqual(await store.listFriends(me), [
      { id: f1, name: "Zoë 😀" },
      { id: f2, name: "bob" },
      { id: f3, name: `"carol"` },
    ]);
  });

  test("listFollowers() lists the users who have the user as a friend", async (store) => {
    const target = await store.createUser("target", "h");
    const a = await store.createUser("a", "h");
    const b = await store.createUser("b", "h");
    const c = await store.createUser("c", "h");
    await store.addFriend(b, target);
    await store.addFriend(a, target);
    await store.addFriend(target, c);
    assert.deepEqual(
      (await store.listFollowers(target)).toSorted((x, y) => x - y),
      [a, b].toSorted((x, y) => x - y),
    );
    assert.deepEqual(await store.listFollowers(a), []);
  });

  test("createGroup() makes the creator a member with role creator", async (store) => {
    const alice = await store.createUser("alice", "h");
    const groupId = await store.createGroup(alice, "devs", "we write code");
    assert.ok(Number.isSafeInteger(groupId) && groupId > 0, `id ${groupId}`);
    assert.equal(await store.groupExists(groupId), true);
    assert.deepEqual(await store.listGroupMemberIds(groupId), [alice]);
    assert.deepEqual(await store.listUserGroups(alice), [
      {
        id: groupId,
        name: "devs",
        desc: "we write code",
        members: [{ id: alice, name: "alice", role: "creator" }],
      },
    ]);
  });

  test("createGroup() round-trips unicode names and an empty description", async (store) => {
    const alice = await store.createUser("alice", "h");
    const groupName = `群组 "q" \\ 😀`;
    const groupId = await store.createGroup(alice, groupName, "");
    const [group] = await store.listUserGroups(alice);
    assert.equal(group.name, groupName);
    assert.equal(group.desc, "");
    assert.equal(group.id, groupId);
  });

  test("createGroup() of a taken name rejects with NameTakenError and adds no membership", async (store) => {
    const alice = await store.createUser("alice", "h");
    const bob = await store.createUser("bob", "h");
    const groupId = await store.createGroup(alice, "devs", "first");
    await assert.rejects(store.createGroup(bob, "devs", "second"), NameTakenError);
    assert.deepEqual(await store.listUserGroups(bob), []);
    assert.deepEqual(await store.listGroupMemberIds(groupId), [alice]);
    assert.equal((await store.listUserGroups(alice))[0].desc, "first");
  });

  test("groupExists() is false for a missing group", async (store) => {
    const alice = await store.createUser("alice", "h");
    const groupId = await store.createGroup(alice, "devs", "");
    assert.equal(await store.groupExists(missingId(groupId)), false);
  });

  test("addGroupMember() twice is a no-op and keeps the creator a creator", async (store) => {
    const alice = await store.createUser("alice", "h");
    const bob = await store.createUser("bob", "h");
    const groupId = await store.createGroup(alice, "devs", "");
    await store.addGroupMember(groupId, bob);
    await store.addGroupMember(groupId, bob);
    await store.addGroupMember(groupId, alice);
    assert.deepEqual(await store.listUserGroups(bob), [
      {
        id: groupId,
        name: "devs",
        desc: "",
        members: [{ id: alice, name: "alice", role: "creator" }, { id: bob, name: "bob", role: "normal" }],
      },
    ]);
  });

  test("listGroupMemberIds() is ordered by id and empty for a missing group", async (store) => {
    const first = await store.createUser("first", "h");
    const second = await store.createUser("second", "h");
    const third = await store.createUser("third", "h");
    const groupId = await store.createGroup(second, "devs", "");
    await store.addGroupMember(groupId, third);
    await store.addGroupMember(groupId, first);
    assert.deepEqual(await store.listGroupMemberIds(groupId), [first, second, third]);
    assert.deepEqual(await store.listGroupMemberIds(missingId(groupId)), []);
  });

  test("listUserGroups() lists the user's groups with all members and roles, ordered", async (store) => {
    const a = await store.createUser("a", "h");
    const b = await store.createUser("b", "h");
    const c = await store.createUser("c", "h");
    const loner = await store.createUser("loner", "h");
    const g1 = await store.createGroup(c, "g1", "one");
    const g2 = await store.createGroup(a, "g2", "two");
    const other = await store.createGroup(b, "other", "not c's");
    await store.addGroupMember(g2, c);
    await store.addGroupMember(g2, b);
    await store.addGroupMember(g1, a);
    await store.addGroupMember(other, a);
    assert.deepEqual(await store.listUserGroups(c), [
      {
        id: g1,
        name: "g1",
        desc: "one",
        members: [{ id: a, name: "a", role: "normal" }, { id: c, name: "c", role: "creator" }],
      },
      {
        id: g2,
        name: "g2",
        desc: "two",
        members: [
          { id: a, name: "a", role: "creator" },
          { id: b, name: "b", role: "normal" },
          { id: c, name: "c", role: "normal" },
        ],
      },
    ]);
    assert.deepEqual((await store.listUserGroups(a)).map((group) => group.id), [g1, g2, other]);
    assert.deepEqual(await store.listUserGroups(loner), []);
  });

  test("storeOffline() of no entries is a no-op", async (store) => {
    const a = await store.createUser("a", "h");
    await store.storeOffline([]);
    assert.deepEqual(await store.readOffline(a, 10), []);
  });

  test("storeOffline() preserves order across many entries and users", async (store) => {
    const users = [
      await store.createUser("a", "h"),
      await store.createUser("b", "h"),
      await store.createUser("c", "h"),
    ];
    const expected = new Map<number, string[]>(users.map((id) => [id, []]));
    // Two batches, users interleaved, so order must hold within a batch and across batches.
    for (const batch of [0, 1]) {
      const entries: OfflineEntry[] = [];
      for (let i = 0; i < 300; i++) {
        const userId = users[(i * 7 + batch) % users.length];
        const frame = chatFrame(userId, `batch ${batch} #${i}`);
        entries.push({ userId, frame });
        expected.get(userId)!.push(frame);
      }
      await store.storeOffline(entries);
    }
    for (const userId of users) {
      const messages = await store.readOffline(userId, 1000);
      assert.deepEqual(messages.map((m) => m.frame), expected.get(userId));
      const ids = messages.map((m) => m.id);
      assert.ok(ids.every((id, i) => i === 0 || id > ids[i - 1]), "ids increase with age");
    }
  });

  test("storeOffline() round-trips unicode, quotes, backslashes and JSON escapes unchanged", async (store) => {
    const a = await store.createUser("a", "h");
    const frames = [
      ...AWKWARD_NAMES.map((text) => chatFrame(a, text)),
      chatFrame(a, "line\nbreak \u0000 nul \u2028 separator \\u00e9 literal"),
      `{"msgid":6,"msg":"raw \\"escaped\\" text","emoji":"\\ud83d\\ude00"}`,
    ];
    await store.storeOffline(frames.map((frame) => ({ userId: a, frame })));
    assert.deepEqual((await store.readOffline(a, 100)).map((m) => m.frame), frames);
  });

  test("storeOffline() stores a 4000-character and a 100,000-byte frame intact", async (store) => {
    const a = await store.createUser("a", "h");
    // Counted in code points, as PROTOCOL.md counts characters: the emoji are two UTF-16 units each.
    const long = chatFrame(a, [..."你好😀 ab".repeat(800)].slice(0, 4000).join(""));
    // 4-byte emoji plus ASCII padding, sized to exactly 100,000 UTF-8 bytes: past MySQL TEXT's 65,535.
    const head = chatFrame(a, "😀".repeat(20_000));
    const padding = 100_000 - new TextEncoder().encode(head).length;
    const huge = chatFrame(a, "😀".repeat(20_000) + "x".repeat(padding));
    assert.equal(new TextEncoder().encode(huge).length, 100_000);
    assert.equal([...JSON.parse(long).msg].length, 4000);
    await store.storeOffline([{ userId: a, frame: long }, { userId: a, frame: huge }]);
    const messages = await store.readOffline(a, 10);
    assert.equal(messages.length, 2);
    assert.ok(messages[0].frame === long, "4000-character frame changed");
    assert.ok(messages[1].frame === huge, "100,000-byte frame changed");
  });

  test("storeOffline() stores all entries or none", async (store) => {
    const a = await store.createUser("a", "h");
    const bad = { userId: a, frame: null as unknown as string };
    await assert.rejects(store.storeOffline([{ userId: a, frame: "first" }, bad]));
    assert.deepEqual(await store.readOffline(a, 10), []);
  });

  test("readOffline() returns the oldest `limit` messages, oldest first", async (store) => {
    const a = await store.createUser("a", "h");
    const frames = Array.from({ length: 10 }, (_, i) => chatFrame(a, `m${i}`));
    for (const frame of frames) await store.storeOffline([{ userId: a, frame }]);
    const first = await store.readOffline(a, 3);
    assert.deepEqual(first.map((m) => m.frame), frames.slice(0, 3));
    assert.deepEqual(await store.readOffline(a, 3), first, "reading does not consume");
    await store.deleteOffline(a, first.map((m) => m.id));
    assert.deepEqual((await store.readOffline(a, 3)).map((m) => m.frame), frames.slice(3, 6));
    assert.deepEqual((await store.readOffline(a, 100)).map((m) => m.frame), frames.slice(3));
    assert.deepEqual(await store.readOffline(a, 0), []);
    assert.deepEqual(await store.readOffline(missingId(a), 10), []);
  });

  test("deleteOffline() deletes exactly the given ids of that user", async (store) => {
    const a = await store.createUser("a", "h");
    const b = await store.createUser("b", "h");
    await store.storeOffline([
      { userId: a, frame: "a1" },
      { userId: b, frame: "b1" },
      { userId: a, frame: "a2" },
      { userId: a, frame: "a3" },
      { userId: b, frame: "b2" },
    ]);
    const sent = await store.readOffline(a, 2);
    assert.deepEqual(sent.map((m) => m.frame), ["a1", "a2"]);
    const [b1] = await store.readOffline(b, 1);
    // A message that arrives between the read and the delete must survive.
    await store.storeOffline([{ userId: a, frame: "a4" }]);
    await store.deleteOffline(a, [
      ...sent.map((m) => m.id),
      b1.id,
      missingId(b1.id, ...sent.map((m) => m.id)),
    ]);
    assert.deepEqual((await store.readOffline(a, 10)).map((m) => m.frame), ["a3", "a4"]);
    assert.deepEqual(
      (await store.readOffline(b, 10)).map((m) => m.frame),
      ["b1", "b2"],
      "other user's rows kept",
    );
    await store.deleteOffline(a, []);
    assert.deepEqual((await store.readOffline(a, 10)).map((m) => m.frame), ["a3", "a4"]);
  });
}
