/** The social suite (friends, blocking, group roles) on one node over MySQL (a MariaDB started here). */
import type { ChatNode } from "../lib/server.ts";
import { startTestNode } from "./harness/chat_node.ts";
import { mariaDbPerFile } from "./harness/mariadb_fixture.ts";
import { type SocialEnv, socialSuite } from "./social_suite.ts";

const mariadb = mariaDbPerFile();
let databases = 0;

class MysqlEnv implements SocialEnv {
  constructor(readonly node: ChatNode) {}

  /** A node on a database of its own, so that no test sees another's users or groups. */
  static async start(): Promise<MysqlEnv> {
    const url = await mariadb().createDatabase(`social_${++databases}`);
    return new MysqlEnv(await startTestNode({ mysql: url }));
  }

  get ports(): readonly [number, number] {
    return [this.node.port, this.node.port];
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.node.close();
  }
}

socialSuite("mysql", () => MysqlEnv.start());
