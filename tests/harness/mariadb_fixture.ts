/**
 * One MariaDB for a whole test file: started by a `Deno.test.beforeAll` hook and stopped by `afterAll`, so that
 * no test depends on the order of the file's tests, a filtered run still gets its server, and the server's
 * process lives outside every test (tests that check for leaks do not see it).
 *
 * @module
 */

import { MariaDbServer } from "./mariadb.ts";

/** Options for {@linkcode mariaDbPerFile}; both exist for its own tests. */
export interface MariaDbPerFileOptions {
  /** Where the hooks are registered (default `Deno.test`). */
  hooks?: Pick<typeof Deno.test, "beforeAll" | "afterAll">;
  /** Starts the server (default {@linkcode MariaDbServer.start}). */
  start?: () => Promise<Pick<MariaDbServer, "close">>;
}

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
export function mariaDbPerFile(options: MariaDbPerFileOptions = {}): () => MariaDbServer {
  const { hooks = Deno.test, start = () => MariaDbServer.start() } = options;
  let server: MariaDbServer | undefined;
  hooks.beforeAll(async () => {
    server = await start() as MariaDbServer;
  });
  hooks.afterAll(async () => {
    await server?.close();
  });
  return () => {
    if (!server) throw new Error("MariaDB is not running: mariaDbPerFile()'s beforeAll hook did not finish");
    return server;
  };
}
