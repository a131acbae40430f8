import assert from "node:assert/strict";
import { loginAckFrame } from "../lib/protocol/encode.ts";
import { Errno, errnoMeaning } from "../lib/protocol/errno.ts";
import { RequestError } from "../lib/protocol/errors.ts";
import type { Frame } from "../lib/protocol/fields.ts";
import { DEFAULT_LIMITS } from "../lib/protocol/limits.ts";
import { frameMsgid } from "../lib/protocol/encode.ts";
import { MsgId, msgName } from "../lib/protocol/msg_id.ts";
import { friendReplyFrame, friendRequestFrame, groupEventFrame } from "../lib/protocol/social_frames.ts";
import {
  blockRequest,
  friendReplyRequest,
  friendRequestRequest,
  kickRequest,
  leaveGroupRequest,
  MAX_NOTE_LENGTH,
  removeFriendRequest,
  setRoleRequest,
  updateGroupRequest,
} from "../lib/protocol/social_requests.ts";

/** Asserts `decode` refuses with errno 4 and a message naming `field`. */
function refused(decode: () => unknown, field: string): void {
  assert.throws(decode, (error) => {
    assert.ok(error instanceof RequestError);
    assert.equal(error.errno, Errno.INVALID_REQUEST);
    assert.match(error.message, new RegExp(`"${field}"`));
    return true;
  });
}

Deno.test("errnos 15-17 and msgids 21-29 have their names", () => {
  assert.deepEqual([15, 16, 17].map(errnoMeaning), ["not permitted", "blocked", "no pending request"]);
  assert.deepEqual(
    [21, 22, 23, 24, 25, 26, 27, 28, 29].map(msgName),
    [
      "FRIEND_REQUEST",
      "FRIEND_REPLY",
      "REMOVE_FRIEND",
      "BLOCK",
      "LEAVE_GROUP",
      "KICK",
      "SET_ROLE",
      "UPDATE_GROUP",
      "GROUP_EVENT",
    ],
  );
});

Deno.test("FRIEND_REQUEST: friendid a positive integer, note 0-200 characters defaulting to empty", () => {
  assert.deepEqual(friendRequestRequest({ msgid: 21, friendid: 7 }), {
    id: undefined,
    friendid: 7,
    note: "",
  });
  assert.deepEqual(friendRequestRequest({ msgid: 21, id: 1, friendid: 7, note: "hi 你好" }), {
    id: 1,
    friendid: 7,
    note: "hi 你好",
  });
  assert.equal(
    friendRequestRequest({ msgid: 21, friendid: 7, note: "x".repeat(MAX_NOTE_LENGTH) }).note.length,
    200,
  );
  refused(() => friendRequestRequest({ msgid: 21 }), "friendid");
  refused(() => friendRequestRequest({ msgid: 21, friendid: 0 }), "friendid");
  refused(() => friendRequestRequest({ msgid: 21, friendid: "7" }), "friendid");
  refused(() => friendRequestRequest({ msgid: 21, friendid: 7, note: 5 }), "note");
  refused(() => friendRequestRequest({ msgid: 21, friendid: 7, note: "x".repeat(201) }), "note");
  refused(() => friendRequestRequest({ msgid: 21, friendid: 7, id: -1 }), "id");
});

Deno.test("FRIEND_REPLY: id is the requester, accept a required boolean", () => {
  assert.deepEqual(friendReplyRequest({ msgid: 22, id: 3, accept: true }), { requester: 3, accept: true });
  assert.deepEqual(friendReplyRequest({ msgid: 22, id: 3, accept: false }), { requester: 3, accept: false });
  refused(() => friendReplyRequest({ msgid: 22, accept: true }), "id");
  for (const accept of [undefined, null, 1, "true", 0]) {
    refused(() => friendReplyRequest({ msgid: 22, id: 3, accept } as Frame), "accept");
  }
});

Deno.test("REMOVE_FRIEND and BLOCK: the user's id, on a required boolean", () => {
  assert.deepEqual(removeFriendRequest({ msgid: 23, friendid: 4 }), { id: undefined, friendid: 4 });
  refused(() => removeFriendRequest({ msgid: 23, friendid: 1.5 }), "friendid");
  assert.deepEqual(blockRequest({ msgid: 24, userid: 4, on: false }), {
    id: undefined,
    userid: 4,
    on: false,
  });
  refused(() => blockRequest({ msgid: 24, on: true }), "userid");
  refused(() => blockRequest({ msgid: 24, userid: 4 }), "on");
  refused(() => blockRequest({ msgid: 24, userid: 4, on: "yes" }), "on");
});

Deno.test("LEAVE_GROUP, KICK and SET_ROLE: ids, and a role of admin or normal", () => {
  assert.deepEqual(leaveGroupRequest({ msgid: 25, groupid: 2 }), { id: undefined, groupid: 2 });
  refused(() => leaveGroupRequest({ msgid: 25 }), "groupid");
  assert.deepEqual(kickRequest({ msgid: 26, groupid: 2, userid: 5 }), {
    id: undefined,
    groupid: 2,
    userid: 5,
  });
  refused(() => kickRequest({ msgid: 26, groupid: 2 }), "userid");
  refused(() => kickRequest({ msgid: 26, userid: 2 }), "groupid");
  for (const role of ["admin", "normal"]) {
    assert.equal(setRoleRequest({ msgid: 27, groupid: 2, userid: 5, role }).role, role);
  }
  for (const role of [undefined, "creator", "ADMIN", 1, ""]) {
    refused(() => setRoleRequest({ msgid: 27, groupid: 2, userid: 5, role } as Frame), "role");
  }
  refused(() => setRoleRequest({ msgid: 27, groupid: 2, role: "admin" }), "userid");
});

Deno.test("UPDATE_GROUP: at least one field; CREATE_GROUP's limits", () => {
  const limits = DEFAULT_LIMITS;
  assert.deepEqual(updateGroupRequest({ msgid: 28, groupid: 1, groupname: "n" }, limits), {
    id: undefined,
    groupid: 1,
    groupname: "n",
    groupdesc: undefined,
  });
  assert.equal(updateGroupRequest({ msgid: 28, groupid: 1, groupdesc: "" }, limits).groupdesc, "");
  refused(() => updateGroupRequest({ msgid: 28, groupid: 1 }, limits), "groupname");
  refused(
    () => updateGroupRequest({ msgid: 28, groupid: 1, groupname: null, groupdesc: null }, limits),
    "groupdesc",
  );
  refused(() => updateGroupRequest({ msgid: 28, groupid: 1, groupname: "" }, limits), "groupname");
  refused(
    () => updateGroupRequest({ msgid: 28, groupid: 1, groupname: "x".repeat(51) }, limits),
    "groupname",
  );
  refused(
    () => updateGroupRequest({ msgid: 28, groupid: 1, groupdesc: "x".repeat(201) }, limits),
    "groupdesc",
  );
  refused(() => updateGroupRequest({ msgid: 28, groupname: "n" }, limits), "groupid");
});

Deno.test("FRIEND_REQUEST, FRIEND_REPLY and GROUP_EVENT frames: msgid first, absent fields left out", () => {
  const frames = [
    friendRequestFrame({ id: 1, name: 'a "q"', note: "" }),
    friendReplyFrame({ id: 2, name: "b", accept: false }),
    groupEventFrame({ groupid: 3, event: "left", userid: 4, by: 4 }),
  ];
  assert.deepEqual(frames.map(frameMsgid), [MsgId.FRIEND_REQUEST, MsgId.FRIEND_REPLY, MsgId.GROUP_EVENT]);
  assert.deepEqual(JSON.parse(frames[0]), { msgid: 21, id: 1, name: 'a "q"', note: "" });
  assert.deepEqual(JSON.parse(frames[1]), { msgid: 22, id: 2, name: "b", accept: false });
  assert.equal(frames[2], '{"msgid":29,"groupid":3,"event":"left","userid":4,"by":4}');
  assert.deepEqual(
    JSON.parse(groupEventFrame({
      groupid: 3,
      event: "joined",
      userid: 4,
      by: 4,
      role: "creator",
      name: "n",
      groupname: "g",
      groupdesc: "",
    })),
    {
      msgid: 29,
      groupid: 3,
      event: "joined",
      userid: 4,
      by: 4,
      role: "creator",
      groupname: "g",
      groupdesc: "",
      name: "n",
    },
  );
});

Deno.test("LOGIN_ACK: v2 carries requests and blocked ([] when none); v1 never", () => {
  const ack = { id: 1, name: "a", offline: [], friends: [], groups: [] };
  const requests = [{ id: 5, name: "e", note: "hi" }];
  const v2 = JSON.parse(loginAckFrame(2, { ...ack, requests, blocked: [3, 9] }));
  assert.deepEqual([v2.requests, v2.blocked], [requests, [3, 9]]);
  const empty = JSON.parse(loginAckFrame(2, ack));
  assert.deepEqual([empty.requests, empty.blocked], [[], []]);
  const v1 = JSON.parse(loginAckFrame(1, { ...ack, requests, blocked: [3] }));
  assert.deepEqual([v1.requests, v1.blocked], [undefined, undefined]);
});
