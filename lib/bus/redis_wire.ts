/**
 * The Redis bus's payloads on the wire: frames travel on `{keyPrefix}user:{userId}`, acks on
 * `{keyPrefix}ack:{publisher token}`. The frame is always last and as is (no re-encoding):
 *
 * - transient: `t{frame}`
 * - durable: `d{publisher token, 36 characters}{stream number}:{sequence number} {frame}`
 * - ack: `{sequence number},{sequence number},…`; a sequence number prefixed with `-` declines the frame
 *   (the handler returned false: that node no longer holds the user), and the publisher's `publish`
 *   resolves false at once once every receiver declined.
 *
 * @module
 */

/** First character of a durable payload. */
export const DURABLE = "d";
/** First character of a transient payload. */
export const TRANSIENT = "t";
/** {@linkcode DURABLE} as a char code, for the receiver's hot path. */
export const DURABLE_CODE: number = DURABLE.charCodeAt(0);
/** Prefix of a sequence number in an ack payload that declines the frame. */
export const NACK = "-";
/** The length of a `randomUUID()`: the publisher's token in a durable payload. */
export const TOKEN_LENGTH = 36;
