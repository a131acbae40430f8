import assert from "node:assert/strict";
import { MsgId } from "../lib/protocol/msg_id.ts";
import { PresenceView } from "../lib/service/presence_view.ts";
import { routeFor } from "../lib/service/routes.ts";

Deno.test("PresenceView: online only while live and with no block between the two, either way", () => {
  const view = new PresenceView(new Set([1, 2, 3]), [2, 4]);
  assert.deepEqual([1, 2, 3, 4, 5].map((id) => view.state(id)), [
    "online",
    "offline",
    "online",
    "offline",
    "offline",
  ]);
  assert.deepEqual(
    view.group({
      id: 9,
      name: "g",
      desc: "d",
      members: [{ id: 1, name: "a", role: "creator" }, { id: 2, name: "b", role: "admin" }],
    }),
    {
      id: 9,
      groupname: "g",
      groupdesc: "d",
      users: [
        { id: 1, name: "a", state: "online", role: "creator" },
        { id: 2, name: "b", state: "offline", role: "admin" },
      ],
    },
  );
});

Deno.test("routes: msgids 21-28 are v2 requests answered by ACK; v1 has no route for 21-29, v2 none for 29", () => {
  for (let msgid = MsgId.FRIEND_REQUEST; msgid <= MsgId.UPDATE_GROUP; msgid++) {
    const route = routeFor(msgid, 2);
    assert.deepEqual([route?.reply, route?.needsLogin], ["ack", true], `msgid ${msgid}`);
  }
  for (let msgid = MsgId.FRIEND_REQUEST; msgid <= MsgId.GROUP_EVENT; msgid++) {
    assert.equal(routeFor(msgid, 1), undefined, `msgid ${msgid} at v1`);
  }
  assert.equal(routeFor(MsgId.GROUP_EVENT, 2), undefined, "GROUP_EVENT is server-to-client only");
});
