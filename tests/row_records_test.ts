import assert from "node:assert/strict";
import {
  bigId,
  deviceToken,
  groupRecords,
  offlineMessage,
  storedMessage,
  userRecord,
  userSummary,
} from "../lib/store/row_records.ts";

Deno.test("bigId() reads a BIGINT given as a number, a string or a bigint", () => {
  assert.equal(bigId(42), 42);
  assert.equal(bigId("9007199254740991"), Number.MAX_SAFE_INTEGER);
  assert.equal(bigId(7n), 7);
});

Deno.test("bigId() rejects an id beyond 2^53 instead of rounding it", () => {
  assert.throws(() => bigId("9007199254740993"), (error: unknown) => {
    assert.ok(error instanceof RangeError);
    assert.equal(error.message, "id beyond 2^53 from the database: 9007199254740993");
    return true;
  });
});

Deno.test("userRecord() and userSummary() map the user columns", () => {
  assert.deepEqual(userRecord({ id: 1, name: "alice", password: "scrypt$x" }), {
    id: 1,
    name: "alice",
    passwordHash: "scrypt$x",
  });
  assert.deepEqual(userSummary({ id: 2, name: "bob", extra: true }), { id: 2, name: "bob" });
});

Deno.test("groupRecords() starts a new group wherever the group id changes", () => {
  const rows = [
    { id: 1, groupname: "a", groupdesc: "first", userid: 10, name: "u10", grouprole: "creator" },
    { id: 1, groupname: "a", groupdesc: "first", userid: 11, name: "u11", grouprole: "normal" },
    { id: 2, groupname: "b", groupdesc: "second", userid: 10, name: "u10", grouprole: "normal" },
  ];
  assert.deepEqual(groupRecords(rows), [
    {
      id: 1,
      name: "a",
      desc: "first",
      members: [{ id: 10, name: "u10", role: "creator" }, { id: 11, name: "u11", role: "normal" }],
    },
    { id: 2, name: "b", desc: "second", members: [{ id: 10, name: "u10", role: "normal" }] },
  ]);
  assert.deepEqual(groupRecords([]), []);
});

Deno.test("offlineMessage() maps the id and frame, and rejects an id beyond 2^53", () => {
  assert.deepEqual(offlineMessage({ id: "5", message: '{"msgid":5}' }), { id: 5, frame: '{"msgid":5}' });
  assert.throws(() => offlineMessage({ id: "9007199254740993", message: "x" }), RangeError);
});

Deno.test("storedMessage() maps the message columns, BIGINTs given as strings included", () => {
  assert.deepEqual(
    storedMessage({ conv: "u:1:2", seq: "7", sender: 1n, ts: "1795000000000", mid: "m", frame: "{}" }),
    { conv: "u:1:2", seq: 7, senderId: 1, ts: 1_795_000_000_000, mid: "m", frame: "{}" },
  );
  assert.throws(
    () => storedMessage({ conv: "g:1", seq: "9007199254740993", sender: 1, ts: 1, mid: "m", frame: "" }),
    RangeError,
  );
});

Deno.test("deviceToken() maps the hash and the expiry", () => {
  assert.deepEqual(deviceToken({ tokenhash: "ab", expires_at: "1795000000000" }), {
    tokenHash: "ab",
    expiresAt: 1_795_000_000_000,
  });
});
