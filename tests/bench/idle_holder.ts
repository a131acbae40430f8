/**
 * A holder of idle connections for `deno task bench idle`: its own process, so that K connections can exceed
 * one process's open-files limit (the bench starts as many as {@linkcode planIdle} says). It reads one JSON
 * command per line on stdin and answers on stdout, one JSON line each:
 *
 * - `{"login": [[id, name, password, host, port], …]}`: logs those users in, each over its own connection
 *   (16 in flight, a 1 KiB read buffer), answering `{"progress": n}` every 100 and `{"done": n}`;
 * - `{"status": true}`: `{"closed": n}`, the connections the server closed (none should be);
 * - end of stdin (or `{"close": true}`): closes every connection and exits.
 *
 * A failed login answers `{"error": "…"}` and the holder goes on holding what it has.
 *
 * @module
 */

import type { LoadClient } from "./load_client.ts";
import { loginUsers } from "./users.ts";

/** One user to log in: id, name, password, server address and port. */
export type HeldLogin = [number, string, string, string, number];

const held: LoadClient[] = [];
const say = (answer: Record<string, unknown>) => console.log(JSON.stringify(answer));

async function login(logins: HeldLogin[]): Promise<void> {
  const users = logins.map(([id, name, password]) => ({ id, name, password }));
  const clients = await loginUsers(users, (i) => ({ hostname: logins[i][3], port: logins[i][4] }), {
    concurrency: 16,
    bufferBytes: 1024,
    onProgress: (done) => say({ progress: done }),
  });
  held.push(...clients);
  say({ done: clients.length });
}

if (import.meta.main) {
  const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
  let pending = "";
  reading: for await (const text of lines) {
    pending += text;
    let end;
    while ((end = pending.indexOf("\n")) >= 0) {
      const command = JSON.parse(pending.slice(0, end));
      pending = pending.slice(end + 1);
      if (command.close) break reading;
      if (command.status) say({ closed: held.filter((client) => client.isClosed).length });
      if (command.login) {
        await login(command.login).catch((error) => say({ error: String(error?.message ?? error) }));
      }
    }
  }
  for (const client of held) client.close();
  Deno.exit(0);
}
