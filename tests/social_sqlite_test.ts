/** The social suite (friends, blocking, group roles) on the embedded default: one node, SQLite, in-process bus. */
import type { ChatNode } from "../lib/server.ts";
import { startTestNode } from "./harness/chat_node.ts";
import { type SocialEnv, socialSuite } from "./social_suite.ts";

class SqliteEnv implements SocialEnv {
  constructor(readonly node: ChatNode) {}

  get ports(): readonly [number, number] {
    return [this.node.port, this.node.port];
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.node.close();
  }
}

socialSuite("sqlite", async () => new SqliteEnv(await startTestNode()));
