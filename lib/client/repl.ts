/**
 * Interactive mode on npm:cliffy: its CLI gives the prompt loop, line editing and history (a
 * `node:readline` interface). Commands and help are the client's own, from the command table in
 * `commands.ts`, as in script mode: cliffy's generated help would show an `[options]` that no command
 * has, so no command is registered with cliffy.
 *
 * Two of cliffy's members are private in its typings and used here on purpose (DESIGN.md, "The REPL"):
 * - `executeCommand` is replaced, because cliffy's tokenizer drops punctuation, accented letters and
 *   emoji and reads `@words` as options. Lines are parsed by `parseLine` from the raw text and run on
 *   the {@linkcode ChatClient}.
 * - `readline` is needed to print incoming messages above the prompt (clear the rows of the line being
 *   typed, print, and redraw the prompt with the input and cursor restored), and to give Ctrl-C the
 *   meaning it has in shells.
 */
import { CLI } from "cliffy";
import process from "node:process";
import { clearScreenDown, cursorTo, type Interface, moveCursor } from "node:readline";
import { ChatClient, type Output } from "./chat_client.ts";
import { COMMANDS, findCommand, parseLine } from "./commands.ts";
import { type ClientOptions, connectionSettings, ExitCode } from "./options.ts";
import { printable, Renderer } from "./render.ts";

/**
 * The private parts of cliffy's `CLI` this module relies on (cliffy 2.5.1), and two fields of Deno's
 * `node:readline` Interface that Node's typings leave out (`prevRows`, `history`).
 */
interface CliffyInternals {
  readline: Interface & { prevRows?: number; history: string[] };
  executeCommand(line: string): Promise<void>;
}

/** Writes above the prompt while the user may be typing, and plainly while a command runs. */
class PromptOutput implements Output {
  /** `true` while a command runs: no prompt is shown, so output is written as it is. */
  busy = true;
  readonly #rl: CliffyInternals["readline"];
  readonly #out = process.stdout;

  constructor(rl: CliffyInternals["readline"]) {
    this.#rl = rl;
  }

  result(text: string): void {
    this.write(text);
  }

  error(text: string): void {
    this.write(text);
  }

  event(text: string): void {
    this.write(text);
  }

  write(text: string): void {
    if (this.busy) {
      this.#out.write(text + "\n");
      return;
    }
    // The input may wrap over several rows: go up to the prompt's first row and clear from there.
    const { rows } = this.#rl.getCursorPos();
    moveCursor(this.#out, 0, -rows);
    cursorTo(this.#out, 0);
    clearScreenDown(this.#out);
    this.#out.write(text + "\n");
    // readline would move up by the rows it drew last time, over the text just printed.
    this.#rl.prevRows = 0;
    this.#rl.prompt(true);
  }
}

/** The prompt: the user's name once logged in. */
function promptFor(client: ChatClient): string {
  return client.user ? `${printable(client.user.name)}> ` : "> ";
}

/**
 * Runs the REPL on the terminal until `quit`, Ctrl-D, or Ctrl-C on an empty line (Ctrl-C on a
 * half-typed line clears it, as shells do); resolves the exit status.
 */
export async function runRepl(options: ClientOptions): Promise<number> {
  const render = new Renderer({ color: Deno.stdout.isTerminal() && !Deno.noColor });
  const cli = new CLI({ quietBlank: true }).setDelimiter("> ");
  const internals = cli as unknown as CliffyInternals;
  const rl = internals.readline;
  const output = new PromptOutput(rl);
  const client = new ChatClient({
    ...connectionSettings(options),
    output,
    render,
    onLost: (message) => {
      cli.setDelimiter(promptFor(client));
      rl.setPrompt(promptFor(client));
      output.event(render.notice(`${message}; type reconnect to connect again, or quit`));
    },
  });

  const done = Promise.withResolvers<number>();
  let finished = false;
  // `quit` closes readline here; Ctrl-C and Ctrl-D close it first, and cliffy can then no longer pause it.
  const finish = (readlineClosed: boolean) => {
    if (finished) return;
    finished = true;
    if (readlineClosed) {
      process.stdout.write("\n");
    } else {
      cli.hide();
      rl.close();
    }
    client.close();
    done.resolve(ExitCode.OK);
  };
  rl.on("close", () => finish(true));
  // Left alone, readline closes on any Ctrl-C. Shells abandon the line being typed instead; so does the
  // REPL, and it leaves only from an empty line, so a stray Ctrl-C never ends a session by surprise.
  rl.on("SIGINT", () => {
    if (rl.line === "") return rl.close();
    // To the end of the line, then delete everything before the cursor: readline redraws the prompt.
    rl.write(null, { ctrl: true, name: "e" });
    rl.write(null, { ctrl: true, name: "u" });
  });

  internals.executeCommand = async (line: string) => {
    output.busy = true;
    try {
      const parsed = parseLine(line);
      if (parsed.kind === "empty") return;
      if (parsed.kind === "error") return output.error(render.error(parsed.message));
      const command = parsed.command;
      // Keep passwords out of the history that the Up key recalls.
      if (command.name === "login" || command.name === "register") {
        const entry = rl.history.indexOf(line);
        if (entry >= 0) rl.history.splice(entry, 1);
      }
      if (command.name === "help") {
        return output.result(render.help(COMMANDS, command.topic ? findCommand(command.topic) : undefined));
      }
      if (command.name === "quit") return finish(false);
      await client.execute(command);
      cli.setDelimiter(promptFor(client));
    } finally {
      output.busy = false;
    }
  };

  if (await client.connect()) {
    output.write(render.ok(`connected to ${client.address}; type help for the commands, quit to leave`));
  } else {
    output.write(render.notice("type reconnect to try again, or quit"));
  }
  output.busy = false;
  cli.show();
  return await done.promise;
}
