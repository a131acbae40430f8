/**
 * Users registered and logged in over the v1 protocol (password logins), for tests that drive whole nodes.
 *
 * @module
 */
import assert from "node:assert/strict";
import { registerUser, uniqueName } from "../protocol_suite.ts";
import { type Reply, TestClient } from "./test_client.ts";

/** A registered user and the password to log in with. */
export interface User {
  id: number;
  name: string;
  password: string;
}

/** Registers a user with a unique name through the node on `port`. */
export async function newUser(port: number): Promise<User> {
  const name = uniqueName();
  const password = "pw-" + name;
  return { id: await registerUser(port, name, password), name, password };
}

/** Logs `user` in on a new connection to `port`; fails unless the LOGIN_ACK has errno 0. */
export async function loginAt(port: number, user: User): Promise<[TestClient, Reply]> {
  const client = await TestClient.connect(port);
  const reply = await client.request({ msgid: 1, id: user.id, password: user.password });
  assert.equal(reply.errno, 0, `login of ${user.id} on ${port}: ${JSON.stringify(reply)}`);
  return [client, reply];
}
