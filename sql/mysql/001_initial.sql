-- MySQL / MariaDB schema: the five tables of the C++ original, with its flaws fixed (a password column sized for
-- a hash, indexes for the lookups the server makes, ordered offline messages, utf8mb4 everywhere).
-- Every statement is CREATE TABLE IF NOT EXISTS: migrate() runs this file on every start, one statement at a
-- time (split on semicolons at line ends, so no semicolon may end a line inside a statement or comment).
-- Needs MySQL 5.7+ or MariaDB 10.2+ (TIMESTAMP(3) defaults, 4-byte utf8mb4 index keys on InnoDB).
--
-- Names (user.name, allgroup.groupname) use utf8mb4_bin: uniqueness means "the same string", as in the
-- embedded store. utf8mb4_unicode_ci would call "Alice" and "alice" the same name, and, since it weighs every
-- emoji alike, "fan 🍎" and "fan 🍐" too.

CREATE TABLE IF NOT EXISTS user (
  id INT NOT NULL AUTO_INCREMENT,
  name VARCHAR(50) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  password VARCHAR(255) NOT NULL, -- the encoded salted hash, never the clear password
  -- Display copy of presence only; the authority is the bus's presence lease.
  state ENUM('online', 'offline') NOT NULL DEFAULT 'offline',
  PRIMARY KEY (id),
  UNIQUE KEY user_name (name)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- One direction: (userid, friendid) means friendid is in userid's list.
CREATE TABLE IF NOT EXISTS friend (
  userid INT NOT NULL,
  friendid INT NOT NULL,
  PRIMARY KEY (userid, friendid),
  KEY friend_friendid (friendid) -- listFollowers looks rows up by friendid
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS allgroup (
  id INT NOT NULL AUTO_INCREMENT,
  groupname VARCHAR(50) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  groupdesc VARCHAR(200) NOT NULL DEFAULT '',
  PRIMARY KEY (id),
  UNIQUE KEY allgroup_groupname (groupname)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS groupuser (
  groupid INT NOT NULL,
  userid INT NOT NULL,
  grouprole ENUM('creator', 'normal') NOT NULL DEFAULT 'normal',
  PRIMARY KEY (groupid, userid),
  KEY groupuser_userid (userid) -- listUserGroups starts from the user's memberships
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- The id orders a user's messages: InnoDB hands out increasing AUTO_INCREMENT values, consecutive within one
-- multi-row INSERT, and MariaDB 10.2.4+ / MySQL 8 never reuse them after a restart. So reading by (userid, id)
-- returns the oldest first and a delete by id can never hit a row stored later.
CREATE TABLE IF NOT EXISTS offlinemessage (
  id BIGINT NOT NULL AUTO_INCREMENT,
  userid INT NOT NULL,
  message MEDIUMTEXT NOT NULL, -- the exact frame text; MEDIUMTEXT because frames may exceed TEXT's 64 KiB
  created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3), -- for expiry and diagnostics
  PRIMARY KEY (id),
  KEY offlinemessage_userid_id (userid, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
