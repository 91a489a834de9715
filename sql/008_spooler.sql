-- The spooler's claims (docs/decisions.md, "The spooler").
--
-- sending_holder: the spooler (its lease holder name) whose request for a
-- 'sending' message is in flight or whose answer it still owes the
-- database; NULL once the outcome is ambiguous (no answer to a request
-- that may have reached Meta). Recovery queues a 'sending' message again
-- only when no live spooler answers for it: holder NULL, or a holder that
-- no longer holds the account's lease.
--
-- blind_resends: how often recovery queued the message again without
-- knowing whether Meta had it. One at most: after that, an unresolved
-- message fails as ambiguous instead of going out a third time.
ALTER TABLE messages
	ADD COLUMN IF NOT EXISTS sending_holder VARCHAR(128) NULL
	    AFTER sending_since,
	ADD COLUMN IF NOT EXISTS blind_resends TINYINT UNSIGNED NOT NULL
	    DEFAULT 0 AFTER sending_holder;
