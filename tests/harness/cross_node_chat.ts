/**
 * Checks that two nodes of one cluster share their chat, whatever their bus (one Redis or a Redis Cluster).
 *
 * @module
 */
import assert from "node:assert/strict";
import { uniqueName } from "../protocol_suite.ts";
import { loginAt, newUser } from "./v1_users.ts";

/**
 * Three new users (registered through `registerPort`), two on node 1 and one on node 2, in one group: a
 * message from node 2 reaches both members on node 1.
 */
export async function assertGroupChatAcrossNodes(
  registerPort: number,
  node1Port: number,
  node2Port: number,
): Promise<void> {
  const [alice, bob, carol] = await Promise.all([1, 2, 3].map(() => newUser(registerPort)));
  const [a] = await loginAt(node1Port, alice);
  const [b] = await loginAt(node2Port, bob);
  const [c] = await loginAt(node1Port, carol);
  try {
    const groupid = (await a.request({ msgid: 8, groupname: uniqueName("g"), groupdesc: "" })).groupid;
    assert.equal((await b.request({ msgid: 9, groupid })).errno, 0);
    assert.equal((await c.request({ msgid: 9, groupid })).errno, 0);
    assert.equal((await b.request({ msgid: 10, groupid, msg: "from node2" })).errno, 0);
    assert.equal((await a.nextOf(10)).msg, "from node2");
    assert.equal((await c.nextOf(10)).msg, "from node2");
  } finally {
    for (const client of [a, b, c]) client.close();
  }
}
