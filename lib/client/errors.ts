/** The client's errors: small named classes whose messages are fit to show the user as they are. */

/** Opening the TCP connection failed. */
export class ConnectError extends Error {
  override name = "ConnectError";
  constructor(address: string, options?: ErrorOptions) {
    const reason = options?.cause instanceof Error ? `: ${options.cause.message}` : "";
    super(`cannot connect to ${address}${reason}`, options);
  }
}

/** The connection ended without the client closing it (server gone, reset, heartbeat unanswered). */
export class ConnectionLostError extends Error {
  override name = "ConnectionLostError";
  constructor(address: string, options?: ErrorOptions) {
    super(`connection to ${address} lost`, options);
  }
}

/** A request got no reply in time. */
export class RequestTimeoutError extends Error {
  override name = "RequestTimeoutError";
  constructor(address: string, timeoutMs: number) {
    super(`no reply from ${address} within ${timeoutMs} ms`);
  }
}

/** A command-line flag has a bad value. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** The state directory cannot hold a login token (not private, not writable, disk full …). */
export class TokenStoreError extends Error {
  override name = "TokenStoreError";
}
