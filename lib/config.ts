/**
 * The configuration contract of DESIGN.md: every flag also has an environment variable; flags win.
 */
import { parseArgs } from "node:util";
import { isClusterUrl, parseClusterUrl } from "./bus/redis_cluster_url.ts";
import { isLogLevel, type LogLevel } from "./log.ts";

/** The server's configuration. */
export interface Config {
  host: string;
  port: number;
  /** Embedded store file (or ":memory:"); ignored when `mysql` is set. */
  db: string;
  mysql?: string;
  /** File holding the MySQL password (trailing newline trimmed); read by {@linkcode resolveSecrets}. */
  mysqlPasswordFile?: string;
  /** The MySQL password from `CHAT_MYSQL_PASSWORD`; overrides a password in `mysql`. */
  mysqlPassword?: string;
  redis?: string;
  /** File holding the Redis password (trailing newline trimmed); read by {@linkcode resolveSecrets}. */
  redisPasswordFile?: string;
  /** The Redis password from `CHAT_REDIS_PASSWORD`; overrides a password in `redis`. */
  redisPassword?: string;
  nodeId: string;
  metricsPort?: number;
  logLevel: LogLevel;
  logFormat: "text" | "json";
  /** Largest accepted inbound frame in bytes. */
  maxFrameBytes: number;
  /** Offline messages carried in one LOGIN_ACK; the rest follow as separate frames. */
  offlineBatch: number;
  /** Seconds a v2 connection may stay silent before it is closed (v2 clients PING). */
  idleTimeout: number;
  /** Requests per second one connection may make (a burst of twice that is allowed). */
  rateLimit: number;
  /** Open connections this node accepts; more are refused with errno 11. */
  maxConnections: number;
  /** Resident memory in MiB at which new connections are refused with errno 11; 0 turns the bound off. */
  maxMemoryMib: number;
  /** Token logins handled at once; the rest start one per turn of the event loop (0: no limit). */
  loginConcurrency: number;
  /** Percent of real time token logins may be in flight while more wait (100: no bound). */
  loginShare: number;
  /** Outbound bytes queued for a client that does not read before it is disconnected. */
  maxOutboundBytes: number;
  /** Live devices one user may have across all nodes. */
  maxDevices: number;
  /** Days a resume token is valid. */
  tokenDays: number;
  /** Resume tokens kept per user (the newest). */
  maxTokens: number;
  /** Days chat messages are kept; 0 keeps them forever. */
  retentionDays: number;
  /** The largest `limit` of a SYNC or HISTORY page. */
  pageLimit: number;
  /** PEM certificate chain file: the chat port speaks TLS (always set together with `tlsKey`). */
  tlsCert?: string;
  /** PEM private key file of `tlsCert`. */
  tlsKey?: string;
}

/** A configuration value that cannot be used; the message names the flag and the value. */
export class ConfigError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ConfigError";
  }
}

const FLAGS = {
  host: { type: "string", env: "CHAT_HOST" },
  port: { type: "string", env: "CHAT_PORT" },
  db: { type: "string", env: "CHAT_DB" },
  mysql: { type: "string", env: "CHAT_MYSQL_URL" },
  "mysql-password-file": { type: "string", env: "CHAT_MYSQL_PASSWORD_FILE" },
  redis: { type: "string", env: "CHAT_REDIS_URL" },
  "redis-password-file": { type: "string", env: "CHAT_REDIS_PASSWORD_FILE" },
  "node-id": { type: "string", env: "CHAT_NODE_ID" },
  "metrics-port": { type: "string", env: "CHAT_METRICS_PORT" },
  "log-level": { type: "string", env: "CHAT_LOG_LEVEL" },
  "log-format": { type: "string", env: "CHAT_LOG_FORMAT" },
  "max-frame-bytes": { type: "string", env: "CHAT_MAX_FRAME_BYTES" },
  "offline-batch": { type: "string", env: "CHAT_OFFLINE_BATCH" },
  "idle-timeout": { type: "string", env: "CHAT_IDLE_TIMEOUT" },
  "rate-limit": { type: "string", env: "CHAT_RATE_LIMIT" },
  "max-connections": { type: "string", env: "CHAT_MAX_CONNECTIONS" },
  "max-memory": { type: "string", env: "CHAT_MAX_MEMORY" },
  "login-concurrency": { type: "string", env: "CHAT_LOGIN_CONCURRENCY" },
  "login-share": { type: "string", env: "CHAT_LOGIN_SHARE" },
  "max-outbound-bytes": { type: "string", env: "CHAT_MAX_OUTBOUND_BYTES" },
  "max-devices": { type: "string", env: "CHAT_MAX_DEVICES" },
  "token-days": { type: "string", env: "CHAT_TOKEN_DAYS" },
  "max-tokens": { type: "string", env: "CHAT_MAX_TOKENS" },
  "retention-days": { type: "string", env: "CHAT_RETENTION_DAYS" },
  "page-limit": { type: "string", env: "CHAT_PAGE_LIMIT" },
  "tls-cert": { type: "string", env: "CHAT_TLS_CERT" },
  "tls-key": { type: "string", env: "CHAT_TLS_KEY" },
  help: { type: "boolean", env: "" },
  version: { type: "boolean", env: "" },
} as const;

/** Usage text for `--help`. */
export const USAGE = `Usage: deno task serve [options]

  --host HOST             listen address (127.0.0.1)                   CHAT_HOST
  --port PORT             listen port, 0 picks a free one (6000)       CHAT_PORT
  --db PATH               SQLite file or :memory: (./data/chat.db)     CHAT_DB
  --mysql URL             MySQL/MariaDB instead of SQLite              CHAT_MYSQL_URL
  --mysql-password-file F MySQL password from a file                   CHAT_MYSQL_PASSWORD_FILE
                          (or CHAT_MYSQL_PASSWORD; either overrides one in the URL)
  --redis URL             Redis for a cluster of nodes                 CHAT_REDIS_URL
                          (redis://host:port, or a Redis Cluster:
                          redis-cluster://host:port,host:port,...)
  --redis-password-file F Redis password from a file                   CHAT_REDIS_PASSWORD_FILE
                          (or CHAT_REDIS_PASSWORD; either overrides one in the URL)
  --node-id NAME          this node's name (HOST:PORT)                 CHAT_NODE_ID
  --metrics-port N        HTTP /metrics and /healthz (off)             CHAT_METRICS_PORT
  --log-level LEVEL       debug, info, warn, error, silent (info)      CHAT_LOG_LEVEL
  --log-format FORMAT     text or json (text)                          CHAT_LOG_FORMAT
  --max-frame-bytes N     largest inbound frame (65536)                CHAT_MAX_FRAME_BYTES
  --offline-batch N       offline messages per LOGIN_ACK (1000)        CHAT_OFFLINE_BATCH
  --idle-timeout S        close a silent v2 connection after S s (90)  CHAT_IDLE_TIMEOUT
  --rate-limit N          requests/s per connection, burst 2N (20000)  CHAT_RATE_LIMIT
  --max-connections N     open connections per node (20000)            CHAT_MAX_CONNECTIONS
  --max-memory MIB        refuse connections at this RSS, 0 = off (0)  CHAT_MAX_MEMORY
  --login-concurrency N   token logins at once, 0 = no limit (8)       CHAT_LOGIN_CONCURRENCY
  --login-share PERCENT   time token logins may take while more wait,  CHAT_LOGIN_SHARE
                          100 = no bound (100)
  --max-outbound-bytes N  queued bytes for a slow reader (4194304)     CHAT_MAX_OUTBOUND_BYTES
  --max-devices N         live devices per user, all nodes (5)         CHAT_MAX_DEVICES
  --token-days N          days a resume token is valid (30)            CHAT_TOKEN_DAYS
  --max-tokens N          resume tokens kept per user (20)             CHAT_MAX_TOKENS
  --retention-days N      days messages are kept, 0 = forever (0)      CHAT_RETENTION_DAYS
  --page-limit N          largest SYNC/HISTORY page (1000)             CHAT_PAGE_LIMIT
  --tls-cert FILE         the chat port speaks TLS with this chain     CHAT_TLS_CERT
  --tls-key FILE          and this key (PEM; both or neither; SIGHUP   CHAT_TLS_KEY
                          reads both again)
  --version               print the version and exit
  --help                  print this list and exit
`;

/** The largest --max-memory: 1 TiB, far above any machine this runs on, and still an exact number of bytes. */
const MAX_MEMORY_MIB = 1024 * 1024;

function nonEmpty(value: string | undefined): string | undefined {
  return value === "" ? undefined : value;
}

function integer(flag: string, text: string, min: number, max: number): number {
  // Digits only: Number() would take "" and " " for 0, and "1e3" or "0x10" for numbers nobody typed.
  const value = /^-?\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`--${flag} must be an integer from ${min} to ${max}, got ${JSON.stringify(text)}`);
  }
  return value;
}

/** What the command line asks for: help, the version, or a node to serve. */
export type Command = { action: "help" } | { action: "version" } | { action: "serve"; config: Config };

/**
 * Parses flags and environment. Returns `null` when `--help` or `--version` was asked for (see
 * {@linkcode parseCommand} to tell them apart).
 *
 * @example
 * ```ts
 * const config = parseConfig(["--port", "0"], () => undefined);
 * console.log(config?.port); // 0
 * ```
 */
export function parseConfig(args: string[], env: (name: string) => string | undefined): Config | null {
  const command = parseCommand(args, env);
  return command.action === "serve" ? command.config : null;
}

/**
 * Parses flags and environment into what to do. Password files are named here and read by
 * {@linkcode resolveSecrets}, so parsing stays free of I/O.
 *
 * @example
 * ```ts
 * const command = parseCommand(["--version"], () => undefined);
 * console.log(command.action); // "version"
 * ```
 */
export function parseCommand(args: string[], env: (name: string) => string | undefined): Command {
  const options = Object.fromEntries(
    Object.entries(FLAGS).map(([name, flag]) => [name, { type: flag.type }]),
  ) as Record<keyof typeof FLAGS, { type: "string" | "boolean" }>;
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args, options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  if (values.help) return { action: "help" };
  if (values.version) return { action: "version" };
  const get = (name: keyof typeof FLAGS): string | undefined => {
    const value = values[name];
    if (typeof value === "string") return value;
    const fromEnv = FLAGS[name].env ? env(FLAGS[name].env) : undefined;
    return fromEnv === "" ? undefined : fromEnv;
  };
  const host = get("host") ?? "127.0.0.1";
  const port = integer("port", get("port") ?? "6000", 0, 65535);
  const logLevel = get("log-level") ?? "info";
  if (!isLogLevel(logLevel)) {
    throw new ConfigError(
      `--log-level must be debug, info, warn, error or silent, got ${JSON.stringify(logLevel)}`,
    );
  }
  const logFormat = get("log-format") ?? "text";
  if (logFormat !== "text" && logFormat !== "json") {
    throw new ConfigError(`--log-format must be text or json, got ${JSON.stringify(logFormat)}`);
  }
  const metrics = get("metrics-port");
  const tlsCert = get("tls-cert");
  const tlsKey = get("tls-key");
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    throw new ConfigError(
      tlsCert === undefined
        ? "--tls-key needs --tls-cert (CHAT_TLS_CERT): give both files or neither"
        : "--tls-cert needs --tls-key (CHAT_TLS_KEY): give both files or neither",
    );
  }
  const redis = get("redis");
  if (redis !== undefined && isClusterUrl(redis)) {
    // Checked here, not at the bus's start: URL() cannot parse a list of nodes, and the message must not
    // echo the URL (it may hold a password).
    try {
      parseClusterUrl(redis);
    } catch (error) {
      throw new ConfigError(`--redis: ${(error as Error).message}`);
    }
  }
  const config: Config = {
    host,
    port,
    db: get("db") ?? "./data/chat.db",
    mysql: get("mysql"),
    mysqlPasswordFile: get("mysql-password-file"),
    mysqlPassword: nonEmpty(env("CHAT_MYSQL_PASSWORD")),
    redis,
    redisPasswordFile: get("redis-password-file"),
    redisPassword: nonEmpty(env("CHAT_REDIS_PASSWORD")),
    // host:port names a node uniquely on one machine; with port 0 the real port is not known yet.
    nodeId: get("node-id") ?? (port === 0 ? `pid${Deno.pid}` : `${host}:${port}`),
    metricsPort: metrics === undefined ? undefined : integer("metrics-port", metrics, 0, 65535),
    logLevel,
    logFormat,
    maxFrameBytes: integer("max-frame-bytes", get("max-frame-bytes") ?? "65536", 1024, 16 * 1024 * 1024),
    offlineBatch: integer("offline-batch", get("offline-batch") ?? "1000", 1, 100_000),
    idleTimeout: integer("idle-timeout", get("idle-timeout") ?? "90", 1, 86_400),
    rateLimit: integer("rate-limit", get("rate-limit") ?? "20000", 1, 1_000_000),
    maxConnections: integer("max-connections", get("max-connections") ?? "20000", 1, 1_000_000),
    maxMemoryMib: integer("max-memory", get("max-memory") ?? "0", 0, MAX_MEMORY_MIB),
    loginConcurrency: integer("login-concurrency", get("login-concurrency") ?? "8", 0, 10_000),
    loginShare: integer("login-share", get("login-share") ?? "100", 1, 100),
    maxOutboundBytes: integer("max-outbound-bytes", get("max-outbound-bytes") ?? "4194304", 1024, 1 << 30),
    maxDevices: integer("max-devices", get("max-devices") ?? "5", 1, 100),
    tokenDays: integer("token-days", get("token-days") ?? "30", 1, 3650),
    maxTokens: integer("max-tokens", get("max-tokens") ?? "20", 1, 1000),
    retentionDays: integer("retention-days", get("retention-days") ?? "0", 0, 36_500),
    pageLimit: integer("page-limit", get("page-limit") ?? "1000", 1, 10_000),
    ...(tlsCert === undefined ? {} : { tlsCert, tlsKey }),
  };
  return { action: "serve", config };
}
