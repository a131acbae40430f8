/** `lib/config.ts`: the device, token, retention and page flags, their defaults, environment and bounds. */
import assert from "node:assert/strict";
import { ConfigError, parseConfig, USAGE } from "../lib/config.ts";

const noEnv = () => undefined;

Deno.test("the device, token, retention and page flags have the documented defaults", () => {
  const config = parseConfig([], noEnv)!;
  assert.equal(config.maxDevices, 5);
  assert.equal(config.tokenDays, 30);
  assert.equal(config.maxTokens, 20);
  assert.equal(config.retentionDays, 0);
  assert.equal(config.pageLimit, 1000);
});

Deno.test("the device, token, retention and page flags are read from flags, then the environment", () => {
  const env: Record<string, string> = {
    CHAT_MAX_DEVICES: "3",
    CHAT_TOKEN_DAYS: "7",
    CHAT_MAX_TOKENS: "4",
    CHAT_RETENTION_DAYS: "90",
    CHAT_PAGE_LIMIT: "200",
  };
  const fromEnv = parseConfig([], (name) => env[name])!;
  assert.deepEqual(
    [fromEnv.maxDevices, fromEnv.tokenDays, fromEnv.maxTokens, fromEnv.retentionDays, fromEnv.pageLimit],
    [3, 7, 4, 90, 200],
  );
  const fromFlags = parseConfig([
    "--max-devices",
    "1",
    "--token-days",
    "1",
    "--max-tokens",
    "1",
    "--retention-days",
    "1",
    "--page-limit",
    "1",
  ], (name) => env[name])!;
  assert.deepEqual(
    [
      fromFlags.maxDevices,
      fromFlags.tokenDays,
      fromFlags.maxTokens,
      fromFlags.retentionDays,
      fromFlags.pageLimit,
    ],
    [1, 1, 1, 1, 1],
  );
});

Deno.test("each of the new flags refuses a value out of range or not an integer, naming flag and value", () => {
  const cases: [string, string, string][] = [
    ["--max-devices", "0", '--max-devices must be an integer from 1 to 100, got "0"'],
    ["--max-devices", "101", '--max-devices must be an integer from 1 to 100, got "101"'],
    ["--token-days", "0", '--token-days must be an integer from 1 to 3650, got "0"'],
    ["--token-days", "1.5", '--token-days must be an integer from 1 to 3650, got "1.5"'],
    ["--max-tokens", "0", '--max-tokens must be an integer from 1 to 1000, got "0"'],
    ["--retention-days", "-1", '--retention-days must be an integer from 0 to 36500, got "-1"'],
    ["--retention-days", "forever", '--retention-days must be an integer from 0 to 36500, got "forever"'],
    ["--page-limit", "0", '--page-limit must be an integer from 1 to 10000, got "0"'],
    ["--page-limit", "10001", '--page-limit must be an integer from 1 to 10000, got "10001"'],
  ];
  for (const [flag, value, message] of cases) {
    // `--flag=value`: parseArgs would take a bare "-1" for an option of its own.
    assert.throws(
      () => parseConfig([`${flag}=${value}`], noEnv),
      new ConfigError(message),
      `${flag} ${value}`,
    );
  }
});

Deno.test("--help lists the new flags with their defaults and variables", () => {
  for (
    const [flag, variable, fallback] of [
      ["--max-devices N", "CHAT_MAX_DEVICES", "(5)"],
      ["--token-days N", "CHAT_TOKEN_DAYS", "(30)"],
      ["--max-tokens N", "CHAT_MAX_TOKENS", "(20)"],
      ["--retention-days N", "CHAT_RETENTION_DAYS", "0 = forever (0)"],
      ["--page-limit N", "CHAT_PAGE_LIMIT", "(1000)"],
    ]
  ) {
    const row = USAGE.split("\n").find((line) => line.trimStart().startsWith(flag));
    assert.ok(row, `${flag} is listed`);
    assert.ok(row.includes(variable) && row.includes(fallback), row);
  }
});

Deno.test("--redis accepts a Redis Cluster URL and rejects a bad one without echoing its password", () => {
  const url = "redis-cluster://:s3cret@10.0.0.1:7000,10.0.0.2:7000";
  assert.equal(parseConfig(["--redis", url], noEnv)!.redis, url);
  assert.throws(
    () => parseConfig(["--redis", "redis-cluster://:s3cret@10.0.0.1"], noEnv),
    new ConfigError("--redis: a Redis Cluster URL lists its nodes as host:port, separated by commas"),
  );
});

Deno.test("--max-memory is off by default, read in MiB from the flag, then CHAT_MAX_MEMORY", () => {
  assert.equal(parseConfig([], noEnv)!.maxMemoryMib, 0);
  const env = (name: string) => name === "CHAT_MAX_MEMORY" ? "512" : undefined;
  assert.equal(parseConfig([], env)!.maxMemoryMib, 512);
  assert.equal(parseConfig(["--max-memory", "2048"], env)!.maxMemoryMib, 2048);
  assert.equal(parseConfig(["--max-memory", "0"], env)!.maxMemoryMib, 0, "0 turns a bound from the env off");
  const row = USAGE.split("\n").find((line) => line.trimStart().startsWith("--max-memory MIB"));
  assert.ok(row?.includes("CHAT_MAX_MEMORY") && row.includes("0 = off (0)"), row);
});

Deno.test("--max-memory refuses a negative, fractional, unit-suffixed or too large value", () => {
  for (const value of ["-1", "1.5", "512M", "1gb", "", " ", "1048577"]) {
    assert.throws(
      () => parseConfig([`--max-memory=${value}`], noEnv),
      new ConfigError(`--max-memory must be an integer from 0 to 1048576, got ${JSON.stringify(value)}`),
      value,
    );
  }
  assert.throws(
    () => parseConfig([], (name) => name === "CHAT_MAX_MEMORY" ? "lots" : undefined),
    new ConfigError('--max-memory must be an integer from 0 to 1048576, got "lots"'),
  );
});

Deno.test("--login-concurrency defaults to 8, reads CHAT_LOGIN_CONCURRENCY, takes 0 for no limit, refuses bad values", () => {
  assert.equal(parseConfig([], noEnv)!.loginConcurrency, 8);
  const env = (name: string) => name === "CHAT_LOGIN_CONCURRENCY" ? "32" : undefined;
  assert.equal(parseConfig([], env)!.loginConcurrency, 32);
  assert.equal(parseConfig(["--login-concurrency", "0"], env)!.loginConcurrency, 0);
  for (const value of ["-1", "10001", "many", "2.5"]) {
    assert.throws(
      () => parseConfig([`--login-concurrency=${value}`], noEnv),
      new ConfigError(`--login-concurrency must be an integer from 0 to 10000, got ${JSON.stringify(value)}`),
    );
  }
});

Deno.test("--login-share defaults to 100 (no bound), reads CHAT_LOGIN_SHARE, is listed in --help, refuses bad values", () => {
  assert.equal(parseConfig([], noEnv)!.loginShare, 100);
  const env = (name: string) => name === "CHAT_LOGIN_SHARE" ? "25" : undefined;
  assert.equal(parseConfig([], env)!.loginShare, 25);
  assert.equal(parseConfig(["--login-share", "20"], env)!.loginShare, 20, "the flag wins");
  for (const value of ["0", "101", "-5", "half", "33.3", "50%"]) {
    assert.throws(
      () => parseConfig([`--login-share=${value}`], noEnv),
      new ConfigError(`--login-share must be an integer from 1 to 100, got ${JSON.stringify(value)}`),
      value,
    );
  }
  const row = USAGE.split("\n").find((line) => line.trimStart().startsWith("--login-share PERCENT"));
  assert.ok(row?.includes("CHAT_LOGIN_SHARE"), row);
  assert.ok(USAGE.includes("100 = no bound (100)"));
});
