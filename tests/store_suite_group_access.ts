/**
 * The shared store suite's cases for leaving and re-joining groups (`tests/store_suite.ts`):
 * removeGroupMember(), groupAccess(), and addGroupMember()'s join seq.
 *
 * @module
 */

import assert from "node:assert/strict";
import { groupConv } from "../lib/conversation_name.ts";
import { StoreUnavailableError } from "../lib/store/errors.ts";
import { chat, missingId, type SuiteTest, users } from "./store_suite_fixture.ts";

/** Registers the cases of removeGroupMember(), groupAccess() and re-joining. */
export function groupAccessCases(test: SuiteTest): void {
  test("groupAccess() is member for members, null for others and for a missing group", async ({ store }) => {
    const [a, b, stranger] = await users(store, "a", "b", "stranger");
    const groupId = await store.createGroup(a, "g", "");
    await store.addGroupMember(groupId, b);
    assert.deepEqual(await store.groupAccess(groupId, a), { member: true });
    assert.deepEqual(await store.groupAccess(groupId, b), { member: true });
    assert.equal(await store.groupAccess(groupId, stranger), null);
    assert.equal(await store.groupAccess(missingId(groupId), a), null);
  });

  test("removeGroupMember() records the last seq a former member may read up to", async ({ store }) => {
    const [a, b] = await users(store, "a", "b");
    const groupId = await store.createGroup(a, "g", "");
    await store.addGroupMember(groupId, b);
    await store.appendMessages([chat(groupConv(groupId), a, "1"), chat(groupConv(groupId), b, "2")]);
    await store.removeGroupMember(groupId, b);
    await store.appendMessages([chat(groupConv(groupId), a, "3")]);
    assert.deepEqual(await store.groupAccess(groupId, b), { member: false, lastSeq: 2 });
    assert.deepEqual(await store.listGroupMemberIds(groupId), [a]);
    assert.deepEqual(await store.listUserGroups(b), []);
    assert.deepEqual((await store.listUserGroups(a))[0].members.map((m) => m.id), [a]);
  });

  test("removeGroupMember() of a group without messages records seq 0", async ({ store }) => {
    const [a, b] = await users(store, "a", "b");
    const groupId = await store.createGroup(a, "g", "");
    await store.addGroupMember(groupId, b);
    await store.removeGroupMember(groupId, b);
    assert.deepEqual(await store.groupAccess(groupId, b), { member: false, lastSeq: 0 });
  });

  test("removeGroupMember() of a non-member changes nothing", async ({ store }) => {
    const [a, stranger] = await users(store, "a", "stranger");
    const groupId = await store.createGroup(a, "g", "");
    await store.removeGroupMember(groupId, stranger);
    await store.removeGroupMember(missingId(groupId), a);
    assert.equal(await store.groupAccess(groupId, stranger), null);
    assert.deepEqual(await store.listGroupMemberIds(groupId), [a]);
  });

  test("removeGroupMember() of the creator leaves the others members", async ({ store }) => {
    const [a, b] = await users(store, "a", "b");
    const groupId = await store.createGroup(a, "g", "");
    await store.addGroupMember(groupId, b);
    await store.removeGroupMember(groupId, a);
    assert.deepEqual(await store.groupAccess(groupId, a), { member: false, lastSeq: 0 });
    assert.deepEqual(await store.listGroupMemberIds(groupId), [b]);
    assert.equal(await store.groupExists(groupId), true);
  });

  test("addGroupMember() of a former member makes them a member again; leaving again records the new seq", async ({ store }) => {
    const [a, b] = await users(store, "a", "b");
    const groupId = await store.createGroup(a, "g", "");
    const group = groupConv(groupId);
    await store.addGroupMember(groupId, b);
    await store.appendMessages([chat(group, a, "1")]);
    await store.removeGroupMember(groupId, b);
    await store.appendMessages([chat(group, a, "2")]);
    await store.addGroupMember(groupId, b);
    assert.deepEqual(await store.groupAccess(groupId, b), { member: true });
    assert.deepEqual(await store.listGroupMemberIds(groupId), [a, b]);
    assert.equal((await store.listUserGroups(b))[0].members.find((m) => m.id === b)?.role, "normal");
    await store.appendMessages([chat(group, a, "3")]);
    await store.removeGroupMember(groupId, b);
    assert.deepEqual(await store.groupAccess(groupId, b), { member: false, lastSeq: 3 });
  });

  test("removeGroupMember() and groupAccess() reject fractional ids with RangeError", async ({ store }) => {
    await assert.rejects(store.removeGroupMember(1.5, 1), RangeError);
    await assert.rejects(store.groupAccess(1, Number.NaN), RangeError);
  });

  test("removeGroupMember() and groupAccess() reject with StoreUnavailableError once closed", async ({ store }) => {
    await store.close();
    await assert.rejects(store.removeGroupMember(1, 2), StoreUnavailableError);
    await assert.rejects(store.groupAccess(1, 2), StoreUnavailableError);
  });
}
