/**
 * The conversation suite across a cluster: two `main.ts` nodes sharing a MariaDB and a Redis, with nginx in
 * front. The suite's two ports are the two nodes themselves, so that sender and recipient, or a first send
 * and its retry, are on different nodes; one more test goes through nginx.
 */
import assert from "node:assert/strict";
import { MsgId } from "../lib/protocol/msg_id.ts";
import { MysqlStore } from "../lib/store/mysql_store.ts";
import { ServerProcess } from "./harness/chat_node.ts";
import { freePort } from "./harness/free_port.ts";
import { mariaDbPerFile } from "./harness/mariadb_fixture.ts";
import { NginxServer } from "./harness/nginx.ts";
import { RedisServer } from "./harness/redis.ts";
import { makeTempDir, removeTempDir } from "./harness/temp_dir.ts";
import { account, conv, type ConversationEnv, conversationSuite, device, say } from "./conversation_suite.ts";

const mariadb = mariaDbPerFile();
let databases = 0;

class ClusterEnv implements ConversationEnv {
  #nodes: ServerProcess[] = [];

  private constructor(
    readonly dir: string,
    readonly mysqlUrl: string,
    readonly redis: RedisServer,
    /** Fixed, so that a restarted node comes back where nginx expects it. */
    readonly nodePorts: readonly [number, number],
  ) {}

  /** A database and a Redis of its own, so that ids, seqs and presence start afresh in every test. */
  static async start(): Promise<ClusterEnv> {
    const dir = await makeTempDir("chat-conv-cluster-");
    const [mysqlUrl, redis] = await Promise.all([
      mariadb().createDatabase(`cluster_${++databases}`),
      RedisServer.start(),
    ]);
    const env = new ClusterEnv(dir, mysqlUrl, redis, [freePort(), freePort()]);
    await env.#startNodes();
    return env;
  }

  get ports(): readonly [number, number] {
    return [this.#nodes[0].port, this.#nodes[1].port];
  }

  async #startNodes(): Promise<void> {
    this.#nodes = await Promise.all(this.nodePorts.map((port, i) =>
      ServerProcess.start([
        "--port",
        String(port),
        "--node-id",
        `node${i + 1}`,
        "--mysql",
        this.mysqlUrl,
        "--redis",
        this.redis.url,
        "--log-level",
        "warn",
      ], `${this.dir}/node${i + 1}.log`)
    ));
  }

  async removeGroupMember(groupId: number, userId: number): Promise<void> {
    await using store = MysqlStore.open(this.mysqlUrl);
    await store.removeGroupMember(groupId, userId);
  }

  async restart(): Promise<void> {
    await this.#stopNodes();
    await this.#startNodes();
  }

  async #stopNodes(): Promise<void> {
    const statuses = await Promise.all(this.#nodes.map((node) => node.stop("SIGTERM")));
    assert.deepEqual(statuses.map((status) => status.code), [0, 0], `nodes' logs in ${this.dir}`);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#stopNodes();
    await this.redis.close();
    await removeTempDir(this.dir);
  }
}

conversationSuite("cluster", () => ClusterEnv.start());

Deno.test("cluster: through nginx, both sides see one sequence and read the same history", async () => {
  await using env = await ClusterEnv.start();
  await using nginx = await NginxServer.start({
    upstreams: env.nodePorts.map((port) => `127.0.0.1:${port}`),
  });
  const [a, b] = [await account(nginx.port), await account(nginx.port)];
  const alice = await device(nginx.port, a);
  const bob = await device(nginx.port, b);
  await using _a = alice.client;
  await using _b = bob.client;
  const name = conv(a.id, b.id);
  for (let i = 1; i <= 4; i++) {
    const ack = await say(i % 2 ? alice : bob, i % 2 ? b.id : a.id, `n${i}`);
    assert.deepEqual([ack.conv, ack.seq], [name, i]);
    const forwarded = await (i % 2 ? bob : alice).client.next((frame) => frame.msg === `n${i}`);
    assert.equal(forwarded.seq, i);
  }
  for (const client of [alice.client, bob.client]) {
    const history = await client.request({ msgid: MsgId.HISTORY, conv: name });
    assert.deepEqual((history.messages as { msg: string }[]).map((m) => m.msg), ["n1", "n2", "n3", "n4"]);
  }
});
