/**
 * `deno task cluster` (lib/cluster/demo_cluster.ts) against the harness's MariaDB and Redis, on free ports and
 * in a temp directory: node logs show live on the terminal, prefixed, and in their files; a second run while
 * one runs is refused before it starts anything.
 */
import assert from "node:assert/strict";
import { freePort } from "./harness/free_port.ts";
import { MariaDbServer } from "./harness/mariadb.ts";
import { RedisServer } from "./harness/redis.ts";
import { TestClient } from "./harness/test_client.ts";

const ROOT = new URL("../", import.meta.url).pathname;

/** A port whose successor is free too (the cluster's two nodes take consecutive ports). */
function twoFreePorts(): number {
  while (true) {
    const port = freePort();
    try {
      Deno.listen({ hostname: "127.0.0.1", port: port + 1 }).close();
      return port;
    } catch {
      // Taken; try another.
    }
  }
}

interface ClusterOptions {
  dir: string;
  basePort: number;
  lbPort: number;
  mysql: string;
  redis: string;
}

/** The cluster command with the task's flags, its writes scoped to `dir` instead of ./data. */
function clusterCommand(options: ClusterOptions): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      `--allow-read=${ROOT}nginx.conf,${options.dir}`,
      `--allow-write=${options.dir}`,
      "--allow-run",
      "--allow-env",
      `${ROOT}lib/cluster/demo_cluster.ts`,
      "--mysql",
      options.mysql,
      "--redis",
      options.redis,
      "--base-port",
      String(options.basePort),
      "--port",
      String(options.lbPort),
      "--dir",
      options.dir,
    ],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  });
}

/** Reads `lines` until `done(seen)` holds; fails if the output ends first. */
async function readUntil(
  lines: AsyncIterator<string>,
  seen: string[],
  done: (seen: string[]) => boolean,
): Promise<void> {
  while (!done(seen)) {
    const { value, done: ended } = await lines.next();
    if (ended) assert.fail(`output ended; seen:\n${seen.join("\n")}`);
    seen.push(value);
  }
}

async function* splitLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let pending = "";
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    pending += text;
    const parts = pending.split("\n");
    pending = parts.pop()!;
    yield* parts;
  }
  if (pending) yield pending;
}

/** Kills `child` if it still runs (a failed test must not leave a cluster behind) and waits for its end. */
async function killed(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGKILL");
  } catch {
    // Already exited.
  }
  await child.status;
}

const started = (name: string) => (line: string) => line.startsWith(`${name} | `) && / started /.test(line);

Deno.test("deno task cluster shows node logs live and refuses a second run before starting anything", async () => {
  await using mariadb = await MariaDbServer.start();
  await using redis = await RedisServer.start();
  const dir = await Deno.makeTempDir({ prefix: "chat-demo-cluster-" });
  const otherDir = await Deno.makeTempDir({ prefix: "chat-demo-cluster-2-" });
  const options = { dir, basePort: twoFreePorts(), lbPort: freePort(), mysql: mariadb.url, redis: redis.url };
  const first = clusterCommand(options).spawn();
  const stderr = first.stderr.pipeThrough(new TextDecoderStream()).pipeTo(new WritableStream());
  try {
    const lines = splitLines(first.stdout);
    const seen: string[] = [];
    await readUntil(
      lines,
      seen,
      (s) =>
        s.some(started("node1")) && s.some(started("node2")) && s.some((l) => l.startsWith("connect with:")),
    );
    assert.ok(seen.some((line) => line === `node1 | listening on 127.0.0.1:${options.basePort}`));
    // Each line reaches the file before the terminal, so the file already holds what was shown.
    const node1Log = await Deno.readTextFile(`${dir}/node1.log`);
    assert.match(node1Log, / INFO node1 started /);
    assert.ok(!node1Log.includes("node1 | "), "the file holds the node's own lines, unprefixed");

    {
      await using client = await TestClient.connect(options.lbPort);
      assert.equal((await client.request({ msgid: 4, name: "demo-user", password: "pw" })).errno, 0);
    }

    const logBefore = await Deno.readTextFile(`${dir}/node1.log`);
    const again = await clusterCommand(options).output();
    assert.equal(again.code, 1);
    assert.match(
      new TextDecoder().decode(again.stderr),
      new RegExp(
        `another \`deno task cluster\` is running \\(pid ${first.pid}, lock ${dir}/cluster\\.lock\\)`,
      ),
    );
    // The running node may still append (the client above closing): the file keeps what it held, and holds
    // one start only.
    const logAfter = await Deno.readTextFile(`${dir}/node1.log`);
    assert.ok(logAfter.startsWith(logBefore), "the refused run did not truncate the node log");
    assert.equal(logAfter.match(/ INFO node1 started /g)?.length, 1, "the refused run started no node1");

    const elsewhere = await clusterCommand({ ...options, dir: otherDir }).output();
    assert.equal(elsewhere.code, 1);
    assert.match(
      new TextDecoder().decode(elsewhere.stderr),
      new RegExp(`port ${options.basePort} \\(node1\\) is already in use`),
    );
    await assert.rejects(Deno.stat(`${otherDir}/node1.log`), Deno.errors.NotFound);

    first.kill("SIGINT");
    await readUntil(lines, seen, (s) => s.some((l) => l.startsWith("node1 | ") && / stopped$/.test(l)));
    assert.equal((await first.status).code, 0);
  } finally {
    await killed(first);
    await stderr.catch(() => {});
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(otherDir, { recursive: true });
  }
});

Deno.test("deno task cluster stopped while its nodes start stops those already running (none orphaned)", async () => {
  await using mariadb = await MariaDbServer.start();
  await using redis = await RedisServer.start();
  const dir = await Deno.makeTempDir({ prefix: "chat-demo-cluster-" });
  const options = { dir, basePort: twoFreePorts(), lbPort: freePort(), mysql: mariadb.url, redis: redis.url };
  const cluster = clusterCommand(options).spawn();
  const stderr = cluster.stderr.pipeThrough(new TextDecoderStream()).pipeTo(new WritableStream());
  try {
    const lines = splitLines(cluster.stdout);
    // The cluster's own line once node1 runs; node2 is starting now.
    await readUntil(lines, [], (s) => s.some((l) => l.startsWith(`node1 listening on 127.0.0.1:`)));
    cluster.kill("SIGTERM");
    while (!(await lines.next()).done);
    assert.equal((await cluster.status).code, 0);
    await assert.rejects(
      Deno.connect({ hostname: "127.0.0.1", port: options.basePort }),
      Deno.errors.ConnectionRefused,
      "node1 was stopped with the cluster",
    );
  } finally {
    await killed(cluster);
    await stderr.catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});
