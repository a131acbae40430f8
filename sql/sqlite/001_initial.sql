-- Embedded (SQLite) schema. Table and column names follow the C++ original so the two schemas read alike.
-- Every statement is CREATE ... IF NOT EXISTS: migrate() runs this file on every start, so it must be
-- idempotent and must never drop or rewrite data.
-- STRICT tables make SQLite enforce the declared column types, as MySQL does, instead of storing whatever
-- value it is handed (a fractional "id" would otherwise be kept as a REAL).

CREATE TABLE IF NOT EXISTS user (
  id INTEGER PRIMARY KEY AUTOINCREMENT, -- AUTOINCREMENT: ids are never reused, even after the newest row goes
  name TEXT NOT NULL UNIQUE,
  password TEXT NOT NULL, -- the encoded salted hash, never the clear password
  -- Display copy of presence only; the authority is the bus's presence lease.
  state TEXT NOT NULL DEFAULT 'offline' CHECK (state IN ('online', 'offline'))
) STRICT;

-- One direction: (userid, friendid) means friendid is in userid's list.
CREATE TABLE IF NOT EXISTS friend (
  userid INTEGER NOT NULL,
  friendid INTEGER NOT NULL,
  PRIMARY KEY (userid, friendid)
) STRICT;

-- listFollowers looks rows up by friendid, which the primary key cannot serve.
CREATE INDEX IF NOT EXISTS friend_friendid ON friend (friendid);

CREATE TABLE IF NOT EXISTS allgroup (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  groupname TEXT NOT NULL UNIQUE,
  groupdesc TEXT NOT NULL DEFAULT ''
) STRICT;

CREATE TABLE IF NOT EXISTS groupuser (
  groupid INTEGER NOT NULL,
  userid INTEGER NOT NULL,
  grouprole TEXT NOT NULL DEFAULT 'normal' CHECK (grouprole IN ('creator', 'normal')),
  PRIMARY KEY (groupid, userid)
) STRICT;

-- listUserGroups starts from the user's memberships, which the primary key cannot serve.
CREATE INDEX IF NOT EXISTS groupuser_userid ON groupuser (userid);

-- The id orders a user's messages: AUTOINCREMENT never hands out an id below one already used, so reading by
-- (userid, id) returns the oldest first and a delete by id can never hit a row stored later.
CREATE TABLE IF NOT EXISTS offlinemessage (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  userid INTEGER NOT NULL,
  message TEXT NOT NULL, -- the exact frame text; no length limit (frames may exceed 64 KiB when configured)
  created_at INTEGER NOT NULL -- ms since the epoch, for expiry and diagnostics
) STRICT;

CREATE INDEX IF NOT EXISTS offlinemessage_userid_id ON offlinemessage (userid, id);
