-- Segments and campaigns (SPEC 7): what keeps the audiences and the stats
-- right for every writer, in the writer's own transaction.
--
-- A routine file: re-applied by `wazera-admin migrate` whenever its text
-- changes (sql/README.md). Each routine here is its current version only.

-- contact_tags.opted_out follows contacts.opted_out, whoever changes it
-- (the API, an inbound STOP or START). The contact routines that rewrite
-- a contact's tags insert them with the new value themselves.
CREATE OR REPLACE TRIGGER contacts_opt_out
AFTER UPDATE ON contacts FOR EACH ROW
BEGIN
	IF NEW.opted_out <> OLD.opted_out THEN
		UPDATE contact_tags SET opted_out = NEW.opted_out
		 WHERE contact_id = NEW.id;
	END IF;
END;

-- A campaign message's status change moves its recipient (status, and
-- the error when it failed) and the campaign's counters from the old
-- bucket to the new one, in the same transaction: queued and sending are
-- both "queued" to a campaign. Statuses never move backwards
-- (messages.sql), so each recipient is counted once, in its message's
-- current state. One row of campaign_counters per connection shard:
-- 0-15 for the API's connections, 16-31 for the spoolers'
-- (@wz_counter_shard, set by lib/db.c), so a spooler writing a run of
-- results in one transaction (holding its shard's row) and Meta's status
-- webhook (holding a message of that run, then wanting its own shard's
-- row) never wait for each other in a circle.
CREATE OR REPLACE TRIGGER messages_campaign
AFTER UPDATE ON messages FOR EACH ROW
BEGIN
	DECLARE v_old VARCHAR(16) CHARACTER SET ascii;
	DECLARE v_new VARCHAR(16) CHARACTER SET ascii;

	IF NEW.campaign_id IS NOT NULL AND NEW.status <> OLD.status THEN
		SET v_old = IF(OLD.status IN ('queued', 'sending'), 'queued',
		    OLD.status);
		SET v_new = IF(NEW.status IN ('queued', 'sending'), 'queued',
		    NEW.status);
		IF v_old <> v_new THEN
			UPDATE campaign_recipients
			   SET status = v_new,
			       error_code = IF(v_new = 'failed', NEW.error_code,
				   NULL),
			       error_title = IF(v_new = 'failed',
				   NEW.error_title, NULL),
			       error_message = IF(v_new = 'failed',
				   NEW.error_message, NULL),
			       updated_at = UTC_TIMESTAMP()
			 WHERE campaign_id = NEW.campaign_id AND
			       contact_id = NEW.contact_id;
			INSERT INTO campaign_counters (campaign_id, shard, queued,
			    sent, delivered, `read`, failed)
			VALUES (NEW.campaign_id,
			    COALESCE(@wz_counter_shard, CONNECTION_ID() % 16),
			    (v_new = 'queued') - (v_old = 'queued'),
			    (v_new = 'sent') - (v_old = 'sent'),
			    (v_new = 'delivered') - (v_old = 'delivered'),
			    (v_new = 'read') - (v_old = 'read'),
			    (v_new = 'failed') - (v_old = 'failed'))
			ON DUPLICATE KEY UPDATE queued = queued + VALUES(queued),
			    sent = sent + VALUES(sent),
			    delivered = delivered + VALUES(delivered),
			    `read` = `read` + VALUES(`read`),
			    failed = failed + VALUES(failed);
		END IF;
	END IF;
END;
