/**
 * CPU time and memory of the processes under test, from /proc/PID/stat and /proc/PID/status.
 *
 * Deno lets a program read /proc only with --allow-all (which no task gets), so the files are read by a `cat`
 * child: about 2 ms per sample, taken only at the edges of a measured window and once a second for the
 * progress line.
 *
 * @module
 */

import process from "node:process";

/** One reading of one process. */
export interface ProcessSample {
  pid: number;
  /** User + system CPU seconds since the process started. */
  cpuSeconds: number;
  /** Resident set size in bytes. */
  rss: number;
  /** Peak resident set size in bytes. */
  peakRss: number;
  /** performance.now() when read. */
  at: number;
}

/** A process to watch, by role ("node1", "nginx", …). */
export interface WatchedProcess {
  name: string;
  pid: number;
}

/** CPU use and memory of one process over a window. */
export interface ProcessUsage {
  name: string;
  pid: number;
  /** CPU time over wall time, in percent of one core (two busy cores = 200). */
  cpuPercent: number;
  rss: number;
  peakRss: number;
}

let clockTicks: number | undefined;

async function run(command: string, args: string[]): Promise<string> {
  const output = await new Deno.Command(command, { args, stdout: "piped", stderr: "null" }).output();
  return new TextDecoder().decode(output.stdout);
}

async function ticksPerSecond(): Promise<number> {
  clockTicks ??= Number((await run("getconf", ["CLK_TCK"])).trim()) || 100;
  return clockTicks;
}

/** Parses /proc/PID/stat (the command name may contain spaces and parentheses) and /proc/PID/status. */
function parse(pid: number, text: string, ticks: number, at: number): ProcessSample | undefined {
  const close = text.lastIndexOf(") ");
  if (close < 0) return undefined;
  // Fields after "(comm) " start at field 3 (state); utime and stime are fields 14 and 15.
  const fields = text.slice(close + 2).split(" ");
  const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / ticks;
  const kb = (name: string) =>
    Number(text.match(new RegExp(`^${name}:\\s+(\\d+) kB`, "m"))?.[1] ?? NaN) * 1024;
  return { pid, cpuSeconds, rss: kb("VmRSS"), peakRss: kb("VmHWM"), at };
}

/**
 * Reads CPU time and memory of `pid`; undefined when the process is gone.
 *
 * @example
 * ```ts ignore
 * const before = await sampleProcess(pid);
 * ```
 */
export async function sampleProcess(pid: number): Promise<ProcessSample | undefined> {
  const ticks = await ticksPerSecond();
  const at = performance.now();
  const text = await run("cat", [`/proc/${pid}/stat`, `/proc/${pid}/status`]);
  return parse(pid, text, ticks, at);
}

/** Busy and total CPU seconds of the whole machine (all cores), from the first line of /proc/stat. */
async function machineCpu(): Promise<{ busy: number; total: number } | undefined> {
  const ticks = await ticksPerSecond();
  const line = (await run("cat", ["/proc/stat"])).split("\n")[0];
  if (!line.startsWith("cpu ")) return undefined;
  // user nice system idle iowait irq softirq steal (guest time is already inside user)
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1, 9).map(
    Number,
  );
  const busy = user + nice + system + irq + softirq + (steal || 0);
  return { busy: busy / ticks, total: (busy + idle + iowait) / ticks };
}

/** The generator's own CPU seconds (user + system), to tell whether the load generator was the bottleneck. */
export function selfCpuSeconds(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
}

/**
 * A set of processes sampled together: `start()` at the beginning of a window, `stop()` at its end.
 *
 * @example
 * ```ts ignore
 * const watch = new ProcessWatch([{ name: "node", pid }]);
 * await watch.start();
 * // … load …
 * const usage = await watch.stop();
 * ```
 */
export class ProcessWatch {
  readonly processes: WatchedProcess[];
  #start = new Map<number, ProcessSample>();
  #selfStart = { cpu: 0, at: 0 };
  #machineStart: { busy: number; total: number } | undefined;

  constructor(processes: WatchedProcess[]) {
    this.processes = processes;
  }

  async start(): Promise<void> {
    this.#start.clear();
    this.#selfStart = { cpu: selfCpuSeconds(), at: performance.now() };
    this.#machineStart = await machineCpu();
    for (const sample of await Promise.all(this.processes.map((p) => sampleProcess(p.pid)))) {
      if (sample) this.#start.set(sample.pid, sample);
    }
  }

  /**
   * Usage of every watched process since `start()`, plus the generator itself as "loadgen" and, as "others",
   * the CPU the rest of the machine used meanwhile (other programs, and kernel work not charged to a process):
   * a busy neighbour shows up there.
   */
  async stop(): Promise<ProcessUsage[]> {
    const selfEnd = { cpu: selfCpuSeconds(), at: performance.now() };
    const machineEnd = await machineCpu();
    const ends = await Promise.all(this.processes.map((p) => sampleProcess(p.pid)));
    const usage: ProcessUsage[] = [];
    this.processes.forEach((p, index) => {
      const begin = this.#start.get(p.pid);
      const end = ends[index];
      if (!begin || !end) return;
      const wall = (end.at - begin.at) / 1000;
      usage.push({
        name: p.name,
        pid: p.pid,
        cpuPercent: wall > 0 ? (end.cpuSeconds - begin.cpuSeconds) / wall * 100 : NaN,
        rss: end.rss,
        peakRss: end.peakRss,
      });
    });
    const wall = (selfEnd.at - this.#selfStart.at) / 1000;
    usage.push({
      name: "loadgen",
      pid: Deno.pid,
      cpuPercent: wall > 0 ? (selfEnd.cpu - this.#selfStart.cpu) / wall * 100 : NaN,
      rss: Deno.memoryUsage().rss,
      peakRss: NaN,
    });
    const begin = this.#machineStart;
    if (begin && machineEnd && machineEnd.total > begin.total) {
      // Percent of one core, like the per-process figures: busy share of all cores × number of cores.
      const cores = navigator.hardwareConcurrency;
      const busyPercent = (machineEnd.busy - begin.busy) / (machineEnd.total - begin.total) * cores * 100;
      const ours = usage.reduce((sum, u) => sum + (Number.isFinite(u.cpuPercent) ? u.cpuPercent : 0), 0);
      usage.push({
        name: "others",
        pid: 0,
        cpuPercent: Math.max(0, busyPercent - ours),
        rss: NaN,
        peakRss: NaN,
      });
    }
    return usage;
  }

  /** Current resident memory of every watched process, in bytes (for progress lines and idle figures). */
  async rss(): Promise<Map<string, number>> {
    const samples = await Promise.all(this.processes.map((p) => sampleProcess(p.pid)));
    const result = new Map<string, number>();
    this.processes.forEach((p, index) => {
      const sample = samples[index];
      if (sample) result.set(p.name, sample.rss);
    });
    return result;
  }
}

/**
 * The pid of the process listening on 127.0.0.1:`port` (via `ss`, which shows our own processes' pids), for
 * services whose harness does not expose one (nginx, Redis, MariaDB). Undefined when it cannot tell.
 *
 * @example
 * ```ts ignore
 * const pid = await pidListeningOn(redis.port);
 * ```
 */
export async function pidListeningOn(port: number): Promise<number | undefined> {
  try {
    const text = await run("ss", ["-Hltnp", `sport = :${port}`]);
    const pid = text.match(/pid=(\d+)/)?.[1];
    return pid === undefined ? undefined : Number(pid);
  } catch {
    return undefined;
  }
}

/**
 * The soft limit on open files of this process (a `cat` child inherits it), or undefined if unknown.
 *
 * @example
 * ```ts ignore
 * if ((await openFileLimit() ?? Infinity) < needed) throw new Error("raise ulimit -n");
 * ```
 */
export async function openFileLimit(): Promise<number | undefined> {
  const text = await run("cat", ["/proc/self/limits"]);
  const soft = text.match(/^Max open files\s+(\S+)/m)?.[1];
  if (soft === undefined) return undefined;
  return soft === "unlimited" ? Infinity : Number(soft);
}
