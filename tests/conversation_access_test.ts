import assert from "node:assert/strict";
import { parseConv } from "../lib/conversation_name.ts";
import { Errno } from "../lib/protocol/errno.ts";
import { RequestError } from "../lib/protocol/errors.ts";
import { readableConversation } from "../lib/service/conversation_access.ts";
import type { GroupAccess, Store } from "../lib/store/store.ts";

/**
 * A fake of the two store reads access needs: users 1–9 exist; group 1 has users 1 and 2, user 3 left
 * it at seq 4; group 2 exists with user 5 only; no other group exists.
 */
function fakeContext() {
  const access: Record<string, GroupAccess> = { "1:1": { member: true }, "1:2": { member: true } };
  access["1:3"] = { member: false, lastSeq: 4 };
  access["2:5"] = { member: true };
  const store = {
    groupAccess: (groupId: number, userId: number) => Promise.resolve(access[`${groupId}:${userId}`] ?? null),
    groupExists: (groupId: number) => Promise.resolve(groupId === 1 || groupId === 2),
  } as unknown as Store;
  return { store, userExists: (id: number) => Promise.resolve(id >= 1 && id <= 9) };
}

function named(name: string) {
  return { name, conv: parseConv(name)! };
}

async function assertRefused(userId: number, conv: string, errno: number): Promise<void> {
  await assert.rejects(readableConversation(fakeContext(), userId, named(conv)), (error) => {
    assert.ok(error instanceof RequestError);
    assert.equal(error.errno, errno, `${userId} reading ${conv}: ${error.message}`);
    return true;
  });
}

Deno.test("readableConversation() lets both users of a one-to-one conversation read it, naming the peer", async () => {
  assert.equal((await readableConversation(fakeContext(), 3, named("u:3:7"))).peer, 7);
  const result = await readableConversation(fakeContext(), 7, named("u:3:7"));
  assert.deepEqual([result.name, result.peer, result.upTo], ["u:3:7", 3, undefined]);
});

Deno.test("readableConversation() refuses someone else's one-to-one conversation with errno 4", async () => {
  await assertRefused(1, "u:3:7", Errno.INVALID_REQUEST);
});

Deno.test("readableConversation() refuses a conversation with a missing user with errno 6", async () => {
  await assertRefused(3, "u:3:70", Errno.NO_SUCH_USER);
});

Deno.test("readableConversation() lets members read a group without a bound, former members up to when they left", async () => {
  assert.equal((await readableConversation(fakeContext(), 1, named("g:1"))).upTo, undefined);
  assert.equal((await readableConversation(fakeContext(), 3, named("g:1"))).upTo, 4);
});

Deno.test("readableConversation() refuses a group the user never was in with errno 8, a missing group with 7", async () => {
  await assertRefused(5, "g:1", Errno.NOT_A_MEMBER);
  await assertRefused(1, "g:2", Errno.NOT_A_MEMBER);
  await assertRefused(1, "g:3", Errno.NO_SUCH_GROUP);
});
