/**
 * Open-file limits of the bench and of the servers it starts: read and raised with `prlimit` (Deno lets a
 * program read /proc only with --allow-all, and has no setrlimit), and the loopback's ephemeral port range,
 * which bounds the connections one client address can open to one server address.
 *
 * @module
 */

/** A process's open-files limits (`ulimit -Sn` and `ulimit -Hn`); Infinity for unlimited. */
export interface OpenFileLimits {
  soft: number;
  hard: number;
}

const decoder = new TextDecoder();

async function run(command: string, args: string[]): Promise<string> {
  const output = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" }).output();
  if (!output.success) {
    throw new Error(`${command} ${args.join(" ")} failed: ${decoder.decode(output.stderr).trim()}`);
  }
  return decoder.decode(output.stdout);
}

function limitValue(text: string): number {
  return text === "unlimited" || text === "-1" ? Infinity : Number(text);
}

/** The open-files limits of `pid` (default: this process). */
export async function openFileLimits(pid = Deno.pid): Promise<OpenFileLimits> {
  const text = await run("prlimit", [
    "--pid",
    String(pid),
    "--nofile",
    "--raw",
    "--noheadings",
    "--output=SOFT,HARD",
  ]);
  const [soft, hard] = text.trim().split(/\s+/);
  return { soft: limitValue(soft), hard: limitValue(hard) };
}

/**
 * Raises the soft open-files limit of `pid` (default: this process, whose children then inherit it) to its
 * hard limit, which needs no privilege; the hard limit itself cannot be raised without CAP_SYS_RESOURCE.
 * Returns the limits before and after.
 */
export async function raiseOpenFileLimit(
  pid = Deno.pid,
): Promise<{ before: OpenFileLimits; after: OpenFileLimits }> {
  const before = await openFileLimits(pid);
  if (before.soft < before.hard) {
    const hard = before.hard === Infinity ? "unlimited" : String(before.hard);
    await run("prlimit", ["--pid", String(pid), `--nofile=${hard}:${hard}`]);
  }
  return { before, after: await openFileLimits(pid) };
}

/** How many ephemeral ports a connect() can pick from (net.ipv4.ip_local_port_range), 28,232 by default. */
export async function ephemeralPorts(): Promise<number> {
  try {
    const [low, high] = (await run("cat", ["/proc/sys/net/ipv4/ip_local_port_range"])).trim().split(/\s+/)
      .map(Number);
    if (high >= low) return high - low + 1;
  } catch {
    // Not Linux: assume the default.
  }
  return 60999 - 32768 + 1;
}
