-- A paused account (Meta answered 0/190 token invalid, 368 and the other
-- account-level blocks: app/spooler/policy.c) is paused on its row, so the
-- pause holds on every spooler on every host, also for messages accepted
-- during it: the spoolers look for work only in accounts whose pause is
-- over (SQL_SPOOL_ACCOUNTS). Before, the pause was the queued messages'
-- next_attempt_at, which a message accepted meanwhile did not have: the
-- next cron run sent it to the blocked account and paused it again.
-- An operator ends a pause early (the token replaced) with
--   UPDATE whatsapp_accounts SET paused_until = NULL WHERE id = …;
ALTER TABLE whatsapp_accounts
	ADD COLUMN IF NOT EXISTS paused_until DATETIME(3) NULL;
