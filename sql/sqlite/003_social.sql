-- Version 3: friends by request, blocking and group roles (PROTOCOL.md "v2 extensions", "Friends", "Groups").
-- Runs once, inside the migration's transaction (SQLite DDL is transactional): a failure leaves version 2 as
-- it was. Every query of lib/store/sqlite_*.ts is served by a primary key or one of the indexes below.

-- groupuser gets the role 'admin' and each membership's join order. SQLite cannot change a CHECK constraint
-- in place, so the table is rebuilt: a new table, the rows copied, the old one dropped, the new one renamed
-- (nothing refers to groupuser by name: no view, trigger or foreign key).
CREATE TABLE groupuser_v3 (
  groupid INTEGER NOT NULL,
  userid INTEGER NOT NULL,
  grouprole TEXT NOT NULL DEFAULT 'normal' CHECK (grouprole IN ('creator', 'admin', 'normal')),
  -- The group conversation's last seq when the member joined (version 2).
  joinseq INTEGER NOT NULL DEFAULT 0,
  -- Orders the group's members by when they joined: "longest-standing" is the lowest. A new member gets the
  -- group's highest plus one, so only the order within a group means anything.
  joinorder INTEGER NOT NULL,
  PRIMARY KEY (groupid, userid)
) STRICT;

-- Members of an older database joined before anyone joins from now on, in (groupid, userid) order: the old
-- schema kept no join time, and user ids grow with registration, which is the best order there is.
INSERT INTO groupuser_v3 (groupid, userid, grouprole, joinseq, joinorder)
  SELECT groupid, userid, grouprole, joinseq, row_number() OVER (PARTITION BY groupid ORDER BY userid)
  FROM groupuser;

DROP TABLE groupuser;
ALTER TABLE groupuser_v3 RENAME TO groupuser;

-- listUserGroups starts from the user's memberships, which the primary key cannot serve (as in version 1).
CREATE INDEX groupuser_userid ON groupuser (userid);
-- A new member's join order (the group's highest) and the heir of a leaving creator (the earliest).
CREATE UNIQUE INDEX groupuser_joinorder ON groupuser (groupid, joinorder);

-- Pending friend requests: requester asked target, who has not answered. The id orders them (oldest first).
CREATE TABLE friend_requests (
  id INTEGER PRIMARY KEY,
  requester INTEGER NOT NULL,
  target INTEGER NOT NULL,
  note TEXT NOT NULL, -- 0–200 characters (the service checks the limit)
  UNIQUE (requester, target)
) STRICT;

-- The target's pending requests, oldest first (LOGIN_ACK `requests`).
CREATE INDEX friend_requests_target ON friend_requests (target, id);

-- blocker blocks blocked: one direction. A block and a friendship or request between the same two users never
-- exist together (Store.setBlock removes those).
CREATE TABLE blocks (
  blocker INTEGER NOT NULL,
  blocked INTEGER NOT NULL,
  PRIMARY KEY (blocker, blocked)
) STRICT, WITHOUT ROWID;

-- Who blocks a user (listBlocks' blockedBy).
CREATE INDEX blocks_blocked ON blocks (blocked, blocker);
