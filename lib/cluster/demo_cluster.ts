/**
 * `deno task cluster --mysql URL --redis URL`: a local demo cluster of chat nodes behind nginx.
 * Starts N nodes (`main.ts`, ports 6001…) against the given MySQL and Redis, and nginx with the
 * project's `nginx.conf` on port 8000; each node's log lines show live, prefixed with its name, and go to
 * `DIR/nodeN.log`; Ctrl-C stops them all. A second run while one runs is refused before it starts anything.
 */
import { parseArgs } from "node:util";
import { lockCluster } from "./cluster_lock.ts";
import { clusterNginxConfig } from "./nginx_config.ts";
import { followOutput } from "./node_output.ts";

const USAGE = `Usage: deno task cluster --mysql URL --redis URL [options]
  --nodes N        how many chat nodes (2)
  --base-port P    the first node's port; the others follow (6001)
  --port P         nginx's port, where clients connect (8000)
  --dir DIR        logs, nginx prefix and the lock (./data/cluster)
  CHAT_MYSQL_URL and CHAT_REDIS_URL are read when the flags are absent. The nodes inherit the
  environment, so CHAT_MYSQL_PASSWORD, CHAT_REDIS_PASSWORD and *_PASSWORD_FILE (a file under ./data)
  reach them; the URLs go to them in their environment too, so \`ps\` does not show them.`;

const ROOT = new URL("../../", import.meta.url).pathname;

/** A usage mistake: printed with the usage text, exit 2. */
class UsageError extends Error {}

function port(flag: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1 || value > 65535) {
    throw new UsageError(`--${flag} must be a port from 1 to 65535, got ${JSON.stringify(text)}`);
  }
  return value;
}

/** Throws naming the first of `ports` that something already listens on. */
function probePorts(ports: { port: number; what: string }[]): void {
  for (const { port, what } of ports) {
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
    } catch (error) {
      if (!(error instanceof Deno.errors.AddrInUse)) throw error;
      throw new Error(
        `port ${port} (${what}) is already in use: is another cluster or server running? ` +
          `Stop it, or choose --base-port and --port`,
      );
    }
  }
}

/** Resolves once `port` accepts connections; rejects when `process` exits first or after 10 s. */
async function accepting(port: number, process: Deno.ChildProcess, what: string): Promise<void> {
  let exited = false;
  process.status.then(() => exited = true);
  const deadline = Date.now() + 10_000;
  while (true) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch (error) {
      if (exited) throw new Error(`${what} exited before accepting connections on ${port}`);
      if (Date.now() > deadline) {
        throw new Error(`${what} not accepting on ${port} after 10 s`, { cause: error });
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** A child process and the copying of its output, which ends after the child exits. */
interface Child {
  process: Deno.ChildProcess;
  output: Promise<unknown>;
}

/** Starts a node; resolves once it printed its listening line. Its output is followed live. */
async function startNode(
  name: string,
  port: number,
  dir: string,
  env: Record<string, string>,
): Promise<Child> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-env",
      // ./data too: a CHAT_MYSQL_PASSWORD_FILE kept there (see README) must be readable by the nodes.
      `--allow-read=${ROOT}sql,${ROOT}data`,
      `${ROOT}main.ts`,
      "--port",
      String(port),
      "--node-id",
      name,
    ],
    env,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  const listening = Promise.withResolvers<void>();
  const logFile = `${dir}/${name}.log`;
  const onLine = (line: string) => {
    if (line.startsWith("listening on ")) listening.resolve();
  };
  const followed = Promise.all([
    followOutput(child.stdout, { name, logFile, onLine }),
    followOutput(child.stderr, { name, logFile }),
  ]);
  followed.then(
    () => listening.reject(new Error(`${name} exited before listening; see ${logFile}`)),
    (error) => listening.reject(error),
  );
  try {
    await listening.promise;
  } catch (error) {
    await child.status;
    throw error;
  }
  return { process: child, output: followed };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      mysql: { type: "string" },
      redis: { type: "string" },
      nodes: { type: "string", default: "2" },
      "base-port": { type: "string", default: "6001" },
      port: { type: "string", default: "8000" },
      dir: { type: "string", default: `${ROOT}data/cluster` },
      help: { type: "boolean" },
    },
  });
  const mysql = values.mysql ?? Deno.env.get("CHAT_MYSQL_URL");
  const redis = values.redis ?? Deno.env.get("CHAT_REDIS_URL");
  if (values.help || !mysql || !redis) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  const nodes = Number(values.nodes);
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > 64) {
    throw new UsageError(`--nodes must be an integer from 1 to 64, got ${JSON.stringify(values.nodes)}`);
  }
  const basePort = port("base-port", values["base-port"]);
  const lbPort = port("port", values.port);
  const dir = values.dir;
  const nodePorts = Array.from({ length: nodes }, (_, i) => basePort + i);
  if (nodePorts.at(-1)! > 65535) {
    throw new UsageError(`--base-port ${basePort} leaves no room for ${nodes} nodes`);
  }

  // Before anything that another running cluster would notice: no port is bound, Redis is not touched.
  using _lock = await lockCluster(dir);
  probePorts([
    ...nodePorts.map((port, i) => ({ port, what: `node${i + 1}` })),
    { port: lbPort, what: "nginx" },
  ]);

  await Deno.mkdir(`${dir}/nginx/logs`, { recursive: true });
  const env = { CHAT_MYSQL_URL: mysql, CHAT_REDIS_URL: redis };
  const children: Child[] = [];
  const stopAll = async () => {
    for (const child of children) signal(child.process, "SIGTERM");
    // A node that hangs in its drain must not hold the cluster forever: kill what is left after the deadline.
    const deadline = setTimeout(() => {
      for (const child of children) signal(child.process, "SIGKILL");
    }, STOP_DEADLINE_MS);
    await Promise.all(children.map((child) => child.process.status));
    clearTimeout(deadline);
    // The last lines (a node's "stopped") reach the terminal and the files before we exit.
    await Promise.allSettled(children.map((child) => child.output));
  };
  // Listening from the start: a signal while nodes start must stop those already running, not orphan them.
  const stopped = Promise.withResolvers<void>();
  let stopRequested = false;
  const stop = () => {
    stopRequested = true;
    stopped.resolve();
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  try {
    const upstreams: string[] = [];
    for (const [i, nodePort] of nodePorts.entries()) {
      const name = `node${i + 1}`;
      children.push(await startNode(name, nodePort, dir, env));
      if (stopRequested) {
        await stopAll();
        return 0;
      }
      upstreams.push(`127.0.0.1:${nodePort}`);
      console.log(`${name} listening on 127.0.0.1:${nodePort} (log: ${dir}/${name}.log)`);
    }
    const config = clusterNginxConfig(await Deno.readTextFile(`${ROOT}nginx.conf`), {
      upstreams,
      listen: `127.0.0.1:${lbPort}`,
    });
    await Deno.writeTextFile(`${dir}/nginx/nginx.conf`, config);
    const nginx = spawnNginx({
      args: [
        "-p",
        `${dir}/nginx`,
        "-c",
        `${dir}/nginx/nginx.conf`,
        "-e",
        `${dir}/nginx/logs/error.log`,
        "-g",
        "daemon off;",
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    });
    const logFile = `${dir}/nginx/nginx.out`;
    children.push({
      process: nginx,
      output: Promise.all([
        followOutput(nginx.stdout, { name: "nginx", logFile }),
        followOutput(nginx.stderr, { name: "nginx", logFile }),
      ]),
    });
    await accepting(lbPort, nginx, "nginx");
    console.log(`nginx on 127.0.0.1:${lbPort} → ${upstreams.join(", ")}`);
    console.log(`connect with: deno task client --port ${lbPort}    (Ctrl-C stops the cluster)`);
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    await stopAll();
    return 1;
  }
  const exited = children.map((child, i) =>
    child.process.status.then((status) => `${i < nodes ? `node${i + 1}` : "nginx"} exited (${status.code})`)
  );
  const ended = await Promise.race([stopped.promise.then(() => undefined), ...exited]);
  if (ended !== undefined) console.error(`${ended} on its own; stopping the cluster`);
  await stopAll();
  return ended === undefined ? 0 : 1;
}

/** How long the nodes get to drain after SIGTERM before they are killed. */
const STOP_DEADLINE_MS = 15_000;

function signal(process: Deno.ChildProcess, name: Deno.Signal): void {
  try {
    process.kill(name);
  } catch {
    // Already gone.
  }
}

/** nginx from PATH, or from /usr/sbin, where Debian puts it and a normal user's PATH does not reach. */
function spawnNginx(options: Deno.CommandOptions): Deno.ChildProcess {
  try {
    return new Deno.Command("nginx", options).spawn();
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    return new Deno.Command("/usr/sbin/nginx", options).spawn();
  }
}

try {
  Deno.exit(await main());
} catch (error) {
  if (error instanceof UsageError) {
    console.error(`${error.message}\n\n${USAGE}`);
    Deno.exit(2);
  }
  if (error instanceof Error) {
    // ClusterRunningError, a port in use, a node that did not start: the message is the whole story.
    console.error(error.message);
    Deno.exit(1);
  }
  throw error;
}
