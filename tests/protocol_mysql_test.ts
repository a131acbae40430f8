/** The protocol suite against a node on MySQL (a MariaDB started here); the store is the only difference. */
import { startTestNode } from "./harness/chat_node.ts";
import { MariaDbServer } from "./harness/mariadb.ts";
import { protocolSuite } from "./protocol_suite.ts";

let server: Promise<MariaDbServer> | undefined;
let database: Promise<string> | undefined;

/** One MariaDB and one database for the file (the suite's names never collide); started on first use. */
function mysqlUrl(): Promise<string> {
  server ??= MariaDbServer.start();
  database ??= server.then((mariadb) => mariadb.createDatabase("protocol"));
  return database;
}

protocolSuite("mysql", async () => startTestNode({ mysql: await mysqlUrl() }));

Deno.test({
  name: "mysql: stop MariaDB",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await (await server)?.close();
  },
});
