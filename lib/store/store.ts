/**
 * The storage seam: one interface grouped by entity, implemented once per database
 * (embedded SQLite in `sqlite_store.ts`, MySQL/MariaDB in `mysql_store.ts`).
 * Every implementation passes the shared suite in `tests/store_suite.ts`.
 *
 * Errors: a name that is already taken throws {@linkcode NameTakenError}; a database that cannot be
 * reached throws {@linkcode StoreUnavailableError}. Nothing here knows the wire protocol.
 */

/** A user row as the service needs it for login. */
export interface UserRecord {
  id: number;
  name: string;
  /** The encoded password hash (see `lib/service/password.ts`); never a clear password. */
  passwordHash: string;
}

/** A user as listed to others (friends, group members). */
export interface UserSummary {
  id: number;
  name: string;
}

/** A group member with their role. */
export interface GroupMember extends UserSummary {
  role: "creator" | "normal";
}

/** A group with its members, as LOGIN_ACK lists it. */
export interface GroupRecord {
  id: number;
  name: string;
  desc: string;
  members: GroupMember[];
}

/** A stored offline message: the exact frame text that will be handed to the recipient. */
export interface OfflineMessage {
  id: number;
  frame: string;
}

/** One offline message to store. */
export interface OfflineEntry {
  userId: number;
  frame: string;
}

/** The storage interface shared by every implementation. */
export interface Store extends AsyncDisposable {
  /** Creates the schema when missing (idempotent, never drops data). */
  migrate(): Promise<void>;
  /** Cheap round trip used by health checks; throws StoreUnavailableError when unreachable. */
  ping(): Promise<void>;

  /** Creates a user and returns the new id. Throws NameTakenError when `name` exists. */
  createUser(name: string, passwordHash: string): Promise<number>;
  findUser(id: number): Promise<UserRecord | null>;
  /** Which of `ids` exist. */
  existingUsers(ids: number[]): Promise<Set<number>>;
  /** Display copy of presence (the authority is the bus's presence lease). */
  setUserState(id: number, online: boolean): Promise<void>;
  /** Marks the given users offline (all users when `ids` is omitted). */
  setUsersOffline(ids?: number[]): Promise<void>;

  /** Adds `friendId` to `userId`'s list (one direction). Adding twice is a no-op. */
  addFriend(userId: number, friendId: number): Promise<void>;
  /** The user's friends, ordered by id. */
  listFriends(userId: number): Promise<UserSummary[]>;
  /** Ids of the users who have `userId` in their friend list. */
  listFollowers(userId: number): Promise<number[]>;

  /** Creates a group with `creatorId` as its creator; returns the group id. Throws NameTakenError. */
  createGroup(creatorId: number, name: string, desc: string): Promise<number>;
  groupExists(groupId: number): Promise<boolean>;
  /** Adds a normal member. Joining twice is a no-op. */
  addGroupMember(groupId: number, userId: number): Promise<void>;
  /** Ids of the group's members, ordered by id (empty when the group does not exist). */
  listGroupMemberIds(groupId: number): Promise<number[]>;
  /** Every group `userId` belongs to, with all members, ordered by group id then member id. */
  listUserGroups(userId: number): Promise<GroupRecord[]>;

  /** Stores frames for offline users in one transaction, preserving the given order. */
  storeOffline(entries: OfflineEntry[]): Promise<void>;
  /** The user's oldest `limit` offline messages, oldest first. */
  readOffline(userId: number, limit: number): Promise<OfflineMessage[]>;
  /** Deletes exactly these offline message ids of this user. */
  deleteOffline(userId: number, ids: number[]): Promise<void>;

  /** Counters of the connection pool, for stores that have one (metrics). */
  poolStats?(): PoolStats;

  /** Idempotent. */
  close(): Promise<void>;
}

/** A connection pool's counters. */
export interface PoolStats {
  size: number;
  idle: number;
  inUse: number;
  waiting: number;
  pending: number;
}

/** The part of {@linkcode Store} about users and their presence, which each store keeps in one module. */
export type UserMethods = Pick<
  Store,
  "createUser" | "findUser" | "existingUsers" | "setUserState" | "setUsersOffline"
>;

/** The part of {@linkcode Store} about friend lists. */
export type FriendMethods = Pick<Store, "addFriend" | "listFriends" | "listFollowers">;

/** The part of {@linkcode Store} about groups and their members. */
export type GroupMethods = Pick<
  Store,
  "createGroup" | "groupExists" | "addGroupMember" | "listGroupMemberIds" | "listUserGroups"
>;

/** The part of {@linkcode Store} about offline messages. */
export type OfflineMethods = Pick<Store, "storeOffline" | "readOffline" | "deleteOffline">;
