/** The client's command-line flags and exit statuses. */
import { parseArgs } from "node:util";
import type { ChatClientOptions } from "./chat_client.ts";
import { UsageError } from "./errors.ts";
import { TokenStore } from "./token_store.ts";

/** Exit statuses of `client.ts`. */
export const ExitCode = {
  /** Every command succeeded (script mode), or the user quit (interactive mode). */
  OK: 0,
  /** Script mode: at least one command failed (bad input, a server error, no reply in time). */
  FAILED: 1,
  /** Bad command-line flags, or a permission flag is missing. */
  USAGE: 2,
  /** Script mode: the server could not be reached, or the connection was lost. */
  CONNECTION: 3,
} as const;

/** Parsed flags. */
export interface ClientOptions {
  hostname: string;
  port: number;
  /** How long a command waits for the server's reply. */
  timeoutMs: number;
  /** Script mode: how long to keep printing incoming messages after the last input line. */
  waitMs: number;
  /** PING interval; 0 disables. */
  heartbeatMs: number;
  /** `--device`: sent with LOGIN; `undefined` is the server's device "default". */
  device?: string;
  /** `--state-dir`: where resume tokens are kept; `undefined` picks the default (see {@linkcode USAGE}). */
  stateDir?: string;
  /** `--tls` (or `--ca`): speak TLS; `caFile` is the private CA to verify the server against. */
  tls?: { caFile?: string };
}

/** `--help` text. */
export const USAGE = `Usage: deno task client [--host HOST] [--port PORT] [options]

Connects to a chat server. On a terminal it is an interactive REPL (type help); with stdin
redirected it runs one command per line, waiting for each reply, and prints results and incoming
messages (blank lines and lines starting with # are skipped).

Options:
  --host HOST        server address (127.0.0.1)
  --port PORT        server port (6000)
  --timeout MS       how long a command waits for the server's reply (10000)
  --wait MS          script mode: after the last line, keep printing incoming messages this long (300)
  --heartbeat MS     interval between PINGs that keep the connection alive; 0 disables (30000)
  --device NAME      this device's name, 1-64 printable ASCII characters: each device of a user has
                     its own session, delivery and token (default: the server's device "default")
  --state-dir DIR    where login tokens are kept, so that reconnect and login <id> need no password
                     (default: $CHAT_CLIENT_STATE, else $XDG_STATE_HOME/chat-client, else
                     ~/.local/state/chat-client; created private, mode 0700)
  --tls              speak TLS and verify the server's certificate against the system's CAs; a
                     certificate that fails refuses the connection (never falls back to plain text)
  --ca FILE          verify against this CA certificate (PEM) instead, for a private CA; implies --tls
  -h, --help         show this help

Exit status (script mode): 0 all commands succeeded, 1 a command failed, 2 bad flags,
3 the server could not be reached or the connection was lost.`;

function integer(name: string, text: string, min: number, max: number): number {
  const value = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(
      `--${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(text)}`,
    );
  }
  return value;
}

/**
 * Parses `args`; `undefined` when help was asked for. Throws a {@linkcode UsageError} naming the bad
 * flag or value.
 *
 * @example
 * ```ts
 * parseClientArgs(["--port", "6001"]); // { hostname: "127.0.0.1", port: 6001, timeoutMs: 10000, … }
 * ```
 */
export function parseClientArgs(args: string[]): ClientOptions | undefined {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        host: { type: "string", default: "127.0.0.1" },
        port: { type: "string", default: "6000" },
        timeout: { type: "string", default: "10000" },
        wait: { type: "string", default: "300" },
        heartbeat: { type: "string", default: "30000" },
        device: { type: "string" },
        "state-dir": { type: "string" },
        tls: { type: "boolean" },
        ca: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error), { cause: error });
  }
  if (values.help) return undefined;
  if (values.host === "") throw new UsageError("--host must not be empty");
  if (values.device !== undefined && !isDeviceName(values.device)) {
    throw new UsageError(
      `--device must be 1 to ${MAX_DEVICE_LENGTH} printable ASCII characters, got ${
        JSON.stringify(values.device)
      }`,
    );
  }
  if (values["state-dir"] === "") throw new UsageError("--state-dir must not be empty");
  if (values.ca === "") throw new UsageError("--ca must not be empty");
  return {
    hostname: values.host,
    port: integer("port", values.port, 1, 65_535),
    timeoutMs: integer("timeout", values.timeout, 1, 3_600_000),
    waitMs: integer("wait", values.wait, 0, 3_600_000),
    heartbeatMs: integer("heartbeat", values.heartbeat, 0, 3_600_000),
    device: values.device,
    stateDir: values["state-dir"],
    ...(values.tls || values.ca !== undefined
      ? { tls: values.ca === undefined ? {} : { caFile: values.ca } }
      : {}),
  };
}

/** The longest device name (PROTOCOL.md "Devices and resume tokens"). */
export const MAX_DEVICE_LENGTH = 64;

/**
 * Whether `name` is a device name the server accepts: 1–64 printable ASCII characters (space to tilde).
 *
 * @example
 * ```ts
 * isDeviceName("laptop"); // true
 * isDeviceName("téléphone"); // false
 * ```
 */
export function isDeviceName(name: string): boolean {
  return /^[\x20-\x7e]+$/.test(name) && name.length <= MAX_DEVICE_LENGTH;
}

/** The part of {@linkcode ChatClientOptions} that the flags set. */
export type ConnectionSettings = Pick<
  ChatClientOptions,
  "hostname" | "port" | "requestTimeoutMs" | "heartbeatMs" | "device" | "tokens" | "tls"
>;

/**
 * The flags as {@linkcode ChatClientOptions}: one mapping for both front ends (the REPL and script mode),
 * so a new flag reaches the client in both.
 *
 * @example
 * ```ts
 * connectionSettings(parseClientArgs(["--timeout", "500"])!); // { hostname: "127.0.0.1", …, requestTimeoutMs: 500, … }
 * ```
 */
export function connectionSettings(options: ClientOptions): ConnectionSettings {
  return {
    hostname: options.hostname,
    port: options.port,
    requestTimeoutMs: options.timeoutMs,
    heartbeatMs: options.heartbeatMs,
    device: options.device,
    tokens: TokenStore.fromFlag(options.stateDir),
    ...(options.tls ? { tls: options.tls } : {}),
  };
}
