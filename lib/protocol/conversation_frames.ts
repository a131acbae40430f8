/**
 * Server-to-client frames of kept conversations (PROTOCOL.md msgids 19 and 20) and the result fields of
 * SYNC and HISTORY ACKs. Stored chat frames are JSON text already: a page embeds them as they are.
 *
 * @module
 */
import { JsonText } from "./encode.ts";
import { MsgId } from "./msg_id.ts";

/**
 * RECEIPT: `id` read `conv` up to `seq`.
 *
 * @example
 * ```ts
 * receiptFrame({ conv: "u:1:2", id: 2, seq: 7 });
 * // '{"msgid":19,"conv":"u:1:2","id":2,"seq":7}'
 * ```
 */
export function receiptFrame(receipt: { conv: string; id: number; seq: number }): string {
  return JSON.stringify({ msgid: MsgId.RECEIPT, conv: receipt.conv, id: receipt.id, seq: receipt.seq });
}

/**
 * TYPING: `id` is typing in `conv`.
 *
 * @example
 * ```ts
 * typingFrame({ conv: "g:3", id: 1 }); // '{"msgid":20,"conv":"g:3","id":1}'
 * ```
 */
export function typingFrame(typing: { conv: string; id: number }): string {
  return JSON.stringify({ msgid: MsgId.TYPING, conv: typing.conv, id: typing.id });
}

/** The result fields of a SYNC-after or HISTORY ACK. */
export interface PageFields extends Record<string, unknown> {
  messages: JsonText;
  more: boolean;
}

/**
 * A page of stored frames (ascending seq) as ACK fields, the frames spliced in unparsed.
 *
 * @example
 * ```ts
 * import { ackFrame } from "./encode.ts";
 *
 * ackFrame(17, { fields: pageFields(['{"msgid":6,"conv":"u:1:2","seq":1}'], false) });
 * // '{"msgid":11,"ref":17,"errno":0,"messages":[{"msgid":6,"conv":"u:1:2","seq":1}],"more":false}'
 * ```
 */
export function pageFields(frames: readonly string[], more: boolean): PageFields {
  return { messages: JsonText.array(frames), more };
}
