/**
 * LEAVE_GROUP, KICK, SET_ROLE and UPDATE_GROUP (PROTOCOL.md "Groups"). The store reads the roles and makes
 * the change in one transaction, so two changes at once, on any nodes, each see the other's outcome or
 * none; every member's devices (and the user it is about) are then told by GROUP_EVENT.
 *
 * @module
 */
import { Errno } from "../protocol/errno.ts";
import { RequestError } from "../protocol/errors.ts";
import type { Envelope } from "../protocol/requests.ts";
import {
  kickRequest,
  leaveGroupRequest,
  setRoleRequest,
  updateGroupRequest,
} from "../protocol/social_requests.ts";
import { NameTakenError } from "../store/errors.ts";
import type { ServiceContext } from "./context.ts";
import { refusal, tellGroup } from "./group_events.ts";
import { sessionUser } from "./identity.ts";
import type { Session } from "./session.ts";

/**
 * LEAVE_GROUP: ACK `{groupid}`. Every member, the leaver included, gets `left`; when the creator left
 * others behind, the remaining members then get `role` naming the heir.
 */
export async function leaveGroup(
  context: ServiceContext,
  session: Session,
  envelope: Envelope,
): Promise<Record<string, unknown>> {
  const request = leaveGroupRequest(envelope.frame);
  const user = sessionUser(session, request);
  const { groupid } = request;
  const outcome = await context.store.leaveGroup(groupid, user.id);
  if (!outcome.ok) throw refusal(outcome.reason, groupid, user.id, "");
  // Awaited in turn: the heir's role must not reach anyone before the leave it follows.
  await tellGroup(context, { groupid, event: "left", userid: user.id, by: user.id }, user.id);
  if (outcome.heir !== undefined) {
    await tellGroup(context, { groupid, event: "role", userid: outcome.heir, by: user.id, role: "creator" });
  }
  return { groupid };
}

/**
 * KICK: ACK `{groupid, userid}`. The creator may kick anyone else, an admin only normal members (errno 15
 * otherwise); the members and the kicked user get `kicked`. Kicking oneself is errno 4 (LEAVE_GROUP is
 * for that).
 */
export async function kick(
  context: ServiceContext,
  session: Session,
  envelope: Envelope,
): Promise<Record<string, unknown>> {
  const request = kickRequest(envelope.frame);
  const user = sessionUser(session, request);
  const { groupid, userid } = request;
  if (userid === user.id) {
    throw new RequestError(Errno.INVALID_REQUEST, 'invalid request: "userid" must not be your own id');
  }
  const outcome = await context.store.kickMember(groupid, user.id, userid);
  if (!outcome.ok) {
    throw refusal(outcome.reason, groupid, userid, `you may not kick user ${userid} from group ${groupid}`);
  }
  if (outcome.changed) await tellGroup(context, { groupid, event: "kicked", userid, by: user.id }, userid);
  return { groupid, userid };
}

/** SET_ROLE: ACK `{groupid, userid, role}`; only the creator (errno 15). A change sends `role`. */
export async function setRole(
  context: ServiceContext,
  session: Session,
  envelope: Envelope,
): Promise<Record<string, unknown>> {
  const request = setRoleRequest(envelope.frame);
  const user = sessionUser(session, request);
  const { groupid, userid, role } = request;
  if (userid === user.id) {
    throw new RequestError(Errno.INVALID_REQUEST, 'invalid request: "userid" must not be your own id');
  }
  const outcome = await context.store.setMemberRole(groupid, user.id, userid, role);
  if (!outcome.ok) {
    throw refusal(outcome.reason, groupid, userid, `only the creator of group ${groupid} sets roles`);
  }
  if (outcome.changed) await tellGroup(context, { groupid, event: "role", userid, by: user.id, role });
  return { groupid, userid, role };
}

/**
 * UPDATE_GROUP: ACK `{groupid, groupname, groupdesc}` as they are now; the creator or an admin (errno 15),
 * a name of another group errno 1. A change sends `updated`.
 */
export async function updateGroup(
  context: ServiceContext,
  session: Session,
  envelope: Envelope,
): Promise<Record<string, unknown>> {
  const request = updateGroupRequest(envelope.frame, context.limits);
  const user = sessionUser(session, request);
  const { groupid } = request;
  let outcome;
  try {
    outcome = await context.store.updateGroup(groupid, user.id, {
      name: request.groupname,
      desc: request.groupdesc,
    });
  } catch (error) {
    if (error instanceof NameTakenError) {
      throw new RequestError(Errno.REJECTED, "this group name is already taken");
    }
    throw error;
  }
  if (!outcome.ok) {
    throw refusal(outcome.reason, groupid, user.id, `only the creator or an admin changes group ${groupid}`);
  }
  const group = await context.store.findGroup(groupid);
  // Deleted in between cannot happen (groups are kept); the request's values stand in should it.
  const groupname = group?.name ?? request.groupname;
  const groupdesc = group?.desc ?? request.groupdesc;
  if (outcome.changed) {
    await tellGroup(context, {
      groupid,
      event: "updated",
      userid: user.id,
      by: user.id,
      groupname,
      groupdesc,
    });
  }
  return { groupid, groupname, groupdesc };
}
