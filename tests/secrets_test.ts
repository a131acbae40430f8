/** resolveSecrets(): MySQL and Redis passwords from the environment or a file instead of the URL. */
import assert from "node:assert/strict";
import { type Config, ConfigError, parseConfig } from "../lib/config.ts";
import { resolveSecrets } from "../lib/secrets.ts";

function config(args: string[], env: Record<string, string> = {}): Config {
  return parseConfig(args, (name) => env[name])!;
}

const files = (contents: Record<string, string>) => (path: string) => {
  if (path in contents) return Promise.resolve(contents[path]);
  return Promise.reject(new Deno.errors.NotFound(`no such file ${path}`));
};

Deno.test("resolveSecrets() puts CHAT_MYSQL_PASSWORD into the URL, over a password already there", async () => {
  const resolved = await resolveSecrets(
    config(["--mysql", "mysql://chat:old@db:3306/chat"], { CHAT_MYSQL_PASSWORD: "n3w" }),
  );
  assert.equal(resolved.mysql, "mysql://chat:n3w@db:3306/chat");
});

Deno.test("resolveSecrets() reads --mysql-password-file, drops one trailing newline, and wins over the env", async () => {
  const resolved = await resolveSecrets(
    config(["--mysql", "mysql://chat@db/chat", "--mysql-password-file", "/run/pw"], {
      CHAT_MYSQL_PASSWORD: "from-env",
    }),
    { readTextFile: files({ "/run/pw": "from file \n" }) },
  );
  assert.equal(new URL(resolved.mysql!).password, "from%20file%20");
});

Deno.test("resolveSecrets() percent-encodes a password that holds URL delimiters", async () => {
  const password = "p@ss:w/rd#?%";
  const resolved = await resolveSecrets(
    config(["--mysql", "mysql://chat@db/chat"], { CHAT_MYSQL_PASSWORD: password }),
  );
  const url = new URL(resolved.mysql!);
  assert.equal(decodeURIComponent(url.password), password);
  assert.equal(url.hostname, "db");
  assert.equal(url.pathname, "/chat");
});

Deno.test("resolveSecrets() sets the Redis password from CHAT_REDIS_PASSWORD_FILE and CHAT_REDIS_PASSWORD", async () => {
  const fromFile = await resolveSecrets(
    config(["--redis", "redis://127.0.0.1:6379"], { CHAT_REDIS_PASSWORD_FILE: "/run/redis" }),
    { readTextFile: files({ "/run/redis": "r3dis\n" }) },
  );
  assert.equal(fromFile.redis, "redis://:r3dis@127.0.0.1:6379");
  const fromEnv = await resolveSecrets(
    config(["--redis", "redis://127.0.0.1:6379"], { CHAT_REDIS_PASSWORD: "e" }),
  );
  assert.equal(fromEnv.redis, "redis://:e@127.0.0.1:6379");
});

Deno.test("resolveSecrets() sets the password of a Redis Cluster URL", async () => {
  const resolved = await resolveSecrets(
    config(["--redis", "redis-cluster://chat:old@r1:7000,r2:7000"], { CHAT_REDIS_PASSWORD: "n@w" }),
  );
  assert.equal(resolved.redis, "redis-cluster://chat:n%40w@r1:7000,r2:7000");
});

Deno.test("resolveSecrets() leaves the URLs alone when no password is configured", async () => {
  const original = config(["--mysql", "mysql://chat:pw@db/chat", "--redis", "redis://r:6379"]);
  const resolved = await resolveSecrets(original);
  assert.equal(resolved.mysql, original.mysql);
  assert.equal(resolved.redis, original.redis);
});

Deno.test("resolveSecrets() names a missing password file", async () => {
  await assert.rejects(
    resolveSecrets(config(["--mysql-password-file", "/nope"]), { readTextFile: files({}) }),
    (error: unknown) =>
      error instanceof ConfigError && error.message === "--mysql-password-file: no such file: /nope",
  );
});

Deno.test("resolveSecrets() names the --allow-read flag when Deno may not read the file", async () => {
  const denied = () => Promise.reject(new Deno.errors.NotCapable("Requires read access"));
  await assert.rejects(
    resolveSecrets(config(["--redis-password-file", "/etc/chat/redis"]), { readTextFile: denied }),
    (error: unknown) =>
      error instanceof ConfigError &&
      error.message.includes("cannot read /etc/chat/redis") &&
      error.message.includes("set CHAT_REDIS_PASSWORD instead") &&
      error.message.includes("--allow-read=/etc/chat/redis"),
  );
});

Deno.test("resolveSecrets() refuses an empty password file", async () => {
  await assert.rejects(
    resolveSecrets(config(["--mysql-password-file", "/run/pw"]), {
      readTextFile: files({ "/run/pw": "\n" }),
    }),
    (error: unknown) => error instanceof ConfigError && /is empty/.test(error.message),
  );
});

Deno.test("resolveSecrets() reports other read failures with the file name", async () => {
  const broken = () => Promise.reject(new Error("Is a directory (os error 21)"));
  await assert.rejects(
    resolveSecrets(config(["--mysql-password-file", "/run"]), { readTextFile: broken }),
    (error: unknown) =>
      error instanceof ConfigError &&
      error.message === "--mysql-password-file: cannot read /run: Is a directory (os error 21)",
  );
});

Deno.test("main.ts with an unreadable --mysql-password-file exits 1 naming the file, without the flag list", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-env",
      new URL("../main.ts", import.meta.url).pathname,
      "--mysql",
      "mysql://chat@127.0.0.1:1/chat",
      "--mysql-password-file",
      "/etc/chat-test-missing-password",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(output.code, 1);
  const stderr = new TextDecoder().decode(output.stderr);
  assert.doesNotMatch(stderr, /Usage:/);
  assert.match(
    stderr,
    /--mysql-password-file: cannot read \/etc\/chat-test-missing-password: this process may not read it\. Keep it under \.\/data .*set CHAT_MYSQL_PASSWORD instead, or run deno with --allow-read=\/etc\/chat-test-missing-password added/,
  );
});
