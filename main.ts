/**
 * Server entry: `deno task serve [options]` (see `--help`). Prints `listening on HOST:PORT` once it
 * accepts connections; SIGINT and SIGTERM drain and exit 0.
 */
import { ConfigError, parseConfig, USAGE } from "./lib/config.ts";
import { Logger } from "./lib/log.ts";
import { startNode } from "./lib/server.ts";

async function main(): Promise<number> {
  let config;
  try {
    config = parseConfig(Deno.args, (name) => Deno.env.get(name));
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`${error.message}\n\n${USAGE}`);
    return 2;
  }
  if (!config) {
    console.log(USAGE);
    return 0;
  }
  const log = new Logger({ level: config.logLevel, format: config.logFormat, nodeId: config.nodeId });
  let node;
  try {
    node = await startNode(config, log);
  } catch (error) {
    // Deno's permission errors already name the flag to add.
    log.error("start failed", { error: error instanceof Error ? error.message : String(error) });
    return 1;
  }
  console.log(`listening on ${node.hostname}:${node.port}`);
  log.info("started", { host: node.hostname, port: node.port, store: config.mysql ? "mysql" : config.db });
  const stopped = Promise.withResolvers<void>();
  const stop = () => stopped.resolve();
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  await stopped.promise;
  Deno.removeSignalListener("SIGINT", stop);
  Deno.removeSignalListener("SIGTERM", stop);
  await node.close();
  return 0;
}

Deno.exit(await main());
