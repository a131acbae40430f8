/**
 * REPL client entry: `deno task client [--host H] [--port P]` (see `--help`). Interactive on a terminal,
 * a line-by-line script runner when stdin is redirected. Needs `--allow-net`; to keep login tokens between
 * runs also `--allow-env` for the variables that locate the state directory and `--allow-read` and
 * `--allow-write` for that directory (`deno task client` grants `~/.local/state/chat-client`). Without them
 * it runs all the same and says once that it cannot remember tokens.
 */
import { UsageError } from "./lib/client/errors.ts";
import { ExitCode, parseClientArgs, USAGE } from "./lib/client/options.ts";
import { runScript } from "./lib/client/script.ts";

async function main(): Promise<number> {
  let options;
  try {
    options = parseClientArgs(Deno.args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`${error.message}\n\n${USAGE}`);
    return ExitCode.USAGE;
  }
  if (!options) {
    console.log(USAGE);
    return ExitCode.OK;
  }
  try {
    if (!Deno.stdin.isTerminal()) return await runScript(options, Deno.stdin.readable);
    // Loaded only for a terminal: script mode starts without the npm package.
    const { runRepl } = await import("./lib/client/repl.ts");
    return await runRepl(options);
  } catch (error) {
    // Deno's message names the flag to add (`--allow-net`).
    if (!(error instanceof Deno.errors.NotCapable)) throw error;
    console.error(error.message);
    return ExitCode.USAGE;
  }
}

Deno.exit(await main());
