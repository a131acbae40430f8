/**
 * A cluster node's output, line by line: each line is appended to the node's log file and then shown on the
 * terminal with the node's name in front, as it happens (not when the node exits).
 *
 * @module
 */

/** Options for {@linkcode followOutput}. */
export interface FollowOutputOptions {
  /** Put in front of every terminal line, e.g. `node1`. */
  name: string;
  /** The log file every line is appended to (created when missing). */
  logFile: string;
  /** Where the prefixed lines go (default stdout). */
  terminal?: { writeSync(bytes: Uint8Array): number };
  /** Called with every line (without its newline) after it was written to both. */
  onLine?: (line: string) => void;
}

/**
 * Copies `output` line by line to `options.logFile` and to the terminal as `NAME | line`; resolves when the
 * stream ends. A last line without a newline is written too.
 *
 * @example
 * ```ts ignore
 * const child = new Deno.Command(Deno.execPath(), { args, stderr: "piped" }).spawn();
 * await followOutput(child.stderr, { name: "node1", logFile: "data/cluster/node1.log" });
 * ```
 */
export async function followOutput(
  output: ReadableStream<Uint8Array>,
  options: FollowOutputOptions,
): Promise<void> {
  const encoder = new TextEncoder();
  const terminal = options.terminal ?? Deno.stdout;
  using log = await Deno.open(options.logFile, { create: true, append: true });
  const emit = async (line: string) => {
    const bytes = encoder.encode(`${line}\n`);
    let written = 0;
    while (written < bytes.length) written += await log.write(bytes.subarray(written));
    writeAll(terminal, encoder.encode(`${options.name} | ${line}\n`));
    options.onLine?.(line);
  };
  let pending = "";
  for await (const text of output.pipeThrough(new TextDecoderStream())) {
    pending += text;
    let end;
    while ((end = pending.indexOf("\n")) >= 0) {
      await emit(pending.slice(0, end));
      pending = pending.slice(end + 1);
    }
  }
  if (pending !== "") await emit(pending);
}

function writeAll(target: { writeSync(bytes: Uint8Array): number }, bytes: Uint8Array): void {
  let written = 0;
  while (written < bytes.length) written += target.writeSync(bytes.subarray(written));
}
