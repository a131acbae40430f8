/**
 * GROUP_EVENT fan-out and the errnos of refused group changes (PROTOCOL.md "Groups"). Events are live
 * frames, best effort: a device that misses one sees the result in its next LOGIN_ACK.
 *
 * @module
 */
import { Errno } from "../protocol/errno.ts";
import { RequestError } from "../protocol/errors.ts";
import { type GroupEvent, groupEventFrame } from "../protocol/social_frames.ts";
import type { GroupRefusal } from "../store/store.ts";
import type { ServiceContext } from "./context.ts";

/**
 * Sends `event` to every device of the group's members now, plus `also` (a member who just left or was
 * removed). Resolves once the frame is written to the sessions here and handed to the bus (not once
 * published: a slow bus delays no ACK), so events sent one after another arrive in that order. Never rejects.
 */
export async function tellGroup(context: ServiceContext, event: GroupEvent, also?: number): Promise<void> {
  try {
    const members = await context.store.listGroupMemberIds(event.groupid);
    if (also !== undefined && !members.includes(also)) members.push(also);
    void context.delivery.toUsers(members, groupEventFrame(event));
  } catch (error) {
    context.log.warn("group event not sent", { group: event.groupid, event: event.event, error });
  }
}

/**
 * The error of a refused group change. `action` completes "not permitted: ..." (errno 15).
 *
 * @example
 * ```ts
 * refusal("no_target", 3, 9, "").message; // "user 9 is not a member of group 3"
 * ```
 */
export function refusal(
  reason: GroupRefusal,
  groupId: number,
  targetId: number,
  action: string,
): RequestError {
  switch (reason) {
    case "no_group":
      return new RequestError(Errno.NO_SUCH_GROUP, `no such group: ${groupId}`);
    case "not_member":
      return new RequestError(Errno.NOT_A_MEMBER, `not a member of group ${groupId}`);
    case "no_target":
      return new RequestError(Errno.NOT_A_MEMBER, `user ${targetId} is not a member of group ${groupId}`);
    case "not_permitted":
      return new RequestError(Errno.NOT_PERMITTED, `not permitted: ${action}`);
  }
}
