/** The messages for a database path the process may not use (the process-level behaviour is in server_process_test). */
import assert from "node:assert/strict";
import { dbPathDenied, dbPathProblem, serveCommand } from "../lib/db_path_access.ts";

const ROOT = new URL("../", import.meta.url).pathname;

Deno.test("serveCommand() grants the database directory and the schema, and makes a relative --db absolute", () => {
  const command = serveCommand("/srv/chat", { args: ["--port", "7000", "--db", "chat.db"] });
  assert.equal(
    command,
    `deno run --allow-net --allow-env --allow-read=/srv/chat,${ROOT}sql --allow-write=/srv/chat ${ROOT}main.ts ` +
      `--port 7000 --db ${Deno.cwd()}/chat.db`,
  );
});

Deno.test("serveCommand() resolves --db=PATH and quotes words the shell would split", () => {
  const command = serveCommand("/srv/my chat", { args: ["--db=rel/x.db", "--node-id", "it's"] });
  assert.ok(command.includes(`'--allow-read=/srv/my chat,${ROOT}sql'`), command);
  assert.ok(command.includes(`'--allow-write=/srv/my chat'`), command);
  assert.ok(command.endsWith(`--db=${Deno.cwd()}/rel/x.db --node-id 'it'\\''s'`), command);
});

Deno.test("dbPathProblem() accepts :memory: whatever the permissions", () => {
  assert.equal(dbPathProblem(":memory:"), undefined);
});

Deno.test("dbPathDenied() names the directory and how to create it for this user", () => {
  assert.equal(
    dbPathDenied("/srv/chat/chat.db"),
    "cannot create or open the database /srv/chat/chat.db: the system denies this user access to /srv/chat. " +
      `Create the directory and give this user write access, e.g. sudo install -d -o "$USER" /srv/chat`,
  );
});

Deno.test("dbPathProblem() adds --db PATH to its command when the path came from CHAT_DB", () => {
  const fromEnv = dbPathProblem("/srv/chat/chat.db", { args: ["--port", "7000"] });
  assert.match(fromEnv ?? "", /--allow-write=\/srv\/chat .*main\.ts --port 7000 --db \/srv\/chat\/chat\.db$/);
  const fromFlag = dbPathProblem("/srv/chat/chat.db", { args: ["--db", "/srv/chat/chat.db"] });
  assert.equal(fromFlag?.match(/--db/g)?.length, 1, "not repeated when the flag gave it");
});
