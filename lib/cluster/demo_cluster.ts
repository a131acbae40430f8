/**
 * `deno task cluster --mysql URL --redis URL`: a local demo cluster of chat nodes behind nginx.
 * Starts N nodes (`main.ts`, ports 6001…) against the given MySQL and Redis, and nginx with the
 * project's `nginx.conf` on port 8000; Ctrl-C stops them all.
 */
import { parseArgs } from "node:util";
import { clusterNginxConfig } from "./nginx_config.ts";

const USAGE = `Usage: deno task cluster --mysql URL --redis URL [--nodes 2] [--base-port 6001] [--port 8000]
  (CHAT_MYSQL_URL and CHAT_REDIS_URL are read when the flags are absent)`;

const ROOT = new URL("../../", import.meta.url).pathname;

/** Starts a node with its stderr in `logFile`; resolves once it printed its listening line. */
async function startNode(args: string[], logFile: string, what: string): Promise<Deno.ChildProcess> {
  const child = new Deno.Command(Deno.execPath(), { args, stdout: "piped", stderr: "piped", stdin: "null" })
    .spawn();
  child.stderr.pipeTo(Deno.openSync(logFile, { create: true, append: true }).writable).catch(() => {});
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("listening on")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`${what} exited before listening; see its log in data/cluster/`);
    text += value;
  }
  // Keep draining stdout so the node never blocks on it.
  (async () => {
    while (!(await reader.read()).done);
  })().catch(() => {});
  return child;
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
  const basePort = Number(values["base-port"]);
  const dir = `${ROOT}data/cluster`;
  await Deno.mkdir(`${dir}/nginx/logs`, { recursive: true });
  const children: Deno.ChildProcess[] = [];
  const stopAll = async () => {
    for (const child of children) {
      try {
        child.kill("SIGTERM");
      } catch {
        // Already gone.
      }
    }
    await Promise.all(children.map((child) => child.status));
  };
  try {
    const upstreams: string[] = [];
    for (let i = 1; i <= nodes; i++) {
      const port = basePort + i - 1;
      const child = await startNode(
        [
          "run",
          "--allow-net",
          "--allow-read",
          "--allow-write=./data",
          "--allow-env",
          `${ROOT}main.ts`,
          "--port",
          String(port),
          "--node-id",
          `node${i}`,
          "--mysql",
          mysql,
          "--redis",
          redis,
        ],
        `${dir}/node${i}.log`,
        `node${i}`,
      );
      children.push(child);
      upstreams.push(`127.0.0.1:${port}`);
      console.log(`node${i} listening on 127.0.0.1:${port} (log: data/cluster/node${i}.log)`);
    }
    const config = clusterNginxConfig(await Deno.readTextFile(`${ROOT}nginx.conf`), {
      upstreams,
      listen: `127.0.0.1:${values.port}`,
    });
    await Deno.writeTextFile(`${dir}/nginx/nginx.conf`, config);
    const nginx = new Deno.Command("nginx", {
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
    }).spawn();
    children.push(nginx);
    console.log(`nginx on 127.0.0.1:${values.port} → ${upstreams.join(", ")}`);
    console.log(`connect with: deno task client --port ${values.port}    (Ctrl-C stops the cluster)`);
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    await stopAll();
    return 1;
  }
  const stopped = Promise.withResolvers<void>();
  Deno.addSignalListener("SIGINT", () => stopped.resolve());
  Deno.addSignalListener("SIGTERM", () => stopped.resolve());
  await Promise.race([stopped.promise, ...children.map((child) => child.status)]);
  await stopAll();
  return 0;
}

Deno.exit(await main());
