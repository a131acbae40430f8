/**
 * Database and Redis passwords kept off the command line: a password in `--mysql URL` is echoed by
 * `deno task` and visible to every user in `ps`, while an environment variable or a file is not.
 *
 * @module
 */
import { clusterUrlWithPassword, isClusterUrl } from "./bus/redis_cluster_url.ts";
import { type Config, ConfigError } from "./config.ts";

/** Options for {@linkcode resolveSecrets}. */
export interface ResolveSecretsOptions {
  /** Reads a password file (default `Deno.readTextFile`); injectable for tests. */
  readTextFile?: (path: string) => Promise<string>;
}

/**
 * `config` with the MySQL and Redis passwords merged into their URLs. For each, a password file
 * (`--mysql-password-file`, `CHAT_MYSQL_PASSWORD_FILE`) wins over `CHAT_MYSQL_PASSWORD`, which wins over a
 * password in the URL; one trailing newline of the file is dropped. Rejects with {@linkcode ConfigError}
 * naming the file when it cannot be read (and the flag to add when Deno's permissions forbid it).
 *
 * @example
 * ```ts
 * import { parseConfig } from "./config.ts";
 * const config = parseConfig(["--mysql", "mysql://chat@db:3306/chat"], (name) =>
 *   name === "CHAT_MYSQL_PASSWORD" ? "s3cret" : undefined)!;
 * const resolved = await resolveSecrets(config);
 * console.log(resolved.mysql); // "mysql://chat:s3cret@db:3306/chat"
 * ```
 */
export async function resolveSecrets(config: Config, options: ResolveSecretsOptions = {}): Promise<Config> {
  const read = options.readTextFile ?? Deno.readTextFile;
  const mysqlPassword = await secret(config.mysqlPasswordFile, "mysql-password-file", read) ??
    config.mysqlPassword;
  const redisPassword = await secret(config.redisPasswordFile, "redis-password-file", read) ??
    config.redisPassword;
  return {
    ...config,
    mysql: withPassword(config.mysql, mysqlPassword),
    redis: withPassword(config.redis, redisPassword),
  };
}

async function secret(
  file: string | undefined,
  flag: string,
  read: (path: string) => Promise<string>,
): Promise<string | undefined> {
  if (file === undefined) return undefined;
  let text: string;
  try {
    text = await read(file);
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
      const variable = flag === "mysql-password-file" ? "CHAT_MYSQL_PASSWORD" : "CHAT_REDIS_PASSWORD";
      const fix = error instanceof Deno.errors.NotCapable
        ? `this process may not read it. Keep it under ./data (which \`deno task serve\` may read), set ` +
          `${variable} instead, or run deno with --allow-read=${file} added`
        : "make it readable by this user";
      throw new ConfigError(`--${flag}: cannot read ${file}: ${fix}`, { cause: error });
    }
    if (error instanceof Deno.errors.NotFound) {
      throw new ConfigError(`--${flag}: no such file: ${file}`, { cause: error });
    }
    throw new ConfigError(`--${flag}: cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
  const password = text.replace(/\r?\n$/, "");
  if (password === "") throw new ConfigError(`--${flag}: ${file} is empty`);
  return password;
}

/** `url` with `password` in it; an unparsable URL is left for the store or bus to reject (redacted). */
function withPassword(url: string | undefined, password: string | undefined): string | undefined {
  if (url === undefined || password === undefined) return url;
  // parseConfig checked it; URL() cannot parse a list of nodes.
  if (isClusterUrl(url)) return clusterUrlWithPassword(url, password);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return url;
  }
  // Both drivers percent-decode the password they find in the URL.
  parsed.password = encodeURIComponent(password);
  return parsed.href;
}
