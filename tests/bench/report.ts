/**
 * Output of the benchmarks: a progress line on stderr (rewritten in place), a Markdown table on stdout and a
 * JSON file under `bench-results/`.
 *
 * @module
 */

import type { ProcessUsage } from "./process_stats.ts";

const encoder = new TextEncoder();
const isTty = Deno.stderr.isTerminal();
let progressShown = false;
let lastLogged = -Infinity;

/** Rewrites the progress line on stderr. */
export function progress(text: string): void {
  if (isTty) {
    Deno.stderr.writeSync(encoder.encode(`\r${text}\x1b[K`));
    progressShown = true;
    return;
  }
  // Without a terminal there is no line to rewrite: one line a second keeps a log readable.
  const now = performance.now();
  if (now - lastLogged < 1000) return;
  lastLogged = now;
  Deno.stderr.writeSync(encoder.encode(`\r${text}\n`));
}

/** Ends the progress line so that what follows starts on a fresh line. */
export function endProgress(): void {
  if (progressShown && isTty) Deno.stderr.writeSync(encoder.encode("\n"));
  progressShown = false;
}

/** A note on stderr that stays (ends the progress line first). */
export function note(text: string): void {
  endProgress();
  Deno.stderr.writeSync(encoder.encode(text + "\n"));
}

/** `12345.6` → `12,346`. */
export function fmtInt(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "–";
}

/** Milliseconds with sensible precision. */
export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return "–";
  return ms < 1 ? ms.toFixed(3) : ms < 10 ? ms.toFixed(2) : ms < 100 ? ms.toFixed(1) : ms.toFixed(0);
}

export function fmtBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return "–";
  const abs = Math.abs(bytes);
  if (abs >= 1024 * 1024 * 1024) return `${(bytes / 1024 / 1024 / 1024).toFixed(2)} GiB`;
  if (abs >= 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  if (abs >= 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${Math.round(bytes)} B`;
}

/** `node1 97% 81.2 MiB, nginx 40% 3.1 MiB` for the server processes (the generator is listed apart). */
export function fmtProcesses(usage: ProcessUsage[]): { cpu: string; rss: string } {
  const servers = usage.filter((u) => u.name !== "loadgen" && u.name !== "others");
  const label = (u: ProcessUsage) => servers.length > 1 ? `${u.name} ` : "";
  return {
    cpu: servers.map((u) => `${label(u)}${u.cpuPercent.toFixed(0)}%`).join(", ") || "–",
    rss: servers.map((u) => `${label(u)}${fmtBytes(u.rss)}`).join(", ") || "–",
  };
}

/**
 * The load generator's CPU% (was it the bottleneck?) and, after a slash, the rest of the machine's (was a
 * neighbour busy?).
 */
export function loadgenCpu(usage: ProcessUsage[]): string {
  const self = usage.find((u) => u.name === "loadgen");
  const others = usage.find((u) => u.name === "others");
  return `${self ? `${self.cpuPercent.toFixed(0)}%` : "–"} / ${
    others ? `${others.cpuPercent.toFixed(0)}%` : "–"
  }`;
}

/** A Markdown table. */
export function markdownTable(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((row) => row.map(String))];
  const widths = headers.map((_, column) => Math.max(3, ...cells.map((row) => (row[column] ?? "").length)));
  const line = (row: string[]) => `| ${row.map((cell, i) => cell.padEnd(widths[i])).join(" | ")} |`;
  return [line(cells[0]), `| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`, ...cells.slice(1).map(line)]
    .join("\n");
}

/** What a scenario hands back: its table, notes under it, and everything worth keeping as JSON. */
export interface ScenarioResult {
  title: string;
  headers: string[];
  rows: (string | number)[][];
  notes: string[];
  data: Record<string, unknown>;
  /** Set when the run found what must not happen (soak: a lost message): printed, and the exit code is 1. */
  failed?: string;
}

/** Machine facts that make figures comparable. */
export async function machineInfo(): Promise<Record<string, unknown>> {
  let cpuModel = "unknown";
  try {
    const output = await new Deno.Command("cat", { args: ["/proc/cpuinfo"], stdout: "piped", stderr: "null" })
      .output();
    cpuModel = new TextDecoder().decode(output.stdout).match(/^model name\s*:\s*(.+)$/m)?.[1] ?? cpuModel;
  } catch {
    // Not Linux, or cat missing: the model is only informative.
  }
  return {
    cpus: navigator.hardwareConcurrency,
    cpuModel,
    os: `${Deno.build.os} ${Deno.osRelease()}`,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    loadavg: Deno.loadavg(),
  };
}

/** Writes the JSON report and returns its path. */
export async function writeJson(
  dir: string,
  scenario: string,
  report: Record<string, unknown>,
): Promise<string> {
  await Deno.mkdir(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const path = `${dir}/${scenario}-${stamp}.json`;
  await Deno.writeTextFile(path, JSON.stringify(report, null, 2) + "\n");
  return path;
}
