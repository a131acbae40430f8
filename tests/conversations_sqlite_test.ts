/**
 * The conversation suite on the embedded default (one node, SQLite in a file so that a restart keeps it,
 * in-process bus), and the page bound that only needs one node to show.
 */
import assert from "node:assert/strict";
import type { ChatNode } from "../lib/server.ts";
import { MsgId } from "../lib/protocol/msg_id.ts";
import { startTestNode } from "./harness/chat_node.ts";
import { makeTempDir, removeTempDir } from "./harness/temp_dir.ts";
import { type Reply } from "./harness/test_client.ts";
import { TYPING_GROUP_LIMIT } from "../lib/service/conversation_handlers.ts";
import { uniqueName } from "./protocol_suite.ts";
import { account, conv, type ConversationEnv, conversationSuite, device, say } from "./conversation_suite.ts";

class SqliteEnv implements ConversationEnv {
  #node: ChatNode;

  private constructor(readonly dir: string, node: ChatNode) {
    this.#node = node;
  }

  static async start(): Promise<SqliteEnv> {
    const dir = await makeTempDir("chat-conv-");
    return new SqliteEnv(dir, await startTestNode({ db: `${dir}/chat.db` }));
  }

  get ports(): readonly [number, number] {
    return [this.#node.port, this.#node.port];
  }

  removeGroupMember(groupId: number, userId: number): Promise<void> {
    return this.#node.service.context.store.removeGroupMember(groupId, userId);
  }

  async restart(): Promise<void> {
    await this.#node.close();
    this.#node = await startTestNode({ db: `${this.dir}/chat.db` });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#node.close();
    await removeTempDir(this.dir);
  }
}

conversationSuite("sqlite", () => SqliteEnv.start());

Deno.test("sqlite: a SYNC or HISTORY page stops below the outbound limit, with more, however large the limit", async () => {
  // 64 KiB outbound: pages of at most 16 KiB of frames, about three 4,000-character messages.
  await using node = await startTestNode({ maxOutboundBytes: 64 * 1024 });
  const [a, b] = [await account(node.port), await account(node.port)];
  const alice = await device(node.port, a);
  await using _a = alice.client;
  const texts = Array.from({ length: 10 }, (_, i) => `${i}`.padEnd(4000, "x"));
  for (const text of texts) await say(alice, b.id, text);
  const name = conv(a.id, b.id);
  const messagesOf = (reply: Reply) => {
    assert.equal(reply.errno, 0, JSON.stringify(reply).slice(0, 200));
    return reply.messages as Reply[];
  };
  const forwards: string[] = [];
  for (let after = 0, more = true; more;) {
    const reply = await alice.client.request({ msgid: MsgId.SYNC, conv: name, after, limit: 1000 });
    const messages = messagesOf(reply);
    assert.ok(messages.length >= 1 && JSON.stringify(messages).length <= 16 * 1024, `${messages.length}`);
    forwards.push(...messages.map((m) => m.msg as string));
    after = messages.at(-1)!.seq as number;
    more = reply.more as boolean;
  }
  assert.deepEqual(forwards, texts);
  const backwards: string[] = [];
  for (let before: number | undefined = undefined, more = true; more;) {
    const reply = await alice.client.request({ msgid: MsgId.HISTORY, conv: name, before, limit: 1000 });
    const messages = messagesOf(reply);
    assert.ok(messages.length >= 1 && JSON.stringify(messages).length <= 16 * 1024, `${messages.length}`);
    backwards.unshift(...messages.map((m) => m.msg as string));
    before = messages[0].seq as number;
    more = reply.more as boolean;
  }
  assert.deepEqual(backwards, texts);
});

Deno.test("sqlite: TYPING is relayed in a group of 100 members, and not in one of 101", async () => {
  await using node = await startTestNode();
  const store = node.service.context.store;
  const [a, b] = [await account(node.port), await account(node.port)];
  const alice = await device(node.port, a);
  const bob = await device(node.port, b);
  await using _a = alice.client;
  await using _b = bob.client;
  const groupid = await store.createGroup(a.id, uniqueName("big"), "");
  await store.addGroupMember(groupid, b.id);
  // Members that never log in: only the count matters.
  for (let i = 0; i < TYPING_GROUP_LIMIT - 2; i++) {
    await store.addGroupMember(groupid, await store.createUser(uniqueName("m"), "not-a-hash"));
  }
  const typing = { msgid: MsgId.TYPING, v: 2, conv: `g:${groupid}` };
  await alice.client.send(typing);
  assert.deepEqual(await bob.client.nextOf(MsgId.TYPING), {
    msgid: MsgId.TYPING,
    conv: `g:${groupid}`,
    id: a.id,
  });
  await store.addGroupMember(groupid, await store.createUser(uniqueName("m"), "not-a-hash"));
  await alice.client.send(typing);
  // A PING after it: once its PONG is back, the TYPING before it was handled.
  assert.equal((await alice.client.request({ msgid: MsgId.PING })).msgid, MsgId.PONG);
  assert.deepEqual((await bob.client.quiet(300)).filter((frame) => frame.msgid === MsgId.TYPING), []);
});
