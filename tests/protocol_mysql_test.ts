/** The protocol suite against a node on MySQL (a MariaDB started here); the store is the only difference. */
import { startTestNode } from "./harness/chat_node.ts";
import { mariaDbPerFile } from "./harness/mariadb_fixture.ts";
import { devicesSuite } from "./devices_suite.ts";
import { protocolSuite } from "./protocol_suite.ts";

const mariadb = mariaDbPerFile();
let database: Promise<string> | undefined;

/** One database for the file (the suite's names never collide), created on first use. */
function mysqlUrl(): Promise<string> {
  database ??= mariadb().createDatabase("protocol");
  return database;
}

protocolSuite("mysql", async () => startTestNode({ mysql: await mysqlUrl() }));

devicesSuite("mysql", async (overrides) => startTestNode({ ...overrides, mysql: await mysqlUrl() }));
