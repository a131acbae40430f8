/**
 * The shared store suite's cases for group roles (`tests/store_suite.ts`): findGroup(), addGroupMember()'s
 * role, leaveGroup() with its heir, and the permission rules of kickMember(), setMemberRole() and
 * updateGroup().
 *
 * @module
 */

import assert from "node:assert/strict";
import { groupConv } from "../lib/conversation_name.ts";
import { NameTakenError, StoreUnavailableError } from "../lib/store/errors.ts";
import type { GroupRole, Store } from "../lib/store/store.ts";
import { chat, missingId, type SuiteTest, users } from "./store_suite_fixture.ts";

/** The group's members as `[id, role]`, ordered by id. */
async function roles(store: Store, groupId: number): Promise<[number, GroupRole][]> {
  const group = await store.findGroup(groupId);
  assert.ok(group !== null, `group ${groupId} exists`);
  return group.members.map((member) => [member.id, member.role]);
}

/**
 * A group with a creator, two admins and two normal members (ids in that order), made by the creator and
 * `setMemberRole()`; `outsider` is not a member.
 */
async function staffedGroup(store: Store) {
  const [creator, admin, admin2, normal, normal2, outsider] = await users(
    store,
    "creator",
    "admin",
    "admin2",
    "normal",
    "normal2",
    "outsider",
  );
  const groupId = await store.createGroup(creator, "staffed", "desc");
  for (const member of [admin, admin2, normal, normal2]) await store.addGroupMember(groupId, member);
  for (const member of [admin, admin2]) await store.setMemberRole(groupId, creator, member, "admin");
  return { groupId, creator, admin, admin2, normal, normal2, outsider };
}

/** Registers the cases of findGroup(), addGroupMember()'s role, leaveGroup() and the role-dependent changes. */
export function groupRoleCases(test: SuiteTest): void {
  test("findGroup() returns the group with its members ordered by id, roles included", async ({ store }) => {
    const { groupId, creator, admin, admin2, normal, normal2 } = await staffedGroup(store);
    assert.deepEqual(await store.findGroup(groupId), {
      id: groupId,
      name: "staffed",
      desc: "desc",
      members: [
        { id: creator, name: "creator", role: "creator" },
        { id: admin, name: "admin", role: "admin" },
        { id: admin2, name: "admin2", role: "admin" },
        { id: normal, name: "normal", role: "normal" },
        { id: normal2, name: "normal2", role: "normal" },
      ],
    });
  });

  test("findGroup() of a missing group is null; of a group without members has none", async ({ store }) => {
    const [a] = await users(store, "a");
    const groupId = await store.createGroup(a, "g", "d");
    assert.equal(await store.findGroup(missingId(groupId)), null);
    await store.leaveGroup(groupId, a);
    assert.deepEqual(await store.findGroup(groupId), { id: groupId, name: "g", desc: "d", members: [] });
  });

  test("listUserGroups() shows admins as admin", async ({ store }) => {
    const { groupId, creator, admin, normal } = await staffedGroup(store);
    const [group] = await store.listUserGroups(normal);
    assert.equal(group.id, groupId);
    assert.deepEqual(
      [creator, admin, normal].map((id) => group.members.find((member) => member.id === id)?.role),
      ["creator", "admin", "normal"],
    );
  });

  test("addGroupMember() resolves normal for a new member and null for a member", async ({ store }) => {
    const [a, b] = await users(store, "a", "b");
    const groupId = await store.createGroup(a, "g", "");
    assert.equal(await store.addGroupMember(groupId, b), "normal");
    assert.equal(await store.addGroupMember(groupId, b), null);
    assert.equal(await store.addGroupMember(groupId, a), null, "the creator stays creator");
    assert.deepEqual(await roles(store, groupId), [[a, "creator"], [b, "normal"]]);
  });

  test("addGroupMember() to a group whose members all left makes a creator", async ({ store }) => {
    const [a, b, c] = await users(store, "a", "b", "c");
    const groupId = await store.createGroup(a, "g", "");
    await store.addGroupMember(groupId, b);
    await store.leaveGroup(groupId, a);
    assert.deepEqual(await store.leaveGroup(groupId, b), { ok: true }, "the last member leaves");
    assert.equal(await store.groupExists(groupId), true, "the group stays");
    assert.equal(await store.addGroupMember(groupId, c), "creator");
    assert.equal(await store.addGroupMember(groupId, a), "normal");
    assert.deepEqual(await roles(store, groupId), [[a, "normal"], [c, "creator"]]);
  });

  test("leaveGroup() of a normal member removes them, keeps their reading up to now, names no heir", async ({ store }) => {
    const [a, b] = await users(store, "a", "b");
    const groupId = await store.createGroup(a, "g", "");
    await store.addGroupMember(groupId, b);
    await store.appendMessages([chat(groupConv(groupId), a, "1")]);
    assert.deepEqual(await store.leaveGroup(groupId, b), { ok: true });
    assert.deepEqual(await store.groupAccess(groupId, b), { member: false, lastSeq: 1 });
    assert.deepEqual(await roles(store, groupId), [[a, "creator"]]);
  });

  test("leaveGroup() of a missing group or a non-member is refused and changes nothing", async ({ store }) => {
    const [a, b] = await users(store, "a", "b");
    const groupId = await store.createGroup(a, "g", "");
    assert.deepEqual(await store.leaveGroup(missingId(groupId), a), { ok: false, reason: "no_group" });
    assert.deepEqual(await store.leaveGroup(groupId, b), { ok: false, reason: "not_member" });
    assert.equal(await store.groupAccess(groupId, b), null);
    assert.deepEqual(await roles(store, groupId), [[a, "creator"]]);
  });

  test("leaveGroup() of the creator hands the role to the longest-standing admin", async ({ store }) => {
    const [creator, first, second, third] = await users(store, "creator", "first", "second", "third");
    const groupId = await store.createGroup(creator, "g", "");
    // Joined first, second, third; third was made admin before second: join order decides, not promotion.
    for (const member of [first, second, third]) await store.addGroupMember(groupId, member);
    await store.setMemberRole(groupId, creator, third, "admin");
    await store.setMemberRole(groupId, creator, second, "admin");
    assert.deepEqual(await store.leaveGroup(groupId, creator), { ok: true, heir: second });
    assert.deepEqual(await roles(store, groupId), [[first, "normal"], [second, "creator"], [third, "admin"]]);
  });

  test("leaveGroup() of the creator without admins hands the role to the longest-standing member", async ({ store }) => {
    const [creator, low, high] = await users(store, "creator", "low", "high");
    const groupId = await store.createGroup(creator, "g", "");
    // The higher id joined first: join order decides, not ids.
    await store.addGroupMember(groupId, high);
    await store.addGroupMember(groupId, low);
    assert.deepEqual(await store.leaveGroup(groupId, creator), { ok: true, heir: high });
    assert.deepEqual(await roles(store, groupId), [[low, "normal"], [high, "creator"]]);
    assert.deepEqual(await store.leaveGroup(groupId, high), { ok: true, heir: low });
    assert.deepEqual(await roles(store, groupId), [[low, "creator"]]);
  });

  test("leaveGroup() counts a member who left and came back as joining anew", async ({ store }) => {
    const [creator, back, stayed] = await users(store, "creator", "back", "stayed");
    const groupId = await store.createGroup(creator, "g", "");
    await store.addGroupMember(groupId, back);
    await store.addGroupMember(groupId, stayed);
    await store.leaveGroup(groupId, back);
    await store.addGroupMember(groupId, back);
    assert.deepEqual(await store.leaveGroup(groupId, creator), { ok: true, heir: stayed });
  });

  test("leaveGroup() of the creator who was the last member names no heir", async ({ store }) => {
    const [a] = await users(store, "a");
    const groupId = await store.createGroup(a, "g", "");
    assert.deepEqual(await store.leaveGroup(groupId, a), { ok: true });
    assert.deepEqual(await store.groupAccess(groupId, a), { member: false, lastSeq: 0 });
  });

  for (
    const [actor, target] of [
      ["creator", "admin"],
      ["creator", "normal"],
      ["admin", "normal"],
    ] as const
  ) {
    test(`kickMember() by the ${actor} of a ${target} member removes them`, async ({ store }) => {
      const group = await staffedGroup(store);
      const { groupId } = group;
      await store.appendMessages([chat(groupConv(groupId), group.creator, "1")]);
      const kicked = group[target];
      assert.deepEqual(await store.kickMember(groupId, group[actor], kicked), { ok: true, changed: true });
      assert.deepEqual(await store.groupAccess(groupId, kicked), { member: false, lastSeq: 1 });
      assert.ok(!(await store.listGroupMemberIds(groupId)).includes(kicked));
    });
  }

  for (
    const [actor, target] of [
      ["admin", "admin2"],
      ["admin", "creator"],
      ["normal", "normal2"],
      ["normal", "admin"],
      ["normal", "creator"],
    ] as const
  ) {
    test(`kickMember() by the ${actor} of the ${target} is not permitted`, async ({ store }) => {
      const group = await staffedGroup(store);
      const before = await roles(store, group.groupId);
      assert.deepEqual(
        await store.kickMember(group.groupId, group[actor], group[target]),
        { ok: false, reason: "not_permitted" },
      );
      assert.deepEqual(await roles(store, group.groupId), before);
    });
  }

  test("kickMember() refuses a missing group, a non-member actor and a non-member target", async ({ store }) => {
    const { groupId, creator, normal, outsider } = await staffedGroup(store);
    const before = await roles(store, groupId);
    assert.deepEqual(await store.kickMember(missingId(groupId), creator, normal), {
      ok: false,
      reason: "no_group",
    });
    assert.deepEqual(await store.kickMember(groupId, outsider, normal), { ok: false, reason: "not_member" });
    assert.deepEqual(await store.kickMember(groupId, creator, outsider), { ok: false, reason: "no_target" });
    assert.deepEqual(
      await store.kickMember(groupId, normal, outsider),
      { ok: false, reason: "no_target" },
      "a missing target is reported before the role rules",
    );
    assert.deepEqual(await roles(store, groupId), before);
  });

  test("setMemberRole() by the creator makes admins and normal members; the same role is no change", async ({ store }) => {
    const { groupId, creator, admin, normal } = await staffedGroup(store);
    assert.deepEqual(await store.setMemberRole(groupId, creator, normal, "admin"), {
      ok: true,
      changed: true,
    });
    assert.deepEqual(await store.setMemberRole(groupId, creator, admin, "normal"), {
      ok: true,
      changed: true,
    });
    assert.deepEqual(await store.setMemberRole(groupId, creator, normal, "admin"), {
      ok: true,
      changed: false,
    });
    assert.deepEqual(await store.setMemberRole(groupId, creator, admin, "normal"), {
      ok: true,
      changed: false,
    });
    const after = new Map(await roles(store, groupId));
    assert.deepEqual([after.get(normal), after.get(admin)], ["admin", "normal"]);
  });

  test("setMemberRole() by an admin or a normal member is not permitted", async ({ store }) => {
    const { groupId, admin, admin2, normal, normal2, outsider } = await staffedGroup(store);
    const before = await roles(store, groupId);
    for (const [actor, target] of [[admin, normal], [admin, admin2], [normal, normal2]]) {
      assert.deepEqual(await store.setMemberRole(groupId, actor, target, "admin"), {
        ok: false,
        reason: "not_permitted",
      });
    }
    assert.deepEqual(
      await store.setMemberRole(groupId, admin, outsider, "admin"),
      { ok: false, reason: "not_permitted" },
      "a non-creator is refused before the target is looked at",
    );
    assert.deepEqual(await roles(store, groupId), before);
  });

  test("setMemberRole() of the creator is not permitted", async ({ store }) => {
    const { groupId, creator } = await staffedGroup(store);
    assert.deepEqual(await store.setMemberRole(groupId, creator, creator, "normal"), {
      ok: false,
      reason: "not_permitted",
    });
    assert.equal(new Map(await roles(store, groupId)).get(creator), "creator");
  });

  test("setMemberRole() refuses a missing group, a non-member actor and a non-member target", async ({ store }) => {
    const { groupId, creator, normal, outsider } = await staffedGroup(store);
    assert.deepEqual(await store.setMemberRole(missingId(groupId), creator, normal, "admin"), {
      ok: false,
      reason: "no_group",
    });
    assert.deepEqual(await store.setMemberRole(groupId, outsider, normal, "admin"), {
      ok: false,
      reason: "not_member",
    });
    assert.deepEqual(await store.setMemberRole(groupId, creator, outsider, "admin"), {
      ok: false,
      reason: "no_target",
    });
    assert.equal(await store.groupAccess(groupId, outsider), null);
  });

  test("setMemberRole() rejects a role other than admin and normal with RangeError", async ({ store }) => {
    const { groupId, creator, normal } = await staffedGroup(store);
    await assert.rejects(store.setMemberRole(groupId, creator, normal, "creator" as "admin"), RangeError);
    assert.equal(new Map(await roles(store, groupId)).get(normal), "normal");
  });

  test("updateGroup() by the creator or an admin changes the name and the description", async ({ store }) => {
    const { groupId, creator, admin } = await staffedGroup(store);
    assert.deepEqual(await store.updateGroup(groupId, creator, { name: "renamed 群 😀", desc: "new desc" }), {
      ok: true,
      changed: true,
    });
    assert.deepEqual(await store.updateGroup(groupId, admin, { desc: "" }), { ok: true, changed: true });
    const group = await store.findGroup(groupId);
    assert.deepEqual([group?.name, group?.desc], ["renamed 群 😀", ""]);
    assert.deepEqual(await store.updateGroup(groupId, admin, { name: "by admin" }), {
      ok: true,
      changed: true,
    });
    assert.deepEqual((await store.listUserGroups(admin)).map((g) => [g.name, g.desc]), [["by admin", ""]]);
  });

  test("updateGroup() to the values the group has is no change", async ({ store }) => {
    const { groupId, creator } = await staffedGroup(store);
    assert.deepEqual(await store.updateGroup(groupId, creator, { name: "staffed", desc: "desc" }), {
      ok: true,
      changed: false,
    });
    assert.deepEqual(await store.updateGroup(groupId, creator, { name: "staffed" }), {
      ok: true,
      changed: false,
    });
    assert.deepEqual(await store.updateGroup(groupId, creator, { desc: "desc" }), {
      ok: true,
      changed: false,
    });
    assert.deepEqual(await store.updateGroup(groupId, creator, { name: "staffed", desc: "other" }), {
      ok: true,
      changed: true,
    });
  });

  test("updateGroup() to another group's name rejects with NameTakenError and changes nothing", async ({ store }) => {
    const { groupId, creator } = await staffedGroup(store);
    await store.createGroup(creator, "taken", "");
    await assert.rejects(
      store.updateGroup(groupId, creator, { name: "taken", desc: "lost" }),
      NameTakenError,
    );
    const group = await store.findGroup(groupId);
    assert.deepEqual([group?.name, group?.desc], ["staffed", "desc"]);
  });

  test("updateGroup() refuses a normal member, a non-member and a missing group", async ({ store }) => {
    const { groupId, creator, normal, outsider } = await staffedGroup(store);
    await store.createGroup(creator, "taken", "");
    assert.deepEqual(await store.updateGroup(groupId, normal, { desc: "x" }), {
      ok: false,
      reason: "not_permitted",
    });
    assert.deepEqual(
      await store.updateGroup(groupId, normal, { name: "taken" }),
      { ok: false, reason: "not_permitted" },
      "permission is decided before the name",
    );
    assert.deepEqual(await store.updateGroup(groupId, outsider, { desc: "x" }), {
      ok: false,
      reason: "not_member",
    });
    assert.deepEqual(await store.updateGroup(missingId(groupId), creator, { desc: "x" }), {
      ok: false,
      reason: "no_group",
    });
    assert.equal((await store.findGroup(groupId))?.desc, "desc");
  });

  test("updateGroup() without a name or a description rejects with RangeError", async ({ store }) => {
    const { groupId, creator } = await staffedGroup(store);
    await assert.rejects(store.updateGroup(groupId, creator, {}), RangeError);
  });

  test("group role methods reject fractional ids with RangeError", async ({ store }) => {
    await assert.rejects(store.findGroup(1.5), RangeError);
    await assert.rejects(store.leaveGroup(1, Number.NaN), RangeError);
    await assert.rejects(store.kickMember(1, 2, 2.5), RangeError);
    await assert.rejects(store.setMemberRole(1.5, 2, 3, "admin"), RangeError);
    await assert.rejects(store.updateGroup(1, 2 ** 53, { desc: "" }), RangeError);
  });

  test("group role methods reject with StoreUnavailableError once closed", async ({ store }) => {
    await store.close();
    await assert.rejects(store.findGroup(1), StoreUnavailableError);
    await assert.rejects(store.leaveGroup(1, 2), StoreUnavailableError);
    await assert.rejects(store.kickMember(1, 2, 3), StoreUnavailableError);
    await assert.rejects(store.setMemberRole(1, 2, 3, "admin"), StoreUnavailableError);
    await assert.rejects(store.updateGroup(1, 2, { desc: "" }), StoreUnavailableError);
  });
}
