/**
 * `redis-cluster://[user:password@]host:port,host:port[,...]`: how `--redis` names a Redis Cluster. The
 * nodes listed are seeds: the client learns the others (and which holds which slots) from any one of them.
 * `URL` cannot parse this (one authority, one port), so this file does, and redacts it for logs.
 *
 * @module
 */

/** The scheme of a Redis Cluster URL; `redis://` stays one server. */
export const CLUSTER_SCHEME = "redis-cluster://";

/** A Redis Cluster URL, parsed. */
export interface ClusterUrl {
  /** The seed nodes, in the order given. */
  nodes: { host: string; port: number }[];
  /** The ACL user, percent-decoded; absent for the default user. */
  username?: string;
  /** The password, percent-decoded; absent for none. */
  password?: string;
}

/**
 * True when `url` names a Redis Cluster (the bus then uses ioredis's cluster client).
 *
 * @example
 * ```ts
 * import { isClusterUrl } from "./redis_cluster_url.ts";
 *
 * isClusterUrl("redis-cluster://10.0.0.1:7000,10.0.0.2:7000"); // true
 * isClusterUrl("redis://10.0.0.1:6379"); // false
 * ```
 */
export function isClusterUrl(url: string): boolean {
  return url.startsWith(CLUSTER_SCHEME);
}

/**
 * Parses a Redis Cluster URL; a `TypeError` says what is wrong without echoing the input (it may hold a
 * password).
 *
 * @example
 * ```ts
 * import { parseClusterUrl } from "./redis_cluster_url.ts";
 *
 * parseClusterUrl("redis-cluster://:s3cret@h1:7000,h2:7001");
 * // { nodes: [{ host: "h1", port: 7000 }, { host: "h2", port: 7001 }], password: "s3cret" }
 * ```
 */
export function parseClusterUrl(url: string): ClusterUrl {
  if (!isClusterUrl(url)) throw new TypeError(`a Redis Cluster URL starts with ${CLUSTER_SCHEME}`);
  const rest = url.slice(CLUSTER_SCHEME.length).replace(/\/$/, "");
  // The password may contain "@" only percent-encoded; the last "@" ends the credentials.
  const at = rest.lastIndexOf("@");
  const credentials = at === -1 ? undefined : rest.slice(0, at);
  const hosts = at === -1 ? rest : rest.slice(at + 1);
  const result: ClusterUrl = { nodes: hosts.split(",").map(parseNode) };
  if (credentials !== undefined) {
    const colon = credentials.indexOf(":");
    const username = decode(colon === -1 ? credentials : credentials.slice(0, colon));
    const password = colon === -1 ? "" : decode(credentials.slice(colon + 1));
    if (username !== "") result.username = username;
    if (password !== "") result.password = password;
  }
  return result;
}

/**
 * `url` with its password replaced by `password` (percent-encoded), for `--redis-password-file` and
 * `CHAT_REDIS_PASSWORD`.
 *
 * @example
 * ```ts
 * import { clusterUrlWithPassword } from "./redis_cluster_url.ts";
 *
 * clusterUrlWithPassword("redis-cluster://h1:7000", "s3cret"); // "redis-cluster://:s3cret@h1:7000"
 * ```
 */
export function clusterUrlWithPassword(url: string, password: string): string {
  const { nodes, username } = parseClusterUrl(url);
  return formatClusterUrl({ nodes, username, password });
}

/**
 * `url` for logs and errors: the password becomes `***`. Input that does not parse is never echoed.
 *
 * @example
 * ```ts
 * import { redactClusterUrl } from "./redis_cluster_url.ts";
 *
 * redactClusterUrl("redis-cluster://:s3cret@h1:7000,h2:7001"); // "redis-cluster://:***@h1:7000,h2:7001"
 * ```
 */
export function redactClusterUrl(url: string): string {
  let parsed: ClusterUrl;
  try {
    parsed = parseClusterUrl(url);
  } catch {
    return "(invalid URL)";
  }
  return formatClusterUrl({ ...parsed, password: parsed.password === undefined ? undefined : "***" });
}

function formatClusterUrl({ nodes, username, password }: ClusterUrl): string {
  const user = username === undefined ? "" : encodeURIComponent(username);
  const pass = password === undefined
    ? ""
    : `:${password === "***" ? password : encodeURIComponent(password)}`;
  const credentials = user === "" && pass === "" ? "" : `${user}${pass}@`;
  return `${CLUSTER_SCHEME}${credentials}${nodes.map(({ host, port }) => `${host}:${port}`).join(",")}`;
}

function parseNode(text: string): { host: string; port: number } {
  const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})$/.exec(text);
  const port = Number(match?.[2]);
  if (!match || port < 1 || port > 65535) {
    throw new TypeError("a Redis Cluster URL lists its nodes as host:port, separated by commas");
  }
  // ioredis wants an IPv6 address without its brackets.
  return { host: match[1].replace(/^\[(.*)\]$/, "$1"), port };
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new TypeError("a Redis Cluster URL's user or password is not valid percent-encoding");
  }
}
