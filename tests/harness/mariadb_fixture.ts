/**
 * One MariaDB for a whole test file: started by a `Deno.test.beforeAll` hook and stopped by `afterAll`, so that
 * no test depends on the order of the file's tests, a filtered run still gets its server, and the server's
 * process lives outside every test (tests that check for leaks do not see it).
 *
 * @module
 */

import { MariaDbServer } from "./mariadb.ts";

/**
 * Registers the hooks (call it once, at the top level of a test file) and returns the file's server. When the
 * server cannot start, the hook fails the file with the reason and none of its tests run.
 *
 * @example
 * ```ts ignore
 * import { mariaDbPerFile } from "./harness/mariadb_fixture.ts";
 *
 * const mariadb = mariaDbPerFile();
 * Deno.test("a test that needs MySQL", async () => {
 *   const url = await mariadb().createDatabase("t1");
 * });
 * ```
 */
export function mariaDbPerFile(): () => MariaDbServer {
  let server: MariaDbServer | undefined;
  Deno.test.beforeAll(async () => {
    server = await MariaDbServer.start();
  });
  Deno.test.afterAll(async () => {
    await server?.close();
  });
  return () => {
    if (!server) throw new Error("MariaDB is not running: mariaDbPerFile()'s beforeAll hook did not finish");
    return server;
  };
}
