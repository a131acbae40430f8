/**
 * Upgrading in place (PROTOCOL.md "Devices and resume tokens", DESIGN.md "Delivery without loss" step 6): a
 * database that the released server created and filled, with offline messages waiting, is migrated by the new
 * server at start; the user's next login gets those messages exactly once, and never again, on no device.
 */
import assert from "node:assert/strict";
import { startTestNode } from "./harness/chat_node.ts";
import { mariaDbPerFile } from "./harness/mariadb_fixture.ts";
import { extractRelease, startReleased } from "./harness/released_node.ts";
import { removeTempDir } from "./harness/temp_dir.ts";
import { type Reply, TestClient } from "./harness/test_client.ts";
import { registerUser, uniqueName } from "./protocol_suite.ts";
import type { ChatNode } from "../lib/server.ts";

interface Account {
  id: number;
  password: string;
}

async function account(port: number): Promise<Account> {
  const name = uniqueName();
  return { id: await registerUser(port, name, "pw-" + name), password: "pw-" + name };
}

async function login(port: number, who: Account, device?: string): Promise<[TestClient, Reply]> {
  const client = await TestClient.connect(port);
  const reply = await client.request({ msgid: 1, id: who.id, password: who.password, device });
  assert.equal(reply.errno, 0, JSON.stringify(reply));
  return [client, reply];
}

const texts = (reply: Reply) => (reply.offlinemsg as Reply[]).map((frame) => frame.msg);

/** What the released server left: users, a group, and messages waiting offline for Bob. */
interface Before {
  alice: Account;
  bob: Account;
  groupid: number;
  waiting: string[];
}

/** Fills the released server's database: Bob is offline while Alice writes to him and to their group. */
async function fillReleased(port: number): Promise<Before> {
  const alice = await account(port);
  const bob = await account(port);
  const [a] = await login(port, alice);
  const [b] = await login(port, bob);
  const groupid = (await a.request({ msgid: 8, groupname: uniqueName("g"), groupdesc: "" }))
    .groupid as number;
  assert.equal((await b.request({ msgid: 9, groupid })).errno, 0);
  assert.equal((await b.request({ msgid: 3 })).errno, 0);
  b.close();
  const waiting = ["before the upgrade 1", '你好 😀 "2"', "before the upgrade 3"];
  for (const msg of waiting) assert.equal((await a.request({ msgid: 6, toid: bob.id, msg })).errno, 0);
  assert.equal((await a.request({ msgid: 10, groupid, msg: "to the group" })).errno, 0);
  a.close();
  return { alice, bob, groupid, waiting: [...waiting, "to the group"] };
}

/** The new server on the upgraded database: each waiting message once, then never again. */
async function checkUpgraded(node: ChatNode, before: Before): Promise<void> {
  const { alice, bob } = before;
  const [phone, first] = await login(node.port, bob, "phone");
  assert.deepEqual(texts(first), before.waiting);
  assert.equal((await phone.request({ msgid: 3 })).errno, 0);
  const again = await phone.request({ msgid: 1, id: bob.id, password: bob.password, device: "phone" });
  assert.deepEqual(texts(again), [], "handed once");
  const [laptop, second] = await login(node.port, bob, "laptop");
  assert.deepEqual(texts(second), [], "not again on a second device");
  // New messages are kept in their conversations, next to the old data.
  const [a] = await login(node.port, alice);
  const ack = await a.request({ msgid: 6, toid: bob.id, msg: "after the upgrade" });
  assert.equal(ack.errno, 0, JSON.stringify(ack));
  for (const client of [phone, laptop]) {
    const frame = await client.nextOf(6);
    assert.deepEqual([frame.msg, frame.conv, frame.seq], ["after the upgrade", ack.conv, ack.seq]);
  }
  const group = await a.request({ msgid: 10, groupid: before.groupid, msg: "group after" });
  assert.equal(group.errno, 0, JSON.stringify(group));
  assert.equal((await phone.nextOf(10)).msg, "group after");
  assert.equal((await laptop.nextOf(10)).msg, "group after");
  // Logged out: their cursors are saved before the ACK.
  for (const client of [phone, laptop]) assert.equal((await client.request({ msgid: 3 })).errno, 0);
  for (const client of [a, phone, laptop]) client.close();
  // A v1 login (the default device) is a device of its own, new: it starts from the lowest cursors.
  const v1 = await TestClient.connect(node.port);
  await v1.send(JSON.stringify({ msgid: 1, id: bob.id, password: bob.password }) + "\0");
  const v1Ack = await v1.nextOf(2);
  v1.close();
  assert.equal(v1Ack.errno, 0);
  assert.equal("offlinemsg" in v1Ack, false, "nothing waits for the v1 device: the old rows were handed");
}

Deno.test("a SQLite database of the released server is upgraded; its offline messages arrive once", async () => {
  const release = await extractRelease();
  try {
    const db = `${release}/data/chat.db`;
    await Deno.mkdir(`${release}/data`, { recursive: true });
    const released = await startReleased(release, ["--db", db], `${release}/released.log`);
    let before: Before;
    try {
      before = await fillReleased(released.port);
    } finally {
      await released.stop();
    }
    await using node = await startTestNode({ db });
    await checkUpgraded(node, before);
  } finally {
    await removeTempDir(release);
  }
});

const mariadb = mariaDbPerFile();

Deno.test("a MySQL database of the released server is upgraded; its offline messages arrive once", async () => {
  const release = await extractRelease();
  try {
    const url = await mariadb().createDatabase("upgrade");
    const released = await startReleased(release, ["--mysql", url], `${release}/released.log`);
    let before: Before;
    try {
      before = await fillReleased(released.port);
    } finally {
      await released.stop();
    }
    await using node = await startTestNode({ mysql: url });
    await checkUpgraded(node, before);
  } finally {
    await removeTempDir(release);
  }
});
