/**
 * How `deno task bench idle` spreads K idle connections (issue 14: 100,000 on one node): over several
 * loopback addresses (one client address to one server address and port has only the ephemeral port range,
 * about 28,000 ports), over several holder processes (each stays under its open-files limit), and whether the
 * server can hold them at all (its hard open-files limit, which only a privileged user can raise). Pure, so
 * that the arithmetic has tests.
 *
 * @module
 */

/** Descriptors a server needs besides its connections (listeners, SQLite, the metrics port, Deno itself). */
export const SERVER_FD_MARGIN = 100;
/** Descriptors a holder process needs besides its connections (stdio, Deno itself). */
export const HOLDER_FD_MARGIN = 100;
/** Ephemeral ports per address left free (connections in TIME_WAIT from earlier runs, other programs). */
export const PORT_MARGIN = 2_000;
/** 127.0.0.1 … 127.0.0.254. */
const MAX_LOOPBACK_ADDRESSES = 254;

/** What the plan is made from. */
export interface IdlePlanInput {
  /** Idle connections asked for (`--connections`). */
  connections: number;
  /** Other connections to the same server during the run (warm-up logins, the active pairs). */
  others: number;
  /** The server's hard open-files limit (its soft one is raised to it). */
  serverHardLimit: number;
  /** The open-files limit of a holder process (the bench's soft limit once raised, which holders inherit). */
  holderLimit: number;
  /** Ephemeral ports per client address ({@linkcode ephemeralPorts}). */
  ephemeralPorts: number;
}

/** How the idle connections are spread. */
export interface IdlePlan {
  /** Server addresses the holders connect to, round robin (127.0.0.1 first). */
  addresses: string[];
  /** The server's `--host`: 0.0.0.0 when the connections need more than 127.0.0.1. */
  serverHost: string;
  /** Holder processes, each holding at most {@linkcode IdlePlan.perHolder} connections. */
  holders: number;
  perHolder: number;
}

/** The limits cannot hold the connections asked for; the message names the largest count that fits. */
export class IdleLimitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "IdleLimitError";
  }
}

/**
 * The plan for `input`, or an {@linkcode IdleLimitError} when one server process cannot have that many files
 * open.
 *
 * @example
 * ```ts
 * import { planIdle } from "./idle_plan.ts";
 *
 * planIdle({
 *   connections: 100_000,
 *   others: 400,
 *   serverHardLimit: 1_048_576,
 *   holderLimit: 65_536,
 *   ephemeralPorts: 28_232,
 * });
 * // { addresses: ["127.0.0.1", …, "127.0.0.4"], serverHost: "0.0.0.0", holders: 2, perHolder: 65436 }
 * ```
 */
export function planIdle(input: IdlePlanInput): IdlePlan {
  const { connections, others, serverHardLimit: hardLimit } = input;
  const serverNeeds = connections + others + SERVER_FD_MARGIN;
  if (serverNeeds > hardLimit) {
    const fits = hardLimit - others - SERVER_FD_MARGIN;
    throw new IdleLimitError(
      `idle: ${connections} connections need ${serverNeeds} open files in the server (${others} other ` +
        `connections and ${SERVER_FD_MARGIN} for the process itself), but the hard limit (ulimit -Hn) is ` +
        `${hardLimit}, and raising it needs root with CAP_SYS_RESOURCE; ` +
        (fits > 0 ? `the largest count that fits is --connections ${fits}` : "no idle connection fits"),
    );
  }
  const perAddress = input.ephemeralPorts - PORT_MARGIN;
  const count = Math.ceil((connections + others) / perAddress);
  if (perAddress <= 0 || count > MAX_LOOPBACK_ADDRESSES) {
    throw new IdleLimitError(
      `idle: ${connections} connections need more than ${MAX_LOOPBACK_ADDRESSES} loopback addresses of ` +
        `${Math.max(0, perAddress)} ports each (net.ipv4.ip_local_port_range)`,
    );
  }
  const addresses = Array.from({ length: count }, (_, i) => `127.0.0.${i + 1}`);
  const perHolder = input.holderLimit - HOLDER_FD_MARGIN;
  if (perHolder <= 0) {
    throw new IdleLimitError(`idle: a holder process may open only ${input.holderLimit} files (ulimit -n)`);
  }
  return {
    addresses,
    serverHost: count > 1 ? "0.0.0.0" : "127.0.0.1",
    holders: Math.max(1, Math.ceil(connections / perHolder)),
    perHolder,
  };
}
