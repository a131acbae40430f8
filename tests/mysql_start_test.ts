/**
 * main.ts against a real MariaDB: a configuration mistake (unknown database, wrong password, nothing
 * listening) stops the start with exit 1 and the fix in the message; the password may come from the
 * environment or a file instead of the URL. Nothing here asserts on time.
 */
import assert from "node:assert/strict";
import mysql from "mysql2/promise";
import { ServerProcess } from "./harness/chat_node.ts";
import { freePort } from "./harness/free_port.ts";
import { MariaDbServer } from "./harness/mariadb.ts";
import { TestClient } from "./harness/test_client.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const SQL = new URL("../sql", import.meta.url).pathname;
const PASSWORD = "pa ss@w:rd/1";

async function serve(args: string[], env: Record<string, string> = {}) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-env", `--allow-read=${SQL}`, MAIN, "--port", "0", ...args],
    env,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).output();
  return { code: output.code, stderr: new TextDecoder().decode(output.stderr) };
}

Deno.test("main.ts with MySQL: start errors name the fix, passwords come from env or file", async (t) => {
  await using mariadb = await MariaDbServer.start();
  const dir = await Deno.makeTempDir({ prefix: "chat-mysql-start-" });
  const base = `mysql://root@127.0.0.1:${mariadb.port}`;
  await mariadb.createDatabase("start_ok");
  const admin = await mysql.createConnection({ host: "127.0.0.1", port: mariadb.port, user: "root" });
  try {
    await admin.query("CREATE USER 'chat'@'127.0.0.1' IDENTIFIED BY ?", [PASSWORD]);
    await admin.query("GRANT ALL ON start_ok.* TO 'chat'@'127.0.0.1'");
    const chatUrl = `mysql://chat@127.0.0.1:${mariadb.port}/start_ok`;

    await t.step("an unknown database exits 1 with the CREATE DATABASE line", async () => {
      const { code, stderr } = await serve(["--mysql", `${base}/no_such_db`]);
      assert.equal(code, 1);
      assert.match(stderr, /MySQL database "no_such_db" does not exist on 127\.0\.0\.1:\d+/);
      assert.match(
        stderr,
        /CREATE DATABASE `no_such_db` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;/,
      );
    });

    await t.step("a wrong password exits 1 naming the user and how to pass the password", async () => {
      const { code, stderr } = await serve(["--mysql", chatUrl], { CHAT_MYSQL_PASSWORD: "wrong" });
      assert.equal(code, 1);
      assert.match(stderr, /refused user "chat"/);
      assert.match(stderr, /Access denied for user 'chat'@'127\.0\.0\.1'/);
      assert.match(stderr, /CHAT_MYSQL_PASSWORD or --mysql-password-file FILE/);
      assert.ok(!stderr.includes("wrong"), "the password is never echoed");
    });

    await t.step("a port where nothing listens exits 1 asking whether MariaDB is running", async () => {
      const port = freePort();
      const { code, stderr } = await serve(["--mysql", `mysql://root@127.0.0.1:${port}/chat`]);
      assert.equal(code, 1);
      assert.match(
        stderr,
        new RegExp(`cannot connect to MySQL at 127\\.0\\.0\\.1:${port}: connection refused`),
      );
      assert.match(stderr, /Is MariaDB running/);
    });

    await t.step("CHAT_MYSQL_PASSWORD overrides a wrong password in the URL", async () => {
      const url = `mysql://chat:not-this@127.0.0.1:${mariadb.port}/start_ok`;
      await using server = await ServerProcess.start(["--port", "0", "--mysql", url], `${dir}/env.log`, {
        CHAT_MYSQL_PASSWORD: PASSWORD,
      });
      await using client = await TestClient.connect(server.port);
      assert.equal((await client.request({ msgid: 4, name: "via-env", password: "x" })).errno, 0);
    });

    await t.step("--mysql-password-file supplies the password (trailing newline trimmed)", async () => {
      await Deno.writeTextFile(`${dir}/mysql.pw`, `${PASSWORD}\n`);
      await using server = await ServerProcess.start(
        ["--port", "0", "--mysql", chatUrl, "--mysql-password-file", `${dir}/mysql.pw`],
        `${dir}/file.log`,
      );
      await using client = await TestClient.connect(server.port);
      assert.equal((await client.request({ msgid: 4, name: "via-file", password: "x" })).errno, 0);
    });
  } finally {
    await admin.end();
    await Deno.remove(dir, { recursive: true });
  }
});
