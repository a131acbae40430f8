import type { ErrnoValue } from "./errno.ts";

/** A request that must be answered with an errno; the message is what the client sees as `errmsg`. */
export class RequestError extends Error {
  readonly errno: ErrnoValue;
  constructor(errno: ErrnoValue, message: string) {
    super(message);
    this.name = "RequestError";
    this.errno = errno;
  }
}
