-- Version 4: sending a message moves the sender's own read seq to it (PROTOCOL.md). For a one-to-one
-- conversation that move is kept on the conversation's row, which every message updates anyway (its lastseq),
-- instead of a read_seqs row upserted per message: a user's read seq of a one-to-one conversation is
-- max(their read_seqs row, the last seq they sent). Groups keep moving read_seqs (one row per member).
--
-- As in versions 2 and 3, the runner records the version only after the last statement and MySQL commits DDL
-- at once, so the statement here is safe to run again after a crash halfway.

-- The last seq sent by the conversation's lower user id (usera) and by its higher one (userb); 0 for groups.
-- Older databases start at 0: their read_seqs rows already hold every move that sending made, so every
-- user's read seq stays what it was. MySQL 8 has no ADD COLUMN IF NOT EXISTS, so the ALTER runs only when the
-- columns are missing, as one statement: a crash leaves either the old table or the new one. Both columns
-- are added at the end with a constant default, which MariaDB 10.3+ and MySQL 8 do in place (no copy).
SET @sent_seqs = IF(
  (SELECT COUNT(*) FROM information_schema.columns
    WHERE table_schema = DATABASE() AND table_name = 'conversations' AND column_name = 'lowsentseq') = 0,
  -- Adjacent string literals are one string.
  'ALTER TABLE conversations '
    'ADD COLUMN lowsentseq BIGINT NOT NULL DEFAULT 0, '
    'ADD COLUMN highsentseq BIGINT NOT NULL DEFAULT 0',
  'DO 0'
);
PREPARE sent_seqs FROM @sent_seqs;
EXECUTE sent_seqs;
DEALLOCATE PREPARE sent_seqs;
