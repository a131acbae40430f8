/**
 * The bus layer's errors. Messages name the bad value and never a credential (URLs go through
 * `redactUrl`); a wrapped error travels as `cause`.
 *
 * @module
 */

/**
 * A call that a closed bus cannot serve (publish, claim, subscribe, start …).
 *
 * @example
 * ```ts
 * import { BusClosedError } from "./errors.ts";
 *
 * new BusClosedError("RedisBus", "publish"); // "RedisBus is closed: publish() refused"
 * ```
 */
export class BusClosedError extends Error {
  /** `bus` names the implementation, `call` the method refused. */
  constructor(bus: string, call: string) {
    super(`${bus} is closed: ${call}() refused`);
    this.name = "BusClosedError";
  }
}

/**
 * A call made before `start()` on a bus that needs one (it has a backend to connect to).
 *
 * @example
 * ```ts
 * import { BusNotStartedError } from "./errors.ts";
 *
 * new BusNotStartedError("RedisBus", "publish"); // "RedisBus.start() was not called: publish() refused"
 * ```
 */
export class BusNotStartedError extends Error {
  /** `bus` names the implementation, `call` the method refused. */
  constructor(bus: string, call: string) {
    super(`${bus}.start() was not called: ${call}() refused`);
    this.name = "BusNotStartedError";
  }
}

/**
 * `start()` called a second time.
 *
 * @example
 * ```ts
 * import { BusAlreadyStartedError } from "./errors.ts";
 *
 * new BusAlreadyStartedError("RedisBus"); // "RedisBus.start() was already called"
 * ```
 */
export class BusAlreadyStartedError extends Error {
  /** `bus` names the implementation. */
  constructor(bus: string) {
    super(`${bus}.start() was already called`);
    this.name = "BusAlreadyStartedError";
  }
}

/**
 * The bus's backend cannot be reached at start; `cause` is the driver's error.
 *
 * @example
 * ```ts
 * import { BusConnectError } from "./errors.ts";
 *
 * new BusConnectError("redis://***@127.0.0.1:6380/0", { cause: new Error("ECONNREFUSED") });
 * ```
 */
export class BusConnectError extends Error {
  /** `redactedUrl` must have gone through `redactUrl`: messages never carry a password. */
  constructor(redactedUrl: string, options?: ErrorOptions) {
    super(`RedisBus: cannot connect to ${redactedUrl}`, options);
    this.name = "BusConnectError";
  }
}

/**
 * Another live process holds this node id: its lease in Redis is renewed by someone else. Starting would
 * drop that node's claims, so the bus refuses and changes nothing.
 *
 * @example
 * ```ts
 * import { NodeIdInUseError } from "./errors.ts";
 *
 * new NodeIdInUseError("node1").message.startsWith('node id "node1" is in use'); // true
 * ```
 */
export class NodeIdInUseError extends Error {
  /** The node id that is taken. */
  readonly nodeId: string;

  /** `nodeId` is the id that was asked for. */
  constructor(nodeId: string) {
    super(
      `node id ${JSON.stringify(nodeId)} is in use by a live node (its lease in Redis is held by another ` +
        `process); choose another --node-id or stop that node`,
    );
    this.name = "NodeIdInUseError";
    this.nodeId = nodeId;
  }
}
