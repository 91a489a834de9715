-- Campaigns: the spooler's expansion (app/spooler/queue_campaign.c). The
-- spooler holding a campaign's lease (campaigns.lease_holder) starts it,
-- snapshots its audience into campaign_recipients, queues the recipients'
-- messages, completes it, or parks a stopped one, each batch one short
-- transaction of the caller's with one call of these routines.
--
-- A routine file: re-applied by `wazera-admin migrate` whenever its text
-- changes (sql/README.md). Each routine here is its current version only.
--
-- Exactly once, three times over: a batch locks the campaign's row (FOR
-- UPDATE) and goes on only if the caller still holds the lease, and reads
-- its cursor there, under the lock, so a batch replayed by another
-- spooler (after a kill -9, a lost lease) starts where the last committed
-- one ended; and messages_campaign (UNIQUE (campaign_id, contact_id))
-- keeps a second message for a contact out whatever happens.
--
-- Every batch routine answers one row: (outcome, n, cursor): outcome is
-- the campaign's phase after the batch, or 'lost' when the lease is not
-- the caller's (nothing done); n the rows the batch took (recipients,
-- messages, parked); cursor the contact id it got to.
--
-- The API's cancel sets status and phase under the same row lock, so it
-- falls between two batches; the batches look at both.

-- A campaign stopped or finished while its phase still says there is
-- expansion work (a status changed by hand, by an old version, or at a
-- moment no routine foresaw) is brought to the phase its status means: a
-- cancelled or failed one parks its queued messages, a completed one is
-- done. Under the caller's lock on the campaign row.
CREATE OR REPLACE PROCEDURE wz_campaign_settle(IN p_id BIGINT UNSIGNED,
	IN p_status VARCHAR(16), INOUT p_phase VARCHAR(16))
BEGIN
	IF p_status IN ('cancelled', 'failed') AND
	    p_phase IN ('snapshot', 'queue', 'sending') THEN
		SET p_phase = 'parking';
		UPDATE campaigns SET phase = p_phase WHERE id = p_id;
	ELSEIF p_status = 'completed' AND p_phase <> 'done' THEN
		SET p_phase = 'done';
		UPDATE campaigns SET phase = p_phase WHERE id = p_id;
	END IF;
END;

-- A batch of the snapshot: the next p_batch contacts (about: a filter of
-- several tags may take fewer) of the segment's audience after
-- snapshot_cursor, in contact id order, with their phone now; the
-- counters' total and queued grow by as many (this connection's shard).
-- The last batch moves the campaign to phase 'queue'.
--
-- The audience (issue 12 design): no tags, every contact not opted out
-- (contacts_audience); tags, the contacts with any (or all) of them, read
-- from contact_tags alone (opted_out mirrors the contact's). A batch of a
-- tag filter reads bounded ranges of the tags' primary key: the range
-- ends at U, the smallest of the tags' k-th entry after the cursor (k =
-- p_batch / tags, rounded up, so the batch holds at most about p_batch
-- contacts; for "all" k = p_batch, a match being in every tag); every
-- match in (cursor, U] is taken, and the cursor moves to U. No tag with k
-- entries left: the rest is the last batch. "any" (and one tag) inserts
-- tag by tag, each a range of the primary key; "all" of several tags
-- joins the tags (JSON_TABLE) and groups, which reads each tag's entries
-- from its first to U (more per batch the further the snapshot got).
CREATE OR REPLACE PROCEDURE wz_campaign_snapshot(IN p_id BIGINT UNSIGNED,
	IN p_holder VARCHAR(128), IN p_batch INT UNSIGNED)
BEGIN
	DECLARE v_tenant BIGINT UNSIGNED;
	DECLARE v_status VARCHAR(16) DEFAULT NULL;
	DECLARE v_phase VARCHAR(16);
	DECLARE v_holder VARCHAR(128);
	DECLARE v_cursor BIGINT UNSIGNED;
	DECLARE v_segment BIGINT UNSIGNED;
	DECLARE v_tags TEXT DEFAULT NULL;
	DECLARE v_all TINYINT DEFAULT 0;
	DECLARE v_ntags INT;
	DECLARE v_k INT;
	DECLARE v_i INT DEFAULT 0;
	DECLARE v_tag VARCHAR(64) CHARACTER SET utf8mb4
	    COLLATE utf8mb4_nopad_bin;
	DECLARE v_at BIGINT UNSIGNED;
	DECLARE v_end BIGINT UNSIGNED DEFAULT 18446744073709551615;
	DECLARE v_last BOOLEAN DEFAULT TRUE;
	DECLARE v_n INT DEFAULT 0;
	DECLARE v_max BIGINT UNSIGNED;
	DECLARE CONTINUE HANDLER FOR NOT FOUND BEGIN END;

	SELECT tenant_id, status, phase, lease_holder, snapshot_cursor,
	    segment_id
	  INTO v_tenant, v_status, v_phase, v_holder, v_cursor, v_segment
	  FROM campaigns WHERE id = p_id FOR UPDATE;
	IF NOT (v_holder <=> p_holder) THEN
		SELECT 'lost', 0, 0;
	ELSEIF v_status <> 'running' OR v_phase <> 'snapshot' THEN
		CALL wz_campaign_settle(p_id, v_status, v_phase);
		SELECT v_phase, 0, v_cursor;
	ELSE
		SELECT tags, match_all INTO v_tags, v_all FROM segments
		 WHERE id = v_segment AND tenant_id = v_tenant;
		SET v_ntags = COALESCE(JSON_LENGTH(v_tags), -1);
		IF v_ntags = 0 THEN
			INSERT INTO campaign_recipients (campaign_id, contact_id,
			    phone, status, updated_at)
			SELECT p_id, c.id, c.phone, 'queued', UTC_TIMESTAMP()
			  FROM contacts c
			 WHERE c.tenant_id = v_tenant AND c.opted_out = 0 AND
			    c.id > v_cursor
			 ORDER BY c.id LIMIT p_batch;
			SET v_n = ROW_COUNT();
			SET v_last = v_n < p_batch;
		ELSEIF v_ntags > 0 THEN
			SET v_k = IF(v_all, p_batch, CEIL(p_batch / v_ntags)) - 1;
			WHILE v_i < v_ntags DO
				SET v_tag = JSON_VALUE(v_tags,
				    CONCAT('$[', v_i, ']'));
				SET v_at = NULL;
				SELECT contact_id INTO v_at FROM contact_tags
				 WHERE tenant_id = v_tenant AND tag = v_tag AND
				    opted_out = 0 AND contact_id > v_cursor
				 ORDER BY contact_id LIMIT v_k, 1;
				IF v_at IS NOT NULL AND v_at < v_end THEN
					SET v_end = v_at;
					SET v_last = FALSE;
				END IF;
				SET v_i = v_i + 1;
			END WHILE;
			IF v_all AND v_ntags > 1 THEN
				INSERT INTO campaign_recipients (campaign_id, contact_id,
				    phone, status, updated_at)
				SELECT p_id, c.id, c.phone, 'queued', UTC_TIMESTAMP()
				  FROM (SELECT t.contact_id FROM contact_tags t
					  JOIN JSON_TABLE(v_tags, '$[*]' COLUMNS (tag
					    VARCHAR(64) CHARACTER SET utf8mb4 COLLATE
					    utf8mb4_nopad_bin PATH '$')) j ON t.tag = j.tag
					 WHERE t.tenant_id = v_tenant AND
					    t.opted_out = 0 AND t.contact_id > v_cursor AND
					    t.contact_id <= v_end
					 GROUP BY t.contact_id
					HAVING COUNT(*) >= IF(v_all, v_ntags, 1)) x
				  JOIN contacts c ON c.id = x.contact_id AND
				    c.tenant_id = v_tenant
				 ORDER BY c.id;
				SET v_n = ROW_COUNT();
			ELSE
				-- Tag by tag: a range of the primary key each
				-- (a join with the JSON_TABLE reads every entry
				-- of a tag from its first, then filters).
				SET v_i = 0;
				WHILE v_i < v_ntags DO
					SET v_tag = JSON_VALUE(v_tags,
					    CONCAT('$[', v_i, ']'));
					INSERT INTO campaign_recipients (campaign_id,
					    contact_id, phone, status, updated_at)
					SELECT p_id, c.id, c.phone, 'queued',
					    UTC_TIMESTAMP()
					  FROM contact_tags t
					  JOIN contacts c ON c.id = t.contact_id AND
					    c.tenant_id = v_tenant
					 WHERE t.tenant_id = v_tenant AND
					    t.tag = v_tag AND t.opted_out = 0 AND
					    t.contact_id > v_cursor AND
					    t.contact_id <= v_end AND NOT EXISTS
					    (SELECT 1 FROM campaign_recipients x
					    WHERE x.campaign_id = p_id AND
					    x.contact_id = t.contact_id)
					 ORDER BY t.contact_id;
					SET v_n = v_n + ROW_COUNT();
					SET v_i = v_i + 1;
				END WHILE;
			END IF;
		END IF;
		-- (A segment that is gone, which a running campaign's cannot
		-- be: no audience.)
		IF v_n > 0 THEN
			INSERT INTO campaign_counters (campaign_id, shard, total,
			    queued)
			VALUES (p_id, COALESCE(@wz_counter_shard,
			    CONNECTION_ID() % 16), v_n, v_n)
			ON DUPLICATE KEY UPDATE total = total + VALUES(total),
			    queued = queued + VALUES(queued);
		END IF;
		IF v_ntags > 0 AND NOT v_last THEN
			SET v_cursor = v_end;
		ELSEIF v_n > 0 THEN
			SELECT MAX(contact_id) INTO v_max FROM campaign_recipients
			 WHERE campaign_id = p_id;
			SET v_cursor = v_max;
		END IF;
		SET v_phase = IF(v_last, 'queue', 'snapshot');
		UPDATE campaigns SET snapshot_cursor = v_cursor, phase = v_phase
		 WHERE id = p_id;
		SELECT v_phase, v_n, v_cursor;
	END IF;
END;

-- A batch of the queueing: the next p_batch recipients after
-- queue_cursor (those snapshotted so far: the spooler alternates the two
-- while the snapshot runs, so sends start after its first batch), all in
-- set-based statements:
--   - the contacts without an open conversation on the campaign's
--     account get one (INSERT IGNORE: one a racing send opened wins),
--     marked opened_by_batch = the campaign's id: a campaign queues a
--     contact once, so the mark tells this batch's conversations from a
--     racing send's (NULL) and from another campaign's; their
--     conversation.created events are written from conversation_shapes,
--     with the event id rule of wz_event_record (wz_event_uuid, here of
--     a salt made once per batch and the conversation's id, so the
--     fan-out finds each event again by its uuid), and fanned out to the
--     tenant's subscribed webhooks as wz_event_emit does;
--   - the other open conversations' last_message_at moves on;
--   - the messages are inserted as POST /messages/send stores a template
--     (wz_message_queue): to the contact's phone now, p_content (the
--     campaign's template, its placeholders filled at send time), queued,
--     accepted and due now; plus campaign_id and lane 1. A message the
--     unique key finds there already is kept;
--   - the recipients get their message ids; one left without (its
--     contact was deleted) fails (131026), the counters moving it from
--     queued to failed;
--   - the cursor moves.
-- In phase 'queue' the last batch moves the campaign to 'sending'.
CREATE OR REPLACE PROCEDURE wz_campaign_queue(IN p_id BIGINT UNSIGNED,
	IN p_holder VARCHAR(128), IN p_batch INT UNSIGNED,
	IN p_content MEDIUMTEXT)
BEGIN
	DECLARE v_tenant BIGINT UNSIGNED;
	DECLARE v_account BIGINT UNSIGNED;
	DECLARE v_status VARCHAR(16) DEFAULT NULL;
	DECLARE v_phase VARCHAR(16);
	DECLARE v_holder VARCHAR(128);
	DECLARE v_cursor BIGINT UNSIGNED;
	DECLARE v_hi BIGINT UNSIGNED;
	DECLARE v_n INT DEFAULT 0;
	DECLARE v_gone INT DEFAULT 0;
	DECLARE v_opened INT DEFAULT 0;
	DECLARE v_ms DATETIME(3);
	DECLARE v_now DATETIME;
	DECLARE v_salt VARCHAR(128) CHARACTER SET ascii;
	DECLARE CONTINUE HANDLER FOR NOT FOUND BEGIN END;

	SELECT tenant_id, whatsapp_account_id, status, phase, lease_holder,
	    queue_cursor
	  INTO v_tenant, v_account, v_status, v_phase, v_holder, v_cursor
	  FROM campaigns WHERE id = p_id FOR UPDATE;
	IF NOT (v_holder <=> p_holder) THEN
		SELECT 'lost', 0, 0;
	ELSEIF v_status <> 'running' OR v_phase NOT IN ('snapshot', 'queue')
	THEN
		CALL wz_campaign_settle(p_id, v_status, v_phase);
		SELECT v_phase, 0, v_cursor;
	ELSE
		SELECT COUNT(*), MAX(b.contact_id) INTO v_n, v_hi
		  FROM (SELECT contact_id FROM campaign_recipients
			 WHERE campaign_id = p_id AND contact_id > v_cursor
			 ORDER BY contact_id LIMIT p_batch) b;
		IF v_n > 0 THEN
			SET v_ms = UTC_TIMESTAMP(3);
			SET v_now = v_ms - INTERVAL MICROSECOND(v_ms) MICROSECOND;

			INSERT IGNORE INTO conversations (tenant_id, contact_id,
			    whatsapp_account_id, status, last_message_at,
			    created_at, updated_at, opened_by_batch)
			SELECT v_tenant, c.id, v_account, 'open', v_now, v_now,
			    v_now, p_id
			  FROM campaign_recipients r
			  JOIN contacts c ON c.id = r.contact_id AND
			    c.tenant_id = v_tenant
			 WHERE r.campaign_id = p_id AND r.contact_id > v_cursor AND
			    r.contact_id <= v_hi AND r.status = 'queued' AND
			    r.message_id IS NULL AND NOT EXISTS (SELECT 1 FROM
			    conversations o WHERE o.contact_id = c.id AND
			    o.whatsapp_account_id = v_account AND
			    o.open_marker = 1)
			 ORDER BY c.id;
			SET v_opened = ROW_COUNT();
			IF v_opened > 0 THEN
				SET v_salt = CONCAT(UUID(), ':', RAND());
				INSERT INTO events (uuid, tenant_id, type, data,
				    created_at)
				SELECT wz_event_uuid(CONCAT(v_salt, ':', o.id)),
				    v_tenant, 'conversation.created', v.json,
				    UTC_TIMESTAMP()
				  FROM campaign_recipients r
				  JOIN conversations o ON o.contact_id = r.contact_id
				    AND o.whatsapp_account_id = v_account AND
				    o.open_marker = 1 AND o.opened_by_batch = p_id
				  JOIN conversation_shapes v ON v.id = o.id
				 WHERE r.campaign_id = p_id AND
				    r.contact_id > v_cursor AND
				    r.contact_id <= v_hi AND r.status = 'queued' AND
				    r.message_id IS NULL;
				IF EXISTS (SELECT 1 FROM webhooks w
				    WHERE w.tenant_id = v_tenant AND
				    w.status <> 'deleted' AND
				    FIND_IN_SET('conversation.created', w.events) > 0)
				THEN
					INSERT INTO webhook_deliveries (tenant_id,
					    webhook_id, event_id, status, last_error,
					    next_attempt_at, round_started_at,
					    created_at, updated_at)
					SELECT v_tenant, w.id, e.id,
					    IF(w.status = 'active', 'pending',
					    'failed'), IF(w.status = 'active', NULL,
					    'Not delivered: the webhook is disabled'),
					    IF(w.status = 'active', NOW(3), NULL),
					    NOW(3), UTC_TIMESTAMP(), UTC_TIMESTAMP()
					  FROM campaign_recipients r
					  JOIN conversations o ON
					    o.contact_id = r.contact_id AND
					    o.whatsapp_account_id = v_account AND
					    o.open_marker = 1 AND
					    o.opened_by_batch = p_id
					  JOIN events e ON e.uuid = wz_event_uuid(
					    CONCAT(v_salt, ':', o.id))
					  JOIN webhooks w ON w.tenant_id = v_tenant
					    AND w.status <> 'deleted' AND
					    FIND_IN_SET('conversation.created',
					    w.events) > 0
					 WHERE r.campaign_id = p_id AND
					    r.contact_id > v_cursor AND
					    r.contact_id <= v_hi AND
					    r.status = 'queued' AND
					    r.message_id IS NULL
					 ORDER BY e.id, w.id;
				END IF;
			END IF;
			-- (None is left when the batch opened one for each.)
			IF v_opened < v_n THEN
				UPDATE conversations o
				  JOIN campaign_recipients r ON
				    o.contact_id = r.contact_id
				   SET o.last_message_at = v_now,
				       o.updated_at = v_now
				 WHERE r.campaign_id = p_id AND
				    r.contact_id > v_cursor AND
				    r.contact_id <= v_hi AND r.status = 'queued' AND
				    r.message_id IS NULL AND
				    o.whatsapp_account_id = v_account AND
				    o.open_marker = 1 AND
				    NOT (o.opened_by_batch <=> p_id);
			END IF;

			INSERT INTO messages (tenant_id, conversation_id,
			    contact_id, whatsapp_account_id, direction, type,
			    to_phone, content, status, next_attempt_at,
			    accepted_at, created_at, updated_at, campaign_id, lane)
			SELECT v_tenant, o.id, c.id, v_account, 'outbound',
			    'template', c.phone, p_content, 'queued', v_ms, v_ms,
			    v_now, v_now, p_id, 1
			  FROM campaign_recipients r
			  JOIN contacts c ON c.id = r.contact_id AND
			    c.tenant_id = v_tenant
			  JOIN conversations o ON o.contact_id = c.id AND
			    o.whatsapp_account_id = v_account AND
			    o.open_marker = 1
			 WHERE r.campaign_id = p_id AND r.contact_id > v_cursor AND
			    r.contact_id <= v_hi AND r.status = 'queued' AND
			    r.message_id IS NULL
			 ORDER BY c.id
			ON DUPLICATE KEY UPDATE campaign_id = VALUES(campaign_id);
			UPDATE campaign_recipients r
			  JOIN messages m ON m.campaign_id = p_id AND
			    m.contact_id = r.contact_id AND
			    m.contact_id > v_cursor AND m.contact_id <= v_hi
			   SET r.message_id = m.id, r.updated_at = v_now
			 WHERE r.campaign_id = p_id AND r.contact_id > v_cursor AND
			    r.contact_id <= v_hi AND r.message_id IS NULL;
			IF ROW_COUNT() < v_n THEN
				UPDATE campaign_recipients r
				  LEFT JOIN contacts c ON c.id = r.contact_id
				   SET r.status = 'failed', r.error_code = 131026,
				       r.error_title = 'Contact deleted',
				       r.error_message = 'The contact was deleted before the message was sent.',
				       r.updated_at = v_now
				 WHERE r.campaign_id = p_id AND r.contact_id > v_cursor AND
				    r.contact_id <= v_hi AND r.status = 'queued' AND
				    r.message_id IS NULL AND c.id IS NULL;
				SET v_gone = ROW_COUNT();
				IF v_gone > 0 THEN
					INSERT INTO campaign_counters (campaign_id,
					    shard, queued, failed)
					VALUES (p_id, COALESCE(@wz_counter_shard,
					    CONNECTION_ID() % 16), -v_gone, v_gone)
					ON DUPLICATE KEY UPDATE
					    queued = queued + VALUES(queued),
					    failed = failed + VALUES(failed);
				END IF;
			END IF;
			SET v_cursor = v_hi;
		END IF;
		IF v_phase = 'queue' AND v_n < p_batch THEN
			SET v_phase = 'sending';
		END IF;
		UPDATE campaigns SET queue_cursor = v_cursor, phase = v_phase
		 WHERE id = p_id;
		SELECT v_phase, v_n, v_cursor;
	END IF;
END;

-- Retired: campaign.completed's data is campaign_shapes' (shapes.sql).
DROP FUNCTION IF EXISTS wz_campaign_json;

-- Completion: in phase 'sending', once no recipient is queued (the
-- counters: queued never grows after the snapshot, statuses never move
-- back), the campaign is completed and campaign.completed emitted, in
-- this one transaction; the update matches once, so the event is emitted
-- once, whoever calls.
CREATE OR REPLACE PROCEDURE wz_campaign_complete(IN p_id BIGINT UNSIGNED,
	IN p_holder VARCHAR(128))
BEGIN
	DECLARE v_tenant BIGINT UNSIGNED;
	DECLARE v_status VARCHAR(16) DEFAULT NULL;
	DECLARE v_phase VARCHAR(16);
	DECLARE v_holder VARCHAR(128);
	DECLARE v_queued BIGINT DEFAULT 0;
	DECLARE v_done INT DEFAULT 0;
	DECLARE v_json MEDIUMTEXT;
	DECLARE CONTINUE HANDLER FOR NOT FOUND BEGIN END;

	SELECT tenant_id, status, phase, lease_holder
	  INTO v_tenant, v_status, v_phase, v_holder
	  FROM campaigns WHERE id = p_id FOR UPDATE;
	IF NOT (v_holder <=> p_holder) THEN
		SELECT 'lost', 0, 0;
	ELSE
		CALL wz_campaign_settle(p_id, v_status, v_phase);
		IF v_status = 'running' AND v_phase = 'sending' THEN
			SELECT COALESCE(SUM(queued), 0) INTO v_queued
			  FROM campaign_counters WHERE campaign_id = p_id;
			IF v_queued = 0 THEN
				UPDATE campaigns SET status = 'completed',
				    phase = 'done', finished_at = NOW(3),
				    updated_at = UTC_TIMESTAMP()
				 WHERE id = p_id AND status = 'running' AND
				    phase = 'sending';
				IF ROW_COUNT() = 1 THEN
					SELECT json INTO v_json
					  FROM campaign_shapes WHERE id = p_id;
					CALL wz_event_emit(v_tenant,
					    'campaign.completed', v_json);
					SET v_phase = 'done';
					SET v_done = 1;
				END IF;
			END IF;
		END IF;
		SELECT v_phase, v_done, 0;
	END IF;
END;

-- A batch of the parking of a stopped campaign (phase 'parking':
-- cancelled, or failed on a campaign-level error): the queued messages of
-- the next p_batch queued recipients after p_after (contact ids) leave the
-- send queue: lane 2, never claimed, status still queued (the campaign's
-- status says why). A message being sent finishes normally. The cursor is
-- the caller's (parking again from the start is harmless); the last batch
-- moves the campaign to phase 'done'.
CREATE OR REPLACE PROCEDURE wz_campaign_park(IN p_id BIGINT UNSIGNED,
	IN p_holder VARCHAR(128), IN p_after BIGINT UNSIGNED,
	IN p_batch INT UNSIGNED)
BEGIN
	DECLARE v_phase VARCHAR(16) DEFAULT NULL;
	DECLARE v_holder VARCHAR(128);
	DECLARE v_n INT DEFAULT 0;
	DECLARE v_hi BIGINT UNSIGNED;
	DECLARE CONTINUE HANDLER FOR NOT FOUND BEGIN END;

	SELECT phase, lease_holder INTO v_phase, v_holder
	  FROM campaigns WHERE id = p_id FOR UPDATE;
	IF NOT (v_holder <=> p_holder) THEN
		SELECT 'lost', 0, 0;
	ELSEIF v_phase <> 'parking' THEN
		SELECT v_phase, 0, p_after;
	ELSE
		SELECT COUNT(*), MAX(b.contact_id) INTO v_n, v_hi
		  FROM (SELECT contact_id FROM campaign_recipients
			 WHERE campaign_id = p_id AND status = 'queued' AND
			    contact_id > p_after
			 ORDER BY contact_id LIMIT p_batch) b;
		IF v_n > 0 THEN
			UPDATE messages m
			  JOIN campaign_recipients r ON m.id = r.message_id
			   SET m.lane = 2
			 WHERE r.campaign_id = p_id AND r.status = 'queued' AND
			    r.contact_id > p_after AND r.contact_id <= v_hi AND
			    m.status = 'queued' AND m.lane = 1;
		END IF;
		IF v_n < p_batch THEN
			SET v_phase = 'done';
			UPDATE campaigns SET phase = 'done' WHERE id = p_id;
		END IF;
		SELECT v_phase, v_n, COALESCE(v_hi, p_after);
	END IF;
END;
