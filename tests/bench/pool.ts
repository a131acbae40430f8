/**
 * `pool` (issue 3): single-row INSERTs into a private MariaDB, with a new mysql2 connection per insert versus our
 * hand-written pool (`lib/db/pool.ts` over `lib/db/mysql_factory.ts`), at 1 and 4 concurrent workers. mysql2's
 * own pool runs too, as a reference for the overhead of ours.
 *
 * Every mode sends the same text query (client-side placeholders: one round trip per insert), so the only
 * difference is where the connection comes from.
 *
 * @module
 */

import mysql from "mysql2/promise";
import { mysqlFactory } from "../../lib/db/mysql_factory.ts";
import { Pool } from "../../lib/db/pool.ts";
import type { BenchOptions } from "./args.ts";
import { pidListeningOn, type ProcessUsage, ProcessWatch, type WatchedProcess } from "./process_stats.ts";
import { endProgress, fmtInt, fmtMs, progress, type ScenarioResult } from "./report.ts";
import { Histogram, type LatencySummary } from "./stats.ts";
import { forEachLimited } from "./users.ts";

const TABLE = `CREATE TABLE IF NOT EXISTS bench_insert (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  worker INT NOT NULL,
  n INT NOT NULL,
  payload VARCHAR(100) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`;
const INSERT = "INSERT INTO bench_insert (worker, n, payload) VALUES (?, ?, ?)";
const PAYLOAD = "pool benchmark row ✓";

type Mode = "new connection" | "our pool" | "mysql2 pool";
const MODES: Mode[] = ["new connection", "our pool", "mysql2 pool"];

interface Run {
  mode: Mode;
  workers: number;
  inserts: number;
  seconds: number;
  rowsPerSecond: number;
  latency: LatencySummary;
  processes: ProcessUsage[];
}

/** Inserts `total` rows with `workers` lanes; `insert(worker, n)` does one. */
async function timed(
  label: string,
  total: number,
  workers: number,
  insert: (worker: number, n: number) => Promise<void>,
): Promise<{ seconds: number; latency: LatencySummary }> {
  const histogram = new Histogram();
  let done = 0;
  const start = performance.now();
  let next = 0;
  await forEachLimited(workers, workers, async (worker) => {
    while (next < total) {
      const n = next++;
      const t0 = performance.now();
      await insert(worker, n);
      histogram.recordMs(performance.now() - t0);
      if (++done % 500 === 0) {
        const seconds = (performance.now() - start) / 1000;
        progress(`pool: ${label}: ${done}/${total} inserts, ${fmtInt(done / seconds)} rows/s`);
      }
    }
  });
  return { seconds: (performance.now() - start) / 1000, latency: histogram.summary() };
}

async function runMode(
  url: string,
  mode: Mode,
  workers: number,
  total: number,
): Promise<Omit<Run, "processes">> {
  const label = `${mode}, ${workers} worker${workers > 1 ? "s" : ""}`;
  const params = (worker: number, n: number) => [worker, n, PAYLOAD];
  let result;
  if (mode === "new connection") {
    result = await timed(label, total, workers, async (worker, n) => {
      const connection = await mysql.createConnection({ uri: url, charset: "UTF8MB4_UNICODE_CI" });
      try {
        await connection.query(INSERT, params(worker, n));
      } finally {
        await connection.end();
      }
    });
  } else if (mode === "our pool") {
    const pool = new Pool(mysqlFactory(url), { max: workers, acquireTimeout: 30_000 });
    try {
      result = await timed(label, total, workers, async (worker, n) => {
        await pool.withConnection((connection) => connection.query(INSERT, params(worker, n)));
      });
    } finally {
      await pool.close();
    }
  } else {
    const pool = mysql.createPool({ uri: url, charset: "UTF8MB4_UNICODE_CI", connectionLimit: workers });
    try {
      result = await timed(label, total, workers, async (worker, n) => {
        await pool.query(INSERT, params(worker, n));
      });
    } finally {
      await pool.end();
    }
  }
  return {
    mode,
    workers,
    inserts: total,
    seconds: result.seconds,
    rowsPerSecond: total / result.seconds,
    latency: result.latency,
  };
}

/** The `pool` scenario. */
export async function pool(options: BenchOptions): Promise<ScenarioResult> {
  let MariaDbServer;
  try {
    ({ MariaDbServer } = await import("../harness/mariadb.ts"));
  } catch (error) {
    throw new Error("pool: needs the MariaDB harness (tests/harness/mariadb.ts)", { cause: error });
  }
  progress("pool: starting MariaDB");
  await using db = await MariaDbServer.start();
  const url = await db.createDatabase(`bench_${crypto.randomUUID().slice(0, 8)}`);
  const admin = await mysql.createConnection({ uri: url });
  const runs: Run[] = [];
  try {
    await admin.query(TABLE);
    const watched: WatchedProcess[] = [];
    const pid = await pidListeningOn(db.port);
    if (pid !== undefined) watched.push({ name: "mariadb", pid });
    const watch = new ProcessWatch(watched);
    // Warm MariaDB (buffer pool, table) so that the first mode measured is not penalised.
    await runMode(url, "our pool", 1, Math.min(500, options.inserts));
    for (const workers of options.poolWorkers) {
      for (const mode of MODES) {
        await admin.query("TRUNCATE TABLE bench_insert");
        await watch.start();
        const run = await runMode(url, mode, workers, options.inserts);
        runs.push({ ...run, processes: await watch.stop() });
        const [[{ count }]] = await admin.query("SELECT COUNT(*) AS count FROM bench_insert") as unknown as [
          { count: number }[],
        ];
        if (Number(count) !== options.inserts) {
          throw new Error(
            `pool: ${mode} with ${workers} workers left ${count} rows, expected ${options.inserts}`,
          );
        }
      }
    }
  } finally {
    await admin.end();
    endProgress();
  }
  const rows = options.poolWorkers.map((workers) => {
    const of = (mode: Mode) => runs.find((run) => run.mode === mode && run.workers === workers)!;
    const [fresh, ours, theirs] = [of("new connection"), of("our pool"), of("mysql2 pool")];
    const cpu = (run: Run) => {
      const percent = (name: string) => {
        const found = run.processes.find((p) => p.name === name);
        return found ? `${found.cpuPercent.toFixed(0)}%` : "–";
      };
      return `${percent("mariadb")} / ${percent("loadgen")}`;
    };
    return [
      workers,
      fmtInt(fresh.rowsPerSecond),
      fmtInt(ours.rowsPerSecond),
      `${(ours.rowsPerSecond / fresh.rowsPerSecond).toFixed(1)}×`,
      fmtInt(theirs.rowsPerSecond),
      `${fmtMs(fresh.latency.p50)} / ${fmtMs(ours.latency.p50)}`,
      `${fmtMs(fresh.latency.p99)} / ${fmtMs(ours.latency.p99)}`,
      cpu(fresh),
      cpu(ours),
    ];
  });
  return {
    title: `pool — ${fmtInt(options.inserts)} single-row inserts, new connection per insert vs our pool`,
    headers: [
      "workers",
      "new conn rows/s",
      "our pool rows/s",
      "pool / new",
      "mysql2 pool rows/s",
      "p50 ms new / pool",
      "p99 ms new / pool",
      "CPU new: mariadb / bench",
      "CPU pool: mariadb / bench",
    ],
    rows,
    notes: [
      "Private MariaDB from tests/harness/mariadb.ts (InnoDB, utf8mb4, binary log off) on 127.0.0.1; " +
      "each insert is its own autocommit transaction.",
      "new connection: mysql2 createConnection → INSERT → end() per row (the C++ original's baseline). " +
      "our pool: Pool(mysqlFactory(url), { max: workers }).withConnection(INSERT). mysql2 pool: createPool, for reference.",
      "The same text query in every mode (client-side placeholders, one round trip per insert); the table is " +
      "truncated before each run and its row count checked after.",
    ],
    data: { runs },
  };
}
