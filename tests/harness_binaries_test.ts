/** The service harness when a program is missing: one line naming the Debian packages, nothing started. */
import assert from "node:assert/strict";
import { MariaDbServer } from "./harness/mariadb.ts";
import { NginxServer } from "./harness/nginx.ts";
import { RedisServer } from "./harness/redis.ts";
import { RedisCluster } from "./harness/redis_cluster.ts";
import { MissingProgramError, requireProgram } from "./harness/required_program.ts";

const MISSING = "chat-test-no-such-program";

function isOneLine(packages: string, program = MISSING) {
  return (error: unknown) => {
    assert.ok(error instanceof MissingProgramError, String(error));
    // Followed, when permissions kept PATH folders from being searched, by a note naming them.
    assert.ok(
      error.message.startsWith(
        `${program} is not installed; this test needs it. On Debian: apt-get install ${packages}`,
      ),
      error.message,
    );
    assert.ok(!error.message.includes("\n"), "one line");
    assert.equal(error.stack, `MissingProgramError: ${error.message}`, "no backtrace");
    return true;
  };
}

Deno.test("MariaDbServer.start() without mariadbd names mariadb-server", async () => {
  await assert.rejects(MariaDbServer.start({ mariadbd: MISSING }), isOneLine("mariadb-server"));
});

Deno.test("MariaDbServer.start() without mariadb-install-db names mariadb-server", async () => {
  await assert.rejects(MariaDbServer.start({ installDb: MISSING }), isOneLine("mariadb-server"));
});

Deno.test("RedisServer.start() without redis-server names redis-server", async () => {
  await assert.rejects(RedisServer.start({ program: MISSING }), isOneLine("redis-server"));
});

Deno.test("RedisCluster.start() without redis-server names redis-server; without redis-cli, redis-tools", async () => {
  await assert.rejects(RedisCluster.start({ program: MISSING }), isOneLine("redis-server"));
  await assert.rejects(RedisCluster.start({ cli: MISSING }), isOneLine("redis-tools"));
});

Deno.test("NginxServer.start() without nginx names nginx-light and libnginx-mod-stream", async () => {
  await assert.rejects(
    NginxServer.start({ upstreams: ["127.0.0.1:1"], program: MISSING }),
    isOneLine("nginx-light libnginx-mod-stream"),
  );
});

Deno.test("NginxServer.start() without the stream module names libnginx-mod-stream", async () => {
  const module = `/usr/lib/nginx/modules/${MISSING}.so`;
  await assert.rejects(
    NginxServer.start({ upstreams: ["127.0.0.1:1"], streamModule: module }),
    isOneLine("libnginx-mod-stream", module),
  );
});

Deno.test("requireProgram() finds an installed program", async () => {
  assert.match(await requireProgram("sh", "dash"), /\/sh$/);
});
