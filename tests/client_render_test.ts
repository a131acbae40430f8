/** The client's `Renderer`: what it prints for a server's refusal. */
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
