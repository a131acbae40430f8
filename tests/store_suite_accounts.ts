/**
 * The shared store suite's cases for users, friends and groups (`tests/store_suite.ts`), plus the store's own
 * life cycle (ping, migrate, close).
 *
 * @module
 */

import assert from "node:assert/strict";
import { NameTakenError, StoreUnavailableError } from "../lib/store/errors.ts";
import { AWKWARD_NAMES, missingId, type SuiteTest } from "./store_suite_fixture.ts";

/** Registers the cases of users, friends, groups and the store's life cycle. */
export function accountCases(test: SuiteTest): void {
  test("ping() resolves on an open store", async ({ store }) => {
    assert.equal(await store.ping(), undefined);
  });

  test("migrate() twice is harmless and keeps the data", async ({ store }) => {
    const id = await store.createUser("alice", "hash-a");
    await store.migrate();
    await store.migrate();
    assert.deepEqual(await store.findUser(id), { id, name: "alice", passwordHash: "hash-a" });
  });

  test("close() twice is harmless, later calls reject with StoreUnavailableError", async ({ store }) => {
    await store.close();
    await store.close();
    await assert.rejects(store.ping(), StoreUnavailableError);
    await assert.rejects(store.findUser(1), StoreUnavailableError);
  });

  test("createUser() returns an id that findUser() reads back", async ({ store }) => {
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

  test("createUser() of a taken name rejects with NameTakenError and changes nothing", async ({ store }) => {
    const id = await store.createUser("alice", "first");
    await assert.rejects(store.createUser("alice", "second"), NameTakenError);
    assert.deepEqual(await store.findUser(id), { id, name: "alice", passwordHash: "first" });
    const next = await store.createUser("alice2", "h");
    assert.deepEqual(await store.existingUsers([id, next]), new Set([id, next]));
  });

  test("createUser() round-trips unicode, emoji, quotes and backslashes unchanged", async ({ store }) => {
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

  test("createUser() treats names that differ only in emoji as different names", async ({ store }) => {
    // Collations that weigh every emoji alike (MySQL's utf8mb4_unicode_ci) would report these as taken.
    const apple = await store.createUser("fan 🍎", "h");
    const pear = await store.createUser("fan 🍐", "h");
    assert.equal((await store.findUser(apple))?.name, "fan 🍎");
    assert.equal((await store.findUser(pear))?.name, "fan 🍐");
  });

  test("findUser() of a missing id resolves null", async ({ store }) => {
    const id = await store.createUser("alice", "h");
    assert.equal(await store.findUser(missingId(id)), null);
  });

  test("existingUsers() of no ids is an empty set", async ({ store }) => {
    await store.createUser("alice", "h");
    assert.deepEqual(await store.existingUsers([]), new Set());
  });

  test("existingUsers() returns exactly the ids that exist", async ({ store }) => {
    const a = await store.createUser("a", "h");
    const b = await store.createUser("b", "h");
    const c = await store.createUser("c", "h");
    const missing = missingId(a, b, c);
    assert.deepEqual(await store.existingUsers([c, missing, a, a]), new Set([a, c]));
    assert.deepEqual(await store.existingUsers([missing]), new Set());
  });

  test("setUserState() and setUsersOffline() succeed with and without ids and change nothing else", async ({ store }) => {
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

  test("addFriend() twice is a no-op and is one-directional", async ({ store }) => {
    const a = await store.createUser("a", "h");
    const b = await store.createUser("b", "h");
    await store.addFriend(a, b);
    await store.addFriend(a, b);
    assert.deepEqual(await store.listFriends(a), [{ id: b, name: "b" }]);
    assert.deepEqual(await store.listFriends(b), []);
    assert.deepEqual(await store.listFollowers(b), [a]);
  });

  test("listFriends() lists friends ordered by id with their names", async ({ store }) => {
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

  test("listFollowers() lists the users who have the user as a friend", async ({ store }) => {
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

  test("createGroup() makes the creator a member with role creator", async ({ store }) => {
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

  test("createGroup() round-trips unicode names and an empty description", async ({ store }) => {
    const alice = await store.createUser("alice", "h");
    const groupName = `群组 "q" \\ 😀`;
    const groupId = await store.createGroup(alice, groupName, "");
    const [group] = await store.listUserGroups(alice);
    assert.equal(group.name, groupName);
    assert.equal(group.desc, "");
    assert.equal(group.id, groupId);
  });

  test("createGroup() of a taken name rejects with NameTakenError and adds no membership", async ({ store }) => {
    const alice = await store.createUser("alice", "h");
    const bob = await store.createUser("bob", "h");
    const groupId = await store.createGroup(alice, "devs", "first");
    await assert.rejects(store.createGroup(bob, "devs", "second"), NameTakenError);
    assert.deepEqual(await store.listUserGroups(bob), []);
    assert.deepEqual(await store.listGroupMemberIds(groupId), [alice]);
    assert.equal((await store.listUserGroups(alice))[0].desc, "first");
  });

  test("groupExists() is false for a missing group", async ({ store }) => {
    const alice = await store.createUser("alice", "h");
    const groupId = await store.createGroup(alice, "devs", "");
    assert.equal(await store.groupExists(missingId(groupId)), false);
  });

  test("addGroupMember() twice is a no-op and keeps the creator a creator", async ({ store }) => {
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

  test("listGroupMemberIds() is ordered by id and empty for a missing group", async ({ store }) => {
    const first = await store.createUser("first", "h");
    const second = await store.createUser("second", "h");
    const third = await store.createUser("third", "h");
    const groupId = await store.createGroup(second, "devs", "");
    await store.addGroupMember(groupId, third);
    await store.addGroupMember(groupId, first);
    assert.deepEqual(await store.listGroupMemberIds(groupId), [first, second, third]);
    assert.deepEqual(await store.listGroupMemberIds(missingId(groupId)), []);
  });

  test("listUserGroups() lists the user's groups with all members and roles, ordered", async ({ store }) => {
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
}
