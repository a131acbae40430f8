/**
 * Who may read which conversation (PROTOCOL.md "Conversations and sequence numbers" and "Details that
 * clients may rely on"): the two users of a one-to-one conversation, the members of a group, and former
 * members up to the last seq they had when they left.
 *
 * @module
 */
import { type Conversation, peerOf } from "../conversation_name.ts";
import type { NamedConversation } from "../protocol/conversation_requests.ts";
import { Errno } from "../protocol/errno.ts";
import { RequestError } from "../protocol/errors.ts";
import type { ServiceContext } from "./context.ts";

/** A conversation the user may read. */
export interface ReadableConversation {
  name: string;
  conv: Conversation;
  /** One-to-one: the other user. */
  peer?: number;
  /** A former group member: the highest seq they may read (`undefined`: no bound). */
  upTo?: number;
}

/**
 * What of `named` the user may read. Refuses with errno 4 someone else's one-to-one conversation (its name
 * alone says so), 6 a one-to-one conversation with a user who does not exist, 7 a group that does not
 * exist and 8 a group the user never belonged to.
 *
 * @example
 * ```ts
 * import type { ServiceContext } from "./context.ts";
 * import { parseConv } from "../conversation_name.ts";
 *
 * declare const context: ServiceContext;
 * await readableConversation(context, 3, { name: "u:3:7", conv: parseConv("u:3:7")! });
 * // { name: "u:3:7", conv: {...}, peer: 7 }
 * ```
 */
export async function readableConversation(
  context: Pick<ServiceContext, "store" | "userExists">,
  userId: number,
  named: Pick<NamedConversation, "name" | "conv">,
): Promise<ReadableConversation> {
  const { name, conv } = named;
  if (conv.kind === "direct") {
    const peer = peerOf(conv, userId);
    if (peer === null) {
      throw new RequestError(
        Errno.INVALID_REQUEST,
        `invalid request: "conv" ${name} is not your conversation`,
      );
    }
    if (!await context.userExists(peer)) throw new RequestError(Errno.NO_SUCH_USER, `no such user: ${peer}`);
    return { name, conv, peer };
  }
  const access = await context.store.groupAccess(conv.groupId, userId);
  if (access === null) {
    if (!await context.store.groupExists(conv.groupId)) {
      throw new RequestError(Errno.NO_SUCH_GROUP, `no such group: ${conv.groupId}`);
    }
    throw new RequestError(Errno.NOT_A_MEMBER, `not a member of group ${conv.groupId}`);
  }
  return access.member ? { name, conv } : { name, conv, upTo: access.lastSeq };
}
