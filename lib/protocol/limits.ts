/** Field length limits in characters (PROTOCOL.md "Validation"); configurable per server. */
export interface Limits {
  name: number;
  password: number;
  groupname: number;
  groupdesc: number;
  msg: number;
  /** The client's `time` text and `cid` strings. */
  tag: number;
}

/** The defaults of PROTOCOL.md. */
export const DEFAULT_LIMITS: Readonly<Limits> = {
  name: 50,
  password: 50,
  groupname: 50,
  groupdesc: 200,
  msg: 4096,
  tag: 64,
};
