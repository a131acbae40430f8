/**
 * `deno task bench <scenario> [options]`: the load generator and benchmarks of issue 6 (`pool` of issue 3;
 * `tokens`, `sync`, `pingpong --ceiling` and the per-device soak of issue 12; `--baseline` and `kick` of
 * issue 13).
 * See `--help`. Prints a progress line on stderr, a Markdown table on stdout, and writes a JSON report under
 * `bench-results/`.
 *
 * @module
 */

import { type BenchOptions, parseBenchArgs, type Scenario, USAGE, UsageError } from "./args.ts";
import { group } from "./group.ts";
import { kick } from "./kick.ts";
import { idle } from "./idle.ts";
import { IdleLimitError } from "./idle_plan.ts";
import { login } from "./login.ts";
import { pingpong } from "./pingpong.ts";
import { pingpongAgainstBaseline } from "./pingpong_baseline.ts";
import { pingpongAgainstCeiling } from "./pingpong_ceiling.ts";
import { pingpongOverTls } from "./pingpong_tls.ts";
import { pingpongOnRedisCluster } from "./pingpong_redis_cluster.ts";
import { pool } from "./pool.ts";
import { restart } from "./restart.ts";
import { soak } from "./soak.ts";
import { sync } from "./sync.ts";
import { endProgress, machineInfo, markdownTable, note, type ScenarioResult, writeJson } from "./report.ts";
import { storm } from "./storm.ts";
import { tokens } from "./tokens.ts";
import { closeAllTargets } from "./target.ts";

const RUNNERS: Record<Scenario, (options: BenchOptions) => Promise<ScenarioResult>> = {
  pingpong: (options) =>
    options.ceiling
      ? pingpongAgainstCeiling(options)
      : options.tls
      ? pingpongOverTls(options)
      : options.redisCluster
      ? pingpongOnRedisCluster(options)
      : options.baseline
      ? pingpongAgainstBaseline(options)
      : pingpong(options),
  login,
  group,
  idle,
  storm,
  pool,
  soak,
  tokens,
  sync,
  kick,
  restart,
};

/** Rejects after `seconds`, so that no scenario can run forever. */
function deadline(seconds: number, scenario: string): { promise: Promise<never>; cancel: () => void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const promise = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${scenario}: gave up after --timeout ${seconds} s`)),
      seconds * 1000,
    );
  });
  return { promise, cancel: () => clearTimeout(timer) };
}

async function main(): Promise<number> {
  let options: BenchOptions | null;
  try {
    options = parseBenchArgs(Deno.args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`${error.message}\n\n${USAGE}`);
    return 2;
  }
  if (!options) {
    console.log(USAGE);
    return 0;
  }
  const machine = await machineInfo();
  const startedAt = new Date().toISOString();
  const limit = deadline(options.timeout, options.scenario);
  let result: ScenarioResult;
  try {
    result = await Promise.race([RUNNERS[options.scenario](options), limit.promise]);
  } catch (error) {
    endProgress();
    // A limit of the machine is no bug of the bench: its message says it all.
    const text = error instanceof IdleLimitError
      ? error.message
      : error instanceof Error
      ? error.stack ?? error.message
      : error;
    note(`bench ${options.scenario} failed: ${text}`);
    await closeAllTargets();
    return 1;
  } finally {
    limit.cancel();
  }
  endProgress();
  const loadEnd = Deno.loadavg();
  const command = `deno task bench ${Deno.args.join(" ")}`;
  console.log(`\n### ${result.title}\n`);
  console.log(markdownTable(result.headers, result.rows));
  console.log("");
  for (const line of result.notes) console.log(`- ${line}`);
  console.log(
    `- Machine: ${machine.cpus} CPUs (${machine.cpuModel}), ${machine.os}, Deno ${machine.deno}; ` +
      `load average before ${(machine.loadavg as number[])[0].toFixed(2)}, after ${loadEnd[0].toFixed(2)}.`,
  );
  console.log(`- Command: \`${command}\``);
  const path = await writeJson(options.out, options.scenario, {
    scenario: options.scenario,
    command,
    startedAt,
    finishedAt: new Date().toISOString(),
    machine: { ...machine, loadavgAfter: loadEnd },
    options,
    table: { headers: result.headers, rows: result.rows },
    notes: result.notes,
    failed: result.failed,
    ...result.data,
  });
  console.log(`- JSON: ${path}`);
  if (result.failed) {
    note(`bench ${options.scenario} FAILED: ${result.failed}`);
    return 1;
  }
  return 0;
}

Deno.exit(await main());
