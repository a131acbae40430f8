/**
 * Server entry: `deno task serve [options]` (see `--help`). Prints `listening on HOST:PORT` once it
 * accepts connections; SIGINT and SIGTERM drain and exit 0.
 */
import { ConfigError, parseCommand, USAGE } from "./lib/config.ts";
import { dbPathDenied, dbPathProblem } from "./lib/db_path_access.ts";
import { Logger } from "./lib/log.ts";
import { TlsFileError } from "./lib/net/tls_files.ts";
import { redactUrl } from "./lib/redact_url.ts";
import { resolveSecrets } from "./lib/secrets.ts";
import { startNode } from "./lib/server.ts";
import { VERSION } from "./lib/version.ts";

async function main(): Promise<number> {
  let config;
  try {
    const command = parseCommand(Deno.args, (name) => Deno.env.get(name));
    if (command.action === "help") {
      console.log(USAGE);
      return 0;
    }
    if (command.action === "version") {
      console.log(`chat server ${VERSION} (deno ${Deno.version.deno})`);
      return 0;
    }
    config = command.config;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`${error.message}\n\n${USAGE}`);
    return 2;
  }
  try {
    config = await resolveSecrets(config);
  } catch (error) {
    // A password file that cannot be read is the machine's problem, not a usage error: no flag list.
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    return 1;
  }
  const log = new Logger({ level: config.logLevel, format: config.logFormat, nodeId: config.nodeId });
  if (!config.mysql) {
    const problem = dbPathProblem(config.db);
    if (problem) {
      console.error(problem);
      return 1;
    }
  }
  let node;
  try {
    node = await startNode(config, log);
  } catch (error) {
    if (error instanceof TlsFileError) {
      console.error(error.message);
      return 1;
    }
    if (!config.mysql && error instanceof Deno.errors.PermissionDenied) {
      console.error(dbPathDenied(config.db));
      return 1;
    }
    // Deno's permission errors already name the flag to add; ours name the fix.
    log.error("start failed", { error: error instanceof Error ? error.message : String(error) });
    return 1;
  }
  // Listen for signals before announcing the port: whoever waits for that line may stop the node at once.
  const stopped = Promise.withResolvers<void>();
  const stop = () => stopped.resolve();
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  // SIGHUP: the usual "reload your files" signal, for a renewed certificate.
  const reload = () => void node.reloadTls();
  if (node.tls) Deno.addSignalListener("SIGHUP", reload);
  console.log(`listening on ${node.hostname}:${node.port}`);
  log.info("started", {
    host: node.hostname,
    port: node.port,
    ...(node.metricsPort === undefined
      ? {}
      : { metrics: `http://${node.hostname}:${node.metricsPort}/metrics` }),
    store: config.mysql ? redactUrl(config.mysql) : config.db,
    ...(node.tls ? { tls: config.tlsCert } : {}),
    version: VERSION,
  });
  await stopped.promise;
  // Keep listening until the drain is done: a second signal (a terminal's SIGINT, then the cluster's SIGTERM)
  // must not fall through to the default handler and kill the node halfway through its shutdown.
  await node.close();
  Deno.removeSignalListener("SIGINT", stop);
  Deno.removeSignalListener("SIGTERM", stop);
  if (node.tls) Deno.removeSignalListener("SIGHUP", reload);
  return 0;
}

Deno.exit(await main());
