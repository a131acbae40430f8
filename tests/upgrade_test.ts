/**
 * Upgrading in place (DESIGN.md "Delivery without loss", step 6): a database that the released server
 * created and filled (tests/harness/released_server.ts), with offline messages waiting, is migrated by the
 * new server at start; each user's next login gets those messages exactly once, and then never again, on no
 * device. New messages are kept in their conversations next to the old data. A database of release 3.0.0
 * (tests/harness/fill_release_3.ts) keeps its friends, groups, roles and conversations; one of schema version 3
 * (tests/harness/fill_schema_3.ts) keeps every user's read state as the old server showed it.
 */
import assert from "node:assert/strict";
import { directConv } from "../lib/conversation_name.ts";
import type { ChatNode } from "../lib/server.ts";
import { startTestNode } from "./harness/chat_node.ts";
import { fillRelease3, type Release3Data } from "./harness/fill_release_3.ts";
import { fillSchema3, type Schema3Data } from "./harness/fill_schema_3.ts";
import { mariaDbPerFile } from "./harness/mariadb_fixture.ts";
import {
  fillReleased,
  RELEASE_3_COMMIT,
  type ReleasedData,
  ReleasedServer,
  type ReleasedUser,
  SCHEMA_3_COMMIT,
} from "./harness/released_server.ts";
import { makeTempDir, removeTempDir } from "./harness/temp_dir.ts";
import { type Reply, TestClient } from "./harness/test_client.ts";

async function login(port: number, who: ReleasedUser, device?: string): Promise<[TestClient, Reply]> {
  const client = await TestClient.connect(port);
  const reply = await client.request({ msgid: 1, id: who.id, password: who.password, device });
  assert.equal(reply.errno, 0, JSON.stringify(reply));
  return [client, reply];
}

const texts = (reply: Reply) => (reply.offlinemsg as Reply[]).map((frame) => frame.msg);

/** The new server on the upgraded database: each waiting message once, then never again. */
async function checkUpgraded(node: ChatNode, data: ReleasedData): Promise<void> {
  const { alice, carol, dave } = data;
  const [phone, first] = await login(node.port, carol, "phone");
  assert.deepEqual(texts(first), data.offline.get(carol.id));
  assert.equal((await phone.request({ msgid: 3 })).errno, 0);
  const again = await phone.request({ msgid: 1, id: carol.id, password: carol.password, device: "phone" });
  assert.deepEqual(texts(again), [], "handed once");
  const [laptop, second] = await login(node.port, carol, "laptop");
  assert.deepEqual(texts(second), [], "not again on a second device");

  // A v1 client (the C++ one) gets its waiting messages the same way, as JSON strings.
  const v1Login = async () => {
    const client = await TestClient.connect(node.port);
    await client.send(JSON.stringify({ msgid: 1, id: dave.id, password: dave.password }) + "\0");
    const ack = await client.nextOf(2);
    client.close();
    assert.equal(ack.errno, 0, JSON.stringify(ack));
    return ((ack.offlinemsg ?? []) as string[]).map((text) => JSON.parse(text).msg);
  };
  assert.deepEqual(await v1Login(), data.offline.get(dave.id));
  assert.deepEqual(await eventuallyLoggedOut(v1Login), [], "handed once to v1 too");

  const [a] = await login(node.port, alice);
  const ack = await a.request({ msgid: 6, toid: carol.id, msg: "after the upgrade" });
  assert.equal(ack.errno, 0, JSON.stringify(ack));
  for (const client of [phone, laptop]) {
    const frame = await client.nextOf(6);
    assert.deepEqual([frame.msg, frame.conv, frame.seq], ["after the upgrade", ack.conv, ack.seq]);
  }
  const groupid = data.groups[0].id;
  const group = await a.request({ msgid: 10, groupid, msg: "group after" });
  assert.equal(group.errno, 0, JSON.stringify(group));
  for (const client of [phone, laptop]) assert.equal((await client.nextOf(10)).msg, "group after");
  for (const client of [a, phone, laptop]) client.close();
}

/** Retries a v1 login refused with errno 2 while the previous connection's login is still ending. */
async function eventuallyLoggedOut(attempt: () => Promise<string[]>): Promise<string[]> {
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (!String(error).includes('"errno":2')) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

/** Fills a database with the released server, stops it, and hands the new server the same database. */
async function upgrade(args: string[], dir: string, start: () => Promise<ChatNode>): Promise<void> {
  const released = await ReleasedServer.start(args, `${dir}/released.log`);
  let data: ReleasedData;
  try {
    data = await fillReleased(released.port);
  } finally {
    await released.stop();
  }
  await using node = await start();
  await checkUpgraded(node, data);
}

Deno.test("a SQLite database of the released server is upgraded; its offline messages arrive once", async () => {
  const dir = await makeTempDir("chat-upgrade-");
  try {
    const db = `${dir}/chat.db`;
    await upgrade(["--db", db], dir, () => startTestNode({ db }));
  } finally {
    await removeTempDir(dir);
  }
});

/** The new server on a database of release 3.0.0: friends, groups with their roles, conversations go on. */
async function checkUpgradedRelease3(node: ChatNode, data: Release3Data): Promise<void> {
  const { ann, ben, alpha, beta } = data;
  const [client, ack] = await login(node.port, ann);
  const ids = (list: unknown) => (list as Reply[]).map((entry) => entry.id);
  assert.deepEqual(ids(ack.friends), [ben.id, data.cat.id].toSorted((x, y) => x - y), "ann's one-way list");
  const groups = ack.groups as Reply[];
  assert.deepEqual(groups.map((group) => group.id), [alpha.id, beta.id].toSorted((x, y) => x - y));
  for (const group of [alpha, beta]) {
    const listed = groups.find((entry) => entry.id === group.id)!;
    assert.equal(listed.groupname, group.name);
    assert.deepEqual(
      (listed.users as Reply[]).map((user) => [user.id, user.role]),
      group.members.map((id) => [id, id === group.creator ? "creator" : "normal"]),
    );
  }
  const sent = await client.request({ msgid: 6, toid: ben.id, msg: "after the upgrade" });
  assert.deepEqual(
    [sent.errno, sent.conv, sent.seq],
    [0, directConv(ann.id, ben.id), data.annToBen.length + 1],
    "the conversation's seqs go on",
  );
  client.close();
}

/** Fills a database with release 3.0.0's server, stops it, and hands the new server the same database. */
async function upgradeRelease3(args: string[], dir: string, start: () => Promise<ChatNode>): Promise<void> {
  const released = await ReleasedServer.start(args, `${dir}/release3.log`, { commit: RELEASE_3_COMMIT });
  let data: Release3Data;
  try {
    data = await fillRelease3(released);
  } finally {
    await released.stop();
  }
  await using node = await start();
  await checkUpgradedRelease3(node, data);
}

Deno.test("a SQLite database of release 3.0.0 is upgraded; friends, groups, roles and conversations go on", async () => {
  const dir = await makeTempDir("chat-upgrade-");
  try {
    const db = `${dir}/chat.db`;
    await upgradeRelease3(["--db", db], dir, () => startTestNode({ db }));
  } finally {
    await removeTempDir(dir);
  }
});

/** The new server on a database of schema version 3: SYNC lists what the old server listed, then goes on. */
async function checkUpgradedSchema3(node: ChatNode, data: Schema3Data): Promise<void> {
  const { ann, ben, cat } = data;
  const list = async (client: TestClient) => (await client.request({ msgid: 16 })).convs;
  for (const user of [ann, ben, cat]) {
    const [client] = await login(node.port, user);
    assert.deepEqual(await list(client), data.lists.get(user.id), user.name);
    client.close();
  }
  const [a] = await login(node.port, ann);
  const [b] = await login(node.port, ben);
  const sent = await a.request({ msgid: 6, toid: ben.id, msg: "after the upgrade" });
  assert.deepEqual([sent.errno, sent.seq], [0, 6], JSON.stringify(sent));
  const conv = directConv(ann.id, ben.id);
  const summary = async (client: TestClient) =>
    ((await list(client)) as Reply[]).find((entry) => entry.conv === conv);
  assert.deepEqual(await summary(a), { conv, lastseq: 6, readseq: 6, peerread: 5, unread: 0 });
  assert.deepEqual(await summary(b), { conv, lastseq: 6, readseq: 5, peerread: 6, unread: 1 });
  a.close();
  b.close();
}

/** Fills a database with the server of schema version 3, stops it, and hands the new server the database. */
async function upgradeSchema3(args: string[], dir: string, start: () => Promise<ChatNode>): Promise<void> {
  const old = await ReleasedServer.start(args, `${dir}/schema3.log`, { commit: SCHEMA_3_COMMIT });
  let data: Schema3Data;
  try {
    data = await fillSchema3(old);
  } finally {
    await old.stop();
  }
  await using node = await start();
  await checkUpgradedSchema3(node, data);
}

Deno.test("a SQLite database of schema version 3 is upgraded; every user's read state stays as it was", async () => {
  const dir = await makeTempDir("chat-upgrade-");
  try {
    const db = `${dir}/chat.db`;
    await upgradeSchema3(["--db", db], dir, () => startTestNode({ db }));
  } finally {
    await removeTempDir(dir);
  }
});

const mariadb = mariaDbPerFile();

Deno.test("a MySQL database of the released server is upgraded; its offline messages arrive once", async () => {
  const dir = await makeTempDir("chat-upgrade-");
  try {
    const mysql = await mariadb().createDatabase("upgrade");
    await upgrade(["--mysql", mysql], dir, () => startTestNode({ mysql }));
  } finally {
    await removeTempDir(dir);
  }
});

Deno.test("a MySQL database of release 3.0.0 is upgraded; friends, groups, roles and conversations go on", async () => {
  const dir = await makeTempDir("chat-upgrade-");
  try {
    const mysql = await mariadb().createDatabase("upgrade_release3");
    await upgradeRelease3(["--mysql", mysql], dir, () => startTestNode({ mysql }));
  } finally {
    await removeTempDir(dir);
  }
});

Deno.test("a MySQL database of schema version 3 is upgraded; every user's read state stays as it was", async () => {
  const dir = await makeTempDir("chat-upgrade-");
  try {
    const mysql = await mariadb().createDatabase("upgrade_schema3");
    await upgradeSchema3(["--mysql", mysql], dir, () => startTestNode({ mysql }));
  } finally {
    await removeTempDir(dir);
  }
});
