/**
 * Two `main.ts` nodes on one MySQL database and one bus URL (a Redis or a Redis Cluster), for the conversation
 * and social suites ({@linkcode ConversationEnv}): their two ports are the two nodes, so that sender and
 * recipient, actor and the user concerned, or a first send and its retry, are on different nodes.
 *
 * @module
 */
import assert from "node:assert/strict";
import { MysqlStore } from "../../lib/store/mysql_store.ts";
import type { ConversationEnv } from "../conversation_suite.ts";
import { ServerProcess } from "./chat_node.ts";
import { freePort } from "./free_port.ts";
import { makeTempDir, removeTempDir } from "./temp_dir.ts";

/** What {@linkcode TwoNodeEnv.start} needs. */
export interface TwoNodeEnvOptions {
  /** Prefix of the temp folder that holds the nodes' logs. */
  dirPrefix: string;
  /** The nodes' database (`--mysql`). */
  mysqlUrl: string;
  /** The nodes' bus (`--redis`). */
  redisUrl: string;
  /** Runs after the nodes stopped, e.g. to close a Redis that belongs to this environment. */
  onClose?: () => Promise<void>;
}

/** How many times {@linkcode TwoNodeEnv.start} tries, when a picked port was taken meanwhile. */
const START_ATTEMPTS = 3;

/** Two nodes sharing a database and a bus; see the module doc. */
export class TwoNodeEnv implements ConversationEnv {
  #nodes: ServerProcess[] = [];

  private constructor(
    readonly dir: string,
    readonly options: TwoNodeEnvOptions,
    /** Fixed once the nodes started, so that a restarted node comes back where it was. */
    public nodePorts: readonly [number, number],
  ) {}

  /**
   * Starts both nodes; on failure stops the one that started, runs `onClose` and removes what it made. A port
   * that was free when picked can be taken before the node binds it (by any outgoing connection's local
   * port): the nodes then start again on new ports, up to {@linkcode START_ATTEMPTS} times.
   */
  static async start(options: TwoNodeEnvOptions): Promise<TwoNodeEnv> {
    const dir = await makeTempDir(options.dirPrefix);
    const env = new TwoNodeEnv(dir, options, [freePort(), freePort()]);
    for (let attempt = 1;; attempt++) {
      try {
        await env.#startNodes();
        return env;
      } catch (error) {
        if (attempt < START_ATTEMPTS && /is already in use/.test(String(error))) {
          env.nodePorts = [freePort(), freePort()];
          continue;
        }
        await options.onClose?.();
        await removeTempDir(dir);
        throw error;
      }
    }
  }

  get mysqlUrl(): string {
    return this.options.mysqlUrl;
  }

  get ports(): readonly [number, number] {
    return [this.#nodes[0].port, this.#nodes[1].port];
  }

  async #startNodes(): Promise<void> {
    const started = await Promise.allSettled(this.nodePorts.map((port, i) =>
      ServerProcess.start([
        "--port",
        String(port),
        "--node-id",
        `node${i + 1}`,
        "--mysql",
        this.options.mysqlUrl,
        "--redis",
        this.options.redisUrl,
        "--log-level",
        "warn",
      ], `${this.dir}/node${i + 1}.log`)
    ));
    const failed = started.find((result) => result.status === "rejected");
    const nodes = started.flatMap((result) => result.status === "fulfilled" ? [result.value] : []);
    if (failed) {
      await Promise.all(nodes.map((node) => node.stop("SIGTERM")));
      throw failed.reason;
    }
    this.#nodes = nodes;
  }

  async removeGroupMember(groupId: number, userId: number): Promise<void> {
    await using store = MysqlStore.open(this.options.mysqlUrl);
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
    await this.options.onClose?.();
    await removeTempDir(this.dir);
  }
}
