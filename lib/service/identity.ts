import { Errno } from "../protocol/errno.ts";
import { RequestError } from "../protocol/errors.ts";
import type { Identified } from "../protocol/requests.ts";
import type { Session, SessionUser } from "./session.ts";

/**
 * The session's user, refusing a frame that claims to be someone else (errno 5). Identity comes from
 * the session; a frame's `id` is only checked, never believed.
 */
export function sessionUser(session: Session, request: Identified): SessionUser {
  const user = session.user;
  if (!user) throw new RequestError(Errno.NOT_LOGGED_IN, "not logged in");
  if (request.id !== undefined && request.id !== user.id) {
    throw new RequestError(Errno.NOT_LOGGED_IN, '"id" does not match the logged-in user');
  }
  return user;
}
