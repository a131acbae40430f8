/** The TLS flags of the server (`--tls-cert`, `--tls-key`, their variables), the client (`--tls`, `--ca`) and `bench pingpong --tls`. */
import assert from "node:assert/strict";
import { UsageError } from "../lib/client/errors.ts";
import { connectionSettings, parseClientArgs } from "../lib/client/options.ts";
import { ConfigError, parseConfig } from "../lib/config.ts";
import { parseBenchArgs } from "./bench/args.ts";

Deno.test("parseConfig(): --tls-cert and --tls-key, or CHAT_TLS_CERT and CHAT_TLS_KEY, both or neither", () => {
  const none = parseConfig([], () => undefined)!;
  assert.equal(none.tlsCert, undefined);
  assert.equal(none.tlsKey, undefined);
  const flags = parseConfig(["--tls-cert", "c.pem", "--tls-key", "k.pem"], () => undefined)!;
  assert.deepEqual([flags.tlsCert, flags.tlsKey], ["c.pem", "k.pem"]);
  const env = { CHAT_TLS_CERT: "/etc/c.pem", CHAT_TLS_KEY: "/etc/k.pem" } as Record<string, string>;
  const fromEnv = parseConfig([], (name) => env[name])!;
  assert.deepEqual([fromEnv.tlsCert, fromEnv.tlsKey], ["/etc/c.pem", "/etc/k.pem"]);
  const mixed = parseConfig(["--tls-cert", "c.pem"], (name) => env[name])!;
  assert.deepEqual([mixed.tlsCert, mixed.tlsKey], ["c.pem", "/etc/k.pem"], "a flag wins over its variable");
  assert.throws(
    () => parseConfig(["--tls-cert", "c.pem"], () => undefined),
    (error: Error) =>
      error instanceof ConfigError && /^--tls-cert needs --tls-key \(CHAT_TLS_KEY\)/.test(error.message),
  );
  assert.throws(
    () => parseConfig([], (name) => name === "CHAT_TLS_KEY" ? "k.pem" : undefined),
    (error: Error) =>
      error instanceof ConfigError && /^--tls-key needs --tls-cert \(CHAT_TLS_CERT\)/.test(error.message),
  );
});

Deno.test("parseClientArgs(): --tls, and --ca FILE which implies it; connectionSettings() passes them on", () => {
  assert.equal(parseClientArgs([])!.tls, undefined, "plain text unless asked");
  assert.deepEqual(parseClientArgs(["--tls"])!.tls, {});
  assert.deepEqual(parseClientArgs(["--ca", "ca.pem"])!.tls, { caFile: "ca.pem" });
  assert.deepEqual(connectionSettings(parseClientArgs(["--tls", "--ca", "ca.pem"])!).tls, {
    caFile: "ca.pem",
  });
  assert.throws(
    () => parseClientArgs(["--ca", ""]),
    (error: Error) => error instanceof UsageError && /--ca must not be empty/.test(error.message),
  );
});

Deno.test("parseBenchArgs(): pingpong --tls, alone with one node the bench starts", () => {
  assert.equal(parseBenchArgs(["pingpong"])!.tls, false);
  assert.equal(parseBenchArgs(["pingpong", "--tls", "--repeats", "3"])!.tls, true);
  assert.throws(() => parseBenchArgs(["sync", "--tls"]), /--tls is for the pingpong scenario/);
  for (
    const extra of [["--cluster"], ["--v1"], ["--ceiling"], ["--endpoints", "127.0.0.1:1"], [
      "--baseline",
      "main",
    ]]
  ) {
    assert.throws(
      () => parseBenchArgs(["pingpong", "--tls", ...extra]),
      /--tls compares one node/,
      extra.join(" "),
    );
  }
});
