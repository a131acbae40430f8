/** The conversation suite on one node over MySQL (a MariaDB started here). */
import type { ChatNode } from "../lib/server.ts";
import { startTestNode } from "./harness/chat_node.ts";
import { mariaDbPerFile } from "./harness/mariadb_fixture.ts";
import { type ConversationEnv, conversationSuite } from "./conversation_suite.ts";

const mariadb = mariaDbPerFile();
let databases = 0;

class MysqlEnv implements ConversationEnv {
  #node: ChatNode;

  private constructor(readonly url: string, node: ChatNode) {
    this.#node = node;
  }

  /** A node on a database of its own, so that seqs start at 1 in every test. */
  static async start(): Promise<MysqlEnv> {
    const url = await mariadb().createDatabase(`conversations_${++databases}`);
    return new MysqlEnv(url, await startTestNode({ mysql: url }));
  }

  get ports(): readonly [number, number] {
    return [this.#node.port, this.#node.port];
  }

  removeGroupMember(groupId: number, userId: number): Promise<void> {
    return this.#node.service.context.store.removeGroupMember(groupId, userId);
  }

  async restart(): Promise<void> {
    await this.#node.close();
    this.#node = await startTestNode({ mysql: this.url });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#node.close();
  }
}

conversationSuite("mysql", () => MysqlEnv.start());
