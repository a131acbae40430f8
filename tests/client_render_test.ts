/** The client's `Renderer`: server refusals, unread counts, history pages, receipts, typing and copies. */
import assert from "node:assert/strict";
import { Renderer } from "../lib/client/render.ts";
import { Errno, ERRNO_MEANINGS } from "../lib/protocol/errno.ts";

const render = new Renderer({ color: false });

Deno.test("Renderer.serverError() shows the errno, its meaning from lib/protocol and the errmsg", () => {
  assert.equal(
    render.serverError("chat", Errno.NO_SUCH_USER, "no such user: 9"),
    "✗ chat failed: errno 6 (no such user): no such user: 9",
  );
  // Every errno the protocol defines is shown with the protocol's words.
  for (const [errno, meaning] of Object.entries(ERRNO_MEANINGS)) {
    assert.equal(
      render.serverError("login", Number(errno), ""),
      `✗ login failed: errno ${errno} (${meaning})`,
    );
  }
});

Deno.test("Renderer.serverError() names an errno it does not know, and leaves out what is missing", () => {
  assert.equal(render.serverError("chat", 99, "new"), "✗ chat failed: errno 99 (unknown errno): new");
  assert.equal(render.serverError("chat", undefined, undefined), "✗ chat failed: errno undefined");
  assert.equal(render.serverError("chat", "6", 7), "✗ chat failed: errno 6");
});

Deno.test("Renderer.serverError() escapes control characters in the server's errmsg", () => {
  assert.equal(
    render.serverError("chat", 4, "bad\u001b[2J"),
    "✗ chat failed: errno 4 (invalid request): bad\\u001b[2J",
  );
});

const bob = (seq: number, msg = `m${seq}`) => ({
  id: 2,
  name: "bob",
  toid: 1,
  msg,
  time: "t",
  conv: "u:1:2",
  seq,
});
const mine = (seq: number) => ({
  id: 1,
  name: "alice",
  toid: 2,
  msg: `m${seq}`,
  time: "t",
  conv: "u:1:2",
  seq,
});

Deno.test("Renderer.friends() and groups() show unread counts, and unread users who are not friends", () => {
  const unread = {
    users: new Map([[2, { name: "bob", count: 3 }], [3, { name: "", count: 0 }], [7, {
      name: "",
      count: 1,
    }]]),
    groups: new Map([[5, 2], [6, 0]]),
  };
  assert.equal(
    render.friends(
      [{ id: 2, name: "bob", state: "online" }, { id: 3, name: "carol", state: "offline" }],
      unread,
    ),
    [
      "friends (2):",
      "  bob (2)  online  3 unread",
      "  carol (3)  offline",
      "others with unread messages:",
      "  user 7  1 unread",
    ].join("\n"),
  );
  assert.equal(
    render.friends([], unread),
    "friends: none\nothers with unread messages:\n  bob (2)  3 unread\n  user 7  1 unread",
  );
  assert.equal(render.friends([]), "friends: none", "without counts, as before");
  assert.equal(
    render.groups([
      { id: 5, groupname: "devs", groupdesc: "", users: [] },
      { id: 6, groupname: "quiet", groupdesc: "shh", users: [] },
      { id: 8, groupname: "", groupdesc: "", users: [] },
    ], { users: new Map(), groups: new Map([[5, 2], [8, 4]]) }),
    [
      "groups (3):",
      "  devs #5  2 unread",
      "  quiet #6 — shh",
      "  group 8  4 unread  (joined now; name and members are listed after the next login)",
    ].join("\n"),
  );
});

Deno.test("Renderer.history() numbers messages and marks own ones ✓✓ read up to the other side's read seq", () => {
  const page = { messages: [bob(3), mine(4), mine(5)], more: true };
  assert.equal(
    render.history("history with bob (2)", page, { me: 1, peerread: 4, groups: [] }),
    [
      "history with bob (2) (3; type more for older ones):",
      "  #3 [t] bob (2): m3",
      "  #4 [t] alice (1): m4  ✓✓ read",
      "  #5 [t] alice (1): m5  ✓ sent",
    ].join("\n"),
  );
  assert.equal(
    render.history("history of group devs #5", {
      messages: [{ id: 1, name: "alice", groupid: 5, msg: "two\nlines", time: "t", conv: "g:5", seq: 9 }],
      more: false,
    }, { me: 1, groups: [{ id: 5, groupname: "devs", groupdesc: "", users: [] }], older: true }),
    "history of group devs #5 (1 older):\n  #9 [t] devs #5 · alice (1): two\n      lines",
    "no read marks in a group; continuation lines indented under the message",
  );
  assert.equal(
    render.history("history with bob (2)", { messages: [], more: false }, { me: 1, groups: [] }),
    "history with bob (2): no messages",
  );
  assert.equal(
    render.history("h", { messages: [], more: false }, { me: 1, groups: [], older: true }),
    "h: no older messages",
  );
});

Deno.test("Renderer.receipt(), typing() and chat() with a recipient (a copy from another device)", () => {
  assert.equal(render.receipt("bob (2)", 12), "✓✓ read by bob (2): your messages up to #12");
  assert.equal(render.typing("bob (2)"), "… bob (2) is typing");
  assert.equal(render.typing("bob (2)", "group devs #5"), "… bob (2) is typing in group devs #5");
  assert.equal(render.chat(mine(4), [], { recipient: "bob (2)" }), "[t] alice (1) → bob (2): m4");
  assert.equal(render.chat(bob(4, "a\u001b[2Jb"), []), "[t] bob (2): a\\u001b[2Jb");
});
