-- Outbound messages: queued by the API, sent or failed by the spooler, moved on by
-- the statuses of Meta's webhooks.
--
-- A routine file: re-applied by `wazera-admin migrate` whenever its text
-- changes (sql/README.md). Each routine here is its current version only.

-- Retired: a message's JSON is message_shapes' (shapes.sql); the
-- spooler's two results are one routine, wz_message_result.
DROP FUNCTION IF EXISTS wz_message_json;
DROP PROCEDURE IF EXISTS wz_message_sent;
DROP PROCEDURE IF EXISTS wz_message_failed;

-- Queues an outbound message: finds or creates the contact (with its
-- contact.created event) and its open conversation on the account (with
-- conversation.created), then inserts the message. Answers the message's
-- JSON.
--
-- No locking read ever looks for a row that may not exist: such reads take
-- gap locks, and two first sends to different new numbers would then
-- deadlock on their inserts. Existing rows are found by plain reads, new
-- ones are inserted with IGNORE (which waits for a racing insert of the
-- same key and then yields), and only the loser of such a race reads the
-- winner's row with a shared lock.
CREATE OR REPLACE PROCEDURE wz_message_queue(
	IN p_tenant BIGINT UNSIGNED, IN p_account BIGINT UNSIGNED,
	IN p_phone VARCHAR(16), IN p_type VARCHAR(16), IN p_content MEDIUMTEXT,
	IN p_now DATETIME, IN p_now_ms DATETIME(3), IN p_trigrams MEDIUMTEXT)
BEGIN
	DECLARE v_contact BIGINT UNSIGNED DEFAULT NULL;
	DECLARE v_conv BIGINT UNSIGNED DEFAULT NULL;
	DECLARE v_msg BIGINT UNSIGNED;
	DECLARE v_json MEDIUMTEXT;
	DECLARE CONTINUE HANDLER FOR NOT FOUND BEGIN END;

	SELECT id INTO v_contact FROM contacts
	 WHERE tenant_id = p_tenant AND phone = p_phone;
	IF v_contact IS NULL THEN
		INSERT IGNORE INTO contacts (tenant_id, name, phone, email, tags,
		    custom_fields, opted_out, created_at, updated_at)
		VALUES (p_tenant, NULL, p_phone, NULL, '[]', '{}', 0, p_now, p_now);
		IF ROW_COUNT() = 1 THEN
			SET v_contact = LAST_INSERT_ID();
			INSERT IGNORE INTO contact_trigrams (tenant_id, tri, contact_id)
			SELECT p_tenant, j.tri, v_contact FROM JSON_TABLE(p_trigrams,
			    '$[*]' COLUMNS (tri VARCHAR(3) PATH '$')) j;
			SELECT json INTO v_json FROM contact_shapes
			 WHERE id = v_contact;
			CALL wz_event_emit(p_tenant, 'contact.created', v_json);
			INSERT INTO tenant_counters (tenant_id, contacts)
			VALUES (p_tenant, 1)
			    ON DUPLICATE KEY UPDATE contacts = contacts + 1;
		ELSE
			SELECT id INTO v_contact FROM contacts
			 WHERE tenant_id = p_tenant AND phone = p_phone
			  LOCK IN SHARE MODE;
		END IF;
	END IF;

	SELECT id INTO v_conv FROM conversations
	 WHERE contact_id = v_contact AND whatsapp_account_id = p_account
	   AND open_marker = 1;
	IF v_conv IS NOT NULL THEN
		UPDATE conversations SET last_message_at = p_now, updated_at = p_now
		 WHERE id = v_conv AND open_marker = 1;
		IF ROW_COUNT() = 0 THEN
			SET v_conv = NULL;	/* closed meanwhile */
		END IF;
	END IF;
	IF v_conv IS NULL THEN
		INSERT IGNORE INTO conversations (tenant_id, contact_id,
		    whatsapp_account_id, status, last_message_at, created_at,
		    updated_at)
		VALUES (p_tenant, v_contact, p_account, 'open', p_now, p_now, p_now);
		IF ROW_COUNT() = 1 THEN
			SET v_conv = LAST_INSERT_ID();
			SELECT json INTO v_json FROM conversation_shapes
			 WHERE id = v_conv;
			CALL wz_event_emit(p_tenant, 'conversation.created', v_json);
		ELSE
			SELECT id INTO v_conv FROM conversations
			 WHERE contact_id = v_contact AND whatsapp_account_id = p_account
			   AND open_marker = 1 LOCK IN SHARE MODE;
		END IF;
	END IF;
	INSERT INTO messages (tenant_id, conversation_id, contact_id,
	    whatsapp_account_id, direction, type, to_phone, content, status,
	    next_attempt_at, accepted_at, created_at, updated_at)
	VALUES (p_tenant, v_conv, v_contact, p_account, 'outbound', p_type,
	    p_phone, p_content, 'queued', p_now_ms, p_now_ms, p_now, p_now);
	SET v_msg = LAST_INSERT_ID();
	SELECT json FROM message_shapes WHERE id = v_msg;
END;

-- The spooler's result for a message it sent: p_result 'sent' (Meta
-- accepted it: the wamid stored and the message sent, unless a status
-- webhook already moved it further, when only the wamid and the time are
-- kept) or 'failed' (a permanent failure, with Meta's error, unless the
-- message already moved on). message.sent or message.failed is recorded
-- when the message takes that status here. Returns the status it has now.
CREATE OR REPLACE PROCEDURE wz_message_result(IN p_id BIGINT UNSIGNED,
	IN p_result VARCHAR(16), IN p_wamid VARCHAR(255), IN p_code INT,
	IN p_title VARCHAR(255), IN p_message TEXT)
BEGIN
	DECLARE v_status VARCHAR(16) DEFAULT NULL;
	DECLARE v_tenant BIGINT UNSIGNED;
	DECLARE v_json MEDIUMTEXT;
	DECLARE CONTINUE HANDLER FOR NOT FOUND BEGIN END;

	SELECT status, tenant_id INTO v_status, v_tenant FROM messages
	 WHERE id = p_id FOR UPDATE;
	IF v_status IN ('queued', 'sending') THEN
		IF p_result = 'sent' THEN
			UPDATE messages SET status = 'sent', wamid = p_wamid,
			    sent_at = NOW(3), sending_since = NULL,
			    error_code = NULL, error_title = NULL,
			    error_message = NULL, updated_at = UTC_TIMESTAMP()
			 WHERE id = p_id;
		ELSE
			UPDATE messages SET status = 'failed', sending_since = NULL,
			    error_code = p_code, error_title = p_title,
			    error_message = p_message, updated_at = UTC_TIMESTAMP()
			 WHERE id = p_id;
		END IF;
		SET v_status = p_result;
		SELECT json INTO v_json FROM message_shapes WHERE id = p_id;
		CALL wz_event_emit(v_tenant, IF(p_result = 'sent', 'message.sent',
		    'message.failed'), v_json);
	ELSEIF v_status IS NOT NULL AND p_result = 'sent' THEN
		UPDATE messages SET wamid = COALESCE(wamid, p_wamid),
		    sent_at = COALESCE(sent_at, NOW(3)), sending_since = NULL
		 WHERE id = p_id;
	END IF;
	SELECT v_status;
END;

-- The order a message's status may only move forward in.
CREATE OR REPLACE FUNCTION wz_status_rank(p_status VARCHAR(16))
RETURNS TINYINT DETERMINISTIC
RETURN CASE p_status WHEN 'queued' THEN 0 WHEN 'sending' THEN 1
	WHEN 'sent' THEN 2 WHEN 'delivered' THEN 3 WHEN 'read' THEN 4
	ELSE 5 END;

-- Applies one status (sent, delivered, read, failed; played counts as
-- read) to the outbound message it names: by wamid, or, for a message a
-- crash left being sent, by the id the spooler put in
-- biz_opaque_callback_data ("wz:<id>", passed here as p_callback_id). A
-- status never moves a message backwards; failed is recorded after sent or
-- delivered (Meta's asynchronous failures) but never after read, and
-- nothing follows failed. The matching event is written with the change.
-- Returns the status the message has now (NULL if no message matched).
--
-- The wamid parameter is ASCII, like messages.wamid: a utf8mb4 one
-- compared with the column converted the column, and the lookup could not
-- use messages_wamid.
CREATE OR REPLACE PROCEDURE wz_status_apply(
	IN p_account BIGINT UNSIGNED,
	IN p_wamid VARCHAR(255) CHARACTER SET ascii,
	IN p_callback_id BIGINT UNSIGNED, IN p_status VARCHAR(16),
	IN p_code INT, IN p_title VARCHAR(255), IN p_message TEXT)
BEGIN
	DECLARE v_id BIGINT UNSIGNED DEFAULT NULL;
	DECLARE v_found BIGINT UNSIGNED DEFAULT NULL;
	DECLARE v_cur VARCHAR(16);
	DECLARE v_tenant BIGINT UNSIGNED;
	DECLARE v_new VARCHAR(16) DEFAULT p_status;
	DECLARE v_json MEDIUMTEXT;
	DECLARE CONTINUE HANDLER FOR NOT FOUND BEGIN END;

	IF v_new = 'played' THEN SET v_new = 'read'; END IF;
	-- The message is found by a plain read and only its row is locked:
	-- a locking read of a wamid not stored yet would lock the gap in
	-- messages_wamid where the spooler, holding the message's row, is
	-- about to write it (Meta's "sent" status often arrives before the
	-- spooler has recorded Meta's answer), and the two would deadlock.
	SELECT id INTO v_found FROM messages
	 WHERE wamid = p_wamid AND whatsapp_account_id = p_account
	   AND direction = 'outbound';
	IF v_found IS NOT NULL THEN
		SELECT id, status, tenant_id INTO v_id, v_cur, v_tenant
		  FROM messages WHERE id = v_found AND wamid = p_wamid
		   FOR UPDATE;
	END IF;
	IF v_id IS NULL AND p_callback_id IS NOT NULL THEN
		SELECT id, status, tenant_id INTO v_id, v_cur, v_tenant
		  FROM messages WHERE id = p_callback_id
		   AND whatsapp_account_id = p_account AND direction = 'outbound'
		   AND (wamid IS NULL OR wamid = p_wamid) FOR UPDATE;
	END IF;
	IF v_id IS NULL AND p_callback_id IS NULL THEN
		-- No id to go by (a status of a message sent before callback
		-- ids, or by another program): the committed rows decide.
		SELECT id, status, tenant_id INTO v_id, v_cur, v_tenant
		  FROM messages WHERE wamid = p_wamid
		   AND whatsapp_account_id = p_account
		   AND direction = 'outbound' FOR UPDATE;
	END IF;
	IF v_id IS NOT NULL AND v_cur <> 'failed' AND (
	    (v_new = 'failed' AND v_cur <> 'read') OR
	    (v_new <> 'failed' AND wz_status_rank(v_new) > wz_status_rank(v_cur)))
	THEN
		UPDATE messages SET status = v_new, wamid = COALESCE(wamid, p_wamid),
		    sending_since = NULL,
		    sent_at = IF(sent_at IS NULL AND v_new <> 'failed', NOW(3), sent_at),
		    error_code = IF(v_new = 'failed', p_code, error_code),
		    error_title = IF(v_new = 'failed', p_title, error_title),
		    error_message = IF(v_new = 'failed', p_message, error_message),
		    updated_at = UTC_TIMESTAMP()
		 WHERE id = v_id;
		SELECT json INTO v_json FROM message_shapes WHERE id = v_id;
		CALL wz_event_emit(v_tenant, CASE v_new
		    WHEN 'sent' THEN 'message.sent'
		    WHEN 'delivered' THEN 'message.delivered'
		    WHEN 'read' THEN 'message.read'
		    ELSE 'message.failed' END, v_json);
		SET v_cur = v_new;
	END IF;
	SELECT v_cur;
END;
