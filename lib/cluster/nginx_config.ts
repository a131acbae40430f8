/**
 * Derives a runnable nginx configuration from the project's `nginx.conf`: the same settings with this
 * cluster's nodes as upstream servers and its own listen address. Used by `deno task cluster` and by the
 * tests, so both run the configuration that ships.
 */

/** What changes between the shipped file and a concrete cluster. */
export interface ClusterNginxOptions {
  /** `host:port` of every node. */
  upstreams: string[];
  /** The address clients connect to, e.g. `127.0.0.1:8000`. */
  listen: string;
}

/** Rewrites `template` (the text of nginx.conf) for `options`. Throws when the template lacks a part. */
export function clusterNginxConfig(template: string, options: ClusterNginxOptions): string {
  if (options.upstreams.length === 0) throw new RangeError("a cluster needs at least one upstream node");
  const serverLine = /^(\s*)server \S+ (max_fails=.*;)$/m;
  const match = template.match(serverLine);
  if (!match) throw new Error("nginx.conf has no upstream `server host:port max_fails=...;` line");
  const [, indent, parameters] = match;
  const servers = options.upstreams.map((upstream) => `${indent}server ${upstream} ${parameters}`).join("\n");
  const withoutServers = template.replace(new RegExp(serverLine.source, "gm"), "").replace(/\n{3,}/g, "\n\n");
  const upstreamBlock = /(upstream chat_nodes \{[^}]*?least_conn;\n(?:\s*#.*\n)*)/;
  if (!upstreamBlock.test(withoutServers)) throw new Error("nginx.conf has no `upstream chat_nodes` block");
  const listen = /listen \S+( so_keepalive=on)?;/;
  if (!listen.test(withoutServers)) throw new Error("nginx.conf has no stream `listen` line");
  return withoutServers
    .replace(upstreamBlock, `$1${servers}\n`)
    .replace(listen, `listen ${options.listen}$1;`);
}
