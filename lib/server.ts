/**
 * Assembles a node from its configuration: store, bus, service and listener, and takes it apart again
 * in the order that loses nothing.
 */
import type { Bus } from "./bus/bus.ts";
import { LocalBus } from "./bus/local_bus.ts";
import type { Config } from "./config.ts";
import { Logger } from "./log.ts";
import { LogThrottle } from "./log_throttle.ts";
import { TcpServer } from "./net/tcp_server.ts";
import { readTlsFiles, type TlsFiles } from "./net/tls_files.ts";
import { serveOps } from "./ops/http_endpoint.ts";
import { LoopLagMonitor } from "./ops/loop_lag.ts";
import { MemoryBound } from "./ops/memory_bound.ts";
import { Registry } from "./ops/metrics.ts";
import { ChatService } from "./service/chat_service.ts";
import { type Retention, startRetention } from "./service/retention.ts";
import type { UndeliveredFrame } from "./service/session.ts";
import { SqliteStore } from "./store/sqlite_store.ts";
import type { Store } from "./store/store.ts";

/** A running node. */
export interface ChatNode extends AsyncDisposable {
  readonly hostname: string;
  readonly port: number;
  readonly service: ChatService;
  /** The `/metrics` and `/healthz` port, when `--metrics-port` was given. */
  readonly metricsPort: number | undefined;
  /** `true` when the chat port speaks TLS (`--tls-cert`, `--tls-key`). */
  readonly tls: boolean;
  /**
   * Reads the certificate and key files again and serves new connections with them; open connections keep
   * theirs. A file that cannot be used is logged and the old pair kept. Resolves `true` when reloaded.
   */
  reloadTls(): Promise<boolean>;
  /** Graceful stop: no new connections, every login ended, store and bus closed. Idempotent. */
  close(): Promise<void>;
}

async function openStore(config: Config, log: Logger): Promise<Store> {
  if (config.mysql) {
    // Loaded only in MySQL mode, so the embedded default never loads the driver.
    const [{ MysqlStore }, { checkMysql }] = await Promise.all([
      import("./store/mysql_store.ts"),
      import("./db/mysql_preflight.ts"),
    ]);
    // The pool retries a failing connect until its acquire timeout; a configuration mistake should stop the
    // start at once with its fix instead.
    await checkMysql(config.mysql);
    return MysqlStore.open(config.mysql);
  }
  return SqliteStore.open(config.db, {
    // Chat goes on (the commits checkpoint again themselves), but slower: worth a warning.
    onCheckpointFailure: (error) => log.warn("background checkpoints stopped", { error: error.message }),
  });
}

async function openBus(config: Config, log: Logger): Promise<Bus> {
  if (config.redis) {
    const { RedisBus } = await import("./bus/redis_bus.ts");
    return new RedisBus({ url: config.redis, nodeId: config.nodeId, log });
  }
  return new LocalBus(config.nodeId);
}

/** Starts a node; resolves once it accepts connections. */
export async function startNode(
  config: Config,
  log = new Logger({ level: config.logLevel, format: config.logFormat, nodeId: config.nodeId }),
): Promise<ChatNode> {
  // Before anything opens: a bad certificate stops the start with a TlsFileError naming the flag.
  const tlsFiles = config.tlsCert && config.tlsKey
    ? { certFile: config.tlsCert, keyFile: config.tlsKey }
    : undefined;
  const tls = tlsFiles && await readTlsFiles(tlsFiles);
  const store = await openStore(config, log);
  let bus: Bus | undefined;
  let server: TcpServer<UndeliveredFrame> | undefined;
  const memoryBound = new MemoryBound({ maxBytes: config.maxMemoryMib * 1024 * 1024 });
  const acceptFailures = new LogThrottle(log, { level: "error", event: "accept failed" });
  try {
    await store.migrate();
    // Users marked online by an earlier run of this node that did not stop cleanly.
    if (!config.redis) await store.setUsersOffline();
    bus = await openBus(config, log);
    const registry = new Registry();
    const service = new ChatService({
      store,
      bus,
      log,
      registry,
      offlineBatch: config.offlineBatch,
      offlineBatchBytes: Math.min(1024 * 1024, config.maxOutboundBytes / 4),
      rateLimit: config.rateLimit,
      maxConnections: config.maxConnections,
      idleTimeout: config.idleTimeout,
      maxDevices: config.maxDevices,
      tokenDays: config.tokenDays,
      maxTokensPerUser: config.maxTokens,
      pageLimit: config.pageLimit,
      memoryBound,
      tokenLoginConcurrency: config.loginConcurrency,
      tokenLoginShare: config.loginShare / 100,
    });
    registerLimitMetrics(registry, memoryBound, acceptFailures);
    await bus.start();
    const chat = {
      hostname: config.host,
      port: config.port,
      maxFrameBytes: config.maxFrameBytes,
      maxOutboundBytes: config.maxOutboundBytes,
      // EMFILE and ENFILE (descriptors exhausted) among others: the server retries, and says so once per interval.
      onAcceptError: (error: Error, retryInMs: number) =>
        acceptFailures.note({ error: error.message, retry_ms: retryInMs }),
    };
    server = tls
      ? await listening(
        "chat",
        "--port",
        config,
        () => TcpServer.listenTls<UndeliveredFrame>({ ...chat, tls }, service),
      )
      : listening("chat", "--port", config, () => TcpServer.listen<UndeliveredFrame>(chat, service));
    const ops = config.metricsPort === undefined ? undefined : await listening(
      "metrics",
      "--metrics-port",
      { host: config.host, port: config.metricsPort },
      () =>
        serveOps({
          hostname: config.host,
          port: config.metricsPort!,
          registry: registerProcessMetrics(registry, store),
          checks: [{ name: "store", check: () => store.ping() }, { name: "bus", check: () => bus!.ping() }],
        }),
    );
    const retention = startRetention(store, config.retentionDays, log);
    return runningNode({
      server,
      service,
      store,
      bus,
      log,
      ops,
      retention,
      tlsFiles,
      limits: { memoryBound, acceptFailures },
    });
  } catch (error) {
    memoryBound.stop();
    acceptFailures.stop();
    await server?.close().catch(() => {});
    await bus?.close().catch(() => {});
    await store.close().catch(() => {});
    throw error;
  }
}

/** A listener could not bind its address; the message names the listener, the address and the flag. */
export class AddressInUseError extends Error {
  /** `listener`: "chat" or "metrics"; `address`: HOST:PORT; `flag`: the option that sets the port. */
  constructor(listener: string, address: string, flag: string, options?: ErrorOptions) {
    super(
      `the ${listener} port ${address} is already in use: another process listens there; stop it or ` +
        `choose another ${flag}`,
      options,
    );
    this.name = "AddressInUseError";
  }
}

/**
 * The system refused to bind a listener (a port below 1024 without the right, say). A class of its own so that
 * `main.ts` never mistakes it for the database's permission problem.
 */
export class ListenDeniedError extends Error {
  /** `listener`: "chat" or "metrics"; `address`: HOST:PORT; `flag`: the option that sets the port. */
  constructor(listener: string, address: string, flag: string, options?: ErrorOptions) {
    super(
      `the system denies binding the ${listener} port ${address} (ports below 1024 need privileges); ` +
        `choose another ${flag}`,
      options,
    );
    this.name = "ListenDeniedError";
  }
}

/**
 * Runs `listen` (sync or async), turning "address in use" into {@linkcode AddressInUseError} and a refused bind
 * into {@linkcode ListenDeniedError}.
 *
 * @example
 * ```ts
 * import { listening } from "./server.ts";
 * const listener = listening("chat", "--port", { host: "127.0.0.1", port: 0 }, () =>
 *   Deno.listen({ hostname: "127.0.0.1", port: 0 }));
 * listener.close();
 * ```
 */
export function listening<T>(
  listener: string,
  flag: string,
  address: { host: string; port: number },
  listen: () => T,
): T {
  const rename = (error: unknown): never => {
    if (error instanceof Deno.errors.AddrInUse) {
      throw new AddressInUseError(listener, `${address.host}:${address.port}`, flag, { cause: error });
    }
    if (error instanceof Deno.errors.PermissionDenied) {
      throw new ListenDeniedError(listener, `${address.host}:${address.port}`, flag, { cause: error });
    }
    throw error;
  };
  try {
    const result = listen();
    return (result instanceof Promise ? result.catch(rename) : result) as T;
  } catch (error) {
    return rename(error);
  }
}

/** The node's own limits: the memory bound and failed accepts. */
function registerLimitMetrics(registry: Registry, memory: MemoryBound, acceptFailures: LogThrottle): void {
  registry.gauge("chat_max_memory_bytes", "The --max-memory bound in bytes (0: off)", () => memory.maxBytes);
  registry.gauge(
    "chat_memory_limit_reached",
    "1 while the sampled RSS is at or above --max-memory (new connections are refused)",
    () => memory.reached ? 1 : 0,
  );
  registry.gauge(
    "chat_accept_failures_total",
    "Failed accepts of the chat listener (e.g. out of file descriptors)",
    () => acceptFailures.total,
    "counter",
  );
}

/** Process-level gauges: event loop lag, memory, and the store's pool when it has one. */
function registerProcessMetrics(registry: Registry, store: Store): Registry {
  const lag = new LoopLagMonitor();
  registry.gauge(
    "chat_event_loop_lag_seconds",
    "Lateness of the latest 500 ms timer tick",
    () => lag.lastSeconds,
  );
  registry.gauge("chat_event_loop_lag_max_seconds", "Largest event loop lag seen", () => lag.maxSeconds);
  registry.gauge("process_resident_memory_bytes", "Resident set size", () => Deno.memoryUsage().rss);
  registry.gauge("chat_heap_used_bytes", "V8 heap in use", () => Deno.memoryUsage().heapUsed);
  const pool = store.poolStats;
  if (pool) {
    registry.gauge("chat_db_pool_connections", "Database pool connections by state", () => {
      const stats = pool.call(store);
      return [
        [{ state: "idle" }, stats.idle],
        [{ state: "in_use" }, stats.inUse],
        [{ state: "pending" }, stats.pending],
      ];
    });
    registry.gauge(
      "chat_db_pool_waiting",
      "Callers waiting for a database connection",
      () => pool.call(store).waiting,
    );
  }
  return registry;
}

interface Parts {
  server: TcpServer<UndeliveredFrame>;
  service: ChatService;
  store: Store;
  bus: Bus;
  log: Logger;
  ops: Deno.HttpServer<Deno.NetAddr> | undefined;
  retention: Retention;
  tlsFiles: TlsFiles | undefined;
  limits: { memoryBound: MemoryBound; acceptFailures: LogThrottle };
}

function runningNode(
  { server, service, store, bus, log, ops, retention, tlsFiles, limits }: Parts,
): ChatNode {
  const idleSweep = setInterval(() => service.closeIdle(), 1000);
  let closing: Promise<void> | undefined;
  const close = () =>
    closing ??= (async () => {
      log.info("shutting down", { connections: server.connections.size });
      clearInterval(idleSweep);
      retention.stop();
      server.stopAccepting();
      await service.endAllLogins();
      await server.close();
      await service.endAllLogins();
      await bus.close().catch((error) => log.warn("bus close failed", { error }));
      await store.close().catch((error) => log.warn("store close failed", { error }));
      await ops?.shutdown();
      limits.memoryBound.stop();
      limits.acceptFailures.stop();
      log.info("stopped");
    })();
  return {
    hostname: server.hostname,
    port: server.port,
    service,
    metricsPort: ops?.addr.port,
    tls: tlsFiles !== undefined,
    reloadTls: async () => {
      if (!tlsFiles || closing) return false;
      try {
        server.reloadTls(await readTlsFiles(tlsFiles));
      } catch (error) {
        log.error("TLS reload failed; new connections keep the old certificate", {
          error: error instanceof Error ? error.message : String(error),
        });
        return false;
      }
      log.info("TLS certificate reloaded", { cert: tlsFiles.certFile });
      return true;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
