/**
 * Script mode: stdin is not a terminal, so lines are read with a plain line reader (npm:cliffy's
 * REPL ends at once on piped stdin under Deno) and run one after another, each waiting for its reply.
 */
import { ChatClient, type Output } from "./chat_client.ts";
import { COMMANDS, findCommand, parseLine } from "./commands.ts";
import { type ClientOptions, connectionSettings, ExitCode } from "./options.ts";
import { Renderer } from "./render.ts";

/** The lines of `input`, without their `\n` or `\r\n`; a last line without a terminator counts. */
export async function* readLines(input: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buffer = "";
  for await (const chunk of input.pipeThrough(new TextDecoderStream())) {
    buffer += chunk;
    let newline;
    while ((newline = buffer.indexOf("\n")) >= 0) {
      yield buffer.slice(0, newline).replace(/\r$/, "");
      buffer = buffer.slice(newline + 1);
    }
  }
  if (buffer !== "") yield buffer.replace(/\r$/, "");
}

/**
 * Runs the commands read from `input` and resolves the exit status: {@linkcode ExitCode.OK},
 * {@linkcode ExitCode.FAILED} if any command failed, {@linkcode ExitCode.CONNECTION} as soon as the
 * server cannot be reached or the connection is lost. Results and incoming messages go to stdout,
 * failures to stderr.
 *
 * After the last line the client keeps printing incoming messages for `waitMs` (a reply to something
 * this script sent may be in flight), then exits; `quit` exits at once.
 */
export async function runScript(options: ClientOptions, input: ReadableStream<Uint8Array>): Promise<number> {
  const render = new Renderer({ color: Deno.stdout.isTerminal() && !Deno.noColor });
  const output: Output = {
    result: (text) => console.log(text),
    event: (text) => console.log(text),
    error: (text) => console.error(text),
  };
  const lost = Promise.withResolvers<"lost">();
  await using client = new ChatClient({
    ...connectionSettings(options),
    output,
    render,
    onLost: (message) => {
      output.error(render.error(message));
      lost.resolve("lost");
    },
  });
  if (!await client.connect()) return ExitCode.CONNECTION;

  let failed = false;
  const lines = readLines(input);
  while (true) {
    const next = await Promise.race([lines.next(), lost.promise]);
    if (next === "lost") return ExitCode.CONNECTION;
    if (next.done) break;
    if (next.value.trimStart().startsWith("#")) continue;
    const parsed = parseLine(next.value);
    if (parsed.kind === "empty") continue;
    if (parsed.kind === "error") {
      output.error(render.error(parsed.message));
      failed = true;
      continue;
    }
    const command = parsed.command;
    if (command.name === "quit") return failed ? ExitCode.FAILED : ExitCode.OK;
    if (command.name === "help") {
      output.result(render.help(COMMANDS, command.topic ? findCommand(command.topic) : undefined));
      continue;
    }
    if (!await client.execute(command)) failed = true;
    if (!client.connected) {
      // Lost while the command ran: the loss is reported once its close handler has run.
      await lost.promise;
      return ExitCode.CONNECTION;
    }
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const waited = await Promise.race([
    new Promise<"waited">((resolve) => timer = setTimeout(() => resolve("waited"), options.waitMs)),
    lost.promise,
  ]);
  clearTimeout(timer);
  if (waited === "lost") return ExitCode.CONNECTION;
  return failed ? ExitCode.FAILED : ExitCode.OK;
}
