-- Version 4: sending a message moves the sender's own read seq to it (PROTOCOL.md). For a one-to-one
-- conversation that move is kept on the conversation's row, which every message updates anyway (its lastseq),
-- instead of a read_seqs row written per message: a user's read seq of a one-to-one conversation is
-- max(their read_seqs row, the last seq they sent). Groups keep moving read_seqs (one row per member).
-- Runs once, inside the migration's transaction (SQLite DDL is transactional).

-- The last seq sent by the conversation's lower user id ("u:LOW:HIGH", lib/conversation_name.ts) and by its
-- higher one; 0 for groups. Older databases start at 0: their read_seqs rows already hold every move that
-- sending made, so every user's read seq stays what it was.
ALTER TABLE conversations ADD COLUMN lowsentseq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN highsentseq INTEGER NOT NULL DEFAULT 0;
