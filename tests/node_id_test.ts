/**
 * Node ids across processes (issue 10 §3): a `main.ts` started with the `--node-id` of a live node exits
 * non-zero with a message naming the problem, and the live node keeps its users, their claims and their
 * delivery. MariaDB, Redis and the nodes are real processes started here on free ports.
 */
import assert from "node:assert/strict";
import { Errno } from "../lib/protocol/errno.ts";
import { MsgId } from "../lib/protocol/msg_id.ts";
import { ServerProcess } from "./harness/chat_node.ts";
import { MariaDbServer } from "./harness/mariadb.ts";
import { RedisServer } from "./harness/redis.ts";
import { TestClient } from "./harness/test_client.ts";
import { registerUser, uniqueName } from "./protocol_suite.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
/** A guard against a hung child, far above the node's lease (5 s): not an assertion on time. */
const CHILD_GUARD_MS = 60_000;

/** The arguments of a cluster node named `nodeId`. */
function nodeArgs(nodeId: string, mariadb: MariaDbServer, redis: RedisServer): string[] {
  return ["--port", "0", "--node-id", nodeId, "--mysql", mariadb.url, "--redis", redis.url];
}

/** Runs `main.ts` to its exit (it is expected to refuse to start); its exit code and stderr. */
async function runToExit(args: string[]): Promise<{ code: number; stderr: string; stdout: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-read", "--allow-write", "--allow-env", MAIN, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const guard = setTimeout(() => child.kill("SIGKILL"), CHILD_GUARD_MS);
  try {
    const output = await child.output();
    const decoder = new TextDecoder();
    return {
      code: output.code,
      stdout: decoder.decode(output.stdout),
      stderr: decoder.decode(output.stderr),
    };
  } finally {
    clearTimeout(guard);
  }
}

async function login(port: number, id: number, password: string): Promise<[TestClient, number]> {
  const client = await TestClient.connect(port);
  const reply = await client.request({ msgid: MsgId.LOGIN, id, password });
  return [client, reply.errno as number];
}

Deno.test("main.ts refuses a --node-id a live node holds: exits non-zero, and the live node's users stay", async () => {
  await using mariadb = await MariaDbServer.start();
  await using redis = await RedisServer.start();
  const dir = await Deno.makeTempDir({ prefix: "chat-node-id-" });
  try {
    await using node1 = await ServerProcess.start(nodeArgs("n1", mariadb, redis), `${dir}/n1.log`);
    const alice = { name: uniqueName(), password: "pw-alice" };
    const bob = { name: uniqueName(), password: "pw-bob" };
    const aliceId = await registerUser(node1.port, alice.name, alice.password);
    const bobId = await registerUser(node1.port, bob.name, bob.password);
    const [a, aliceLogin] = await login(node1.port, aliceId, alice.password);
    try {
      assert.equal(aliceLogin, Errno.OK);

      const duplicate = await runToExit(nodeArgs("n1", mariadb, redis));
      assert.notEqual(duplicate.code, 0, `exit code; stderr: ${duplicate.stderr}`);
      assert.match(duplicate.stderr, /node id "n1" is in use by a live node/);
      assert.match(duplicate.stderr, /choose another --node-id or stop that node/);
      assert.doesNotMatch(duplicate.stdout, /listening on/);
      assert.doesNotMatch(duplicate.stderr, /dropped claims/);

      // Another node sees alice claimed by n1, and a frame from there still reaches her on n1.
      await using node2 = await ServerProcess.start(nodeArgs("n2", mariadb, redis), `${dir}/n2.log`);
      const [again, againErrno] = await login(node2.port, aliceId, alice.password);
      again.close();
      assert.equal(againErrno, Errno.ALREADY_LOGGED_IN, "alice's claim is intact");
      const [b, bobLogin] = await login(node2.port, bobId, bob.password);
      try {
        assert.equal(bobLogin, Errno.OK);
        const ack = await b.request({ msgid: MsgId.ONE_CHAT, toid: aliceId, msg: "still there?" });
        assert.equal(ack.errno, Errno.OK);
        const received = await a.nextOf(MsgId.ONE_CHAT);
        assert.deepEqual([received.id, received.msg], [bobId, "still there?"]);
      } finally {
        b.close();
      }
      const log = await Deno.readTextFile(`${dir}/n1.log`);
      assert.doesNotMatch(log, /lease renewed by another process/);
    } finally {
      a.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
