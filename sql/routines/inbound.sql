-- Inbound messages from Meta's webhooks.
--
-- A routine file: re-applied by `wazera-admin migrate` whenever its text
-- changes (sql/README.md). Each routine here is its current version only.

-- Stores one inbound message: a wamid already stored is ignored (Meta
-- delivers duplicates); the contact is found or created (with the profile
-- name, which also names a known contact without one), its open
-- conversation on the account found or opened (a closed one never
-- receives new messages), the message stored, the service window with
-- that account reopened, and an opt-out keyword applied (p_optout 1:
-- STOP/UNSUBSCRIBE, -1: START). Events: contact.created, contact.updated,
-- conversation.created, message.received, each with the resource as it is
-- when the event is recorded. Returns the message id, or NULL for a
-- duplicate. The contact row is updated only when its name or opt-out
-- changes, decided on its current values under its row lock (a snapshot
-- read could overwrite a name just given, or repeat a redelivery's
-- event); the wamid parameter is ASCII like messages.wamid (a utf8mb4 one
-- converted the column and lost the index: every lookup scanned the
-- account's messages).
CREATE OR REPLACE PROCEDURE wz_inbound_message(
	IN p_tenant BIGINT UNSIGNED, IN p_account BIGINT UNSIGNED,
	IN p_phone VARCHAR(16), IN p_profile VARCHAR(255),
	IN p_wamid VARCHAR(255) CHARACTER SET ascii, IN p_type VARCHAR(16),
	IN p_content MEDIUMTEXT,
	IN p_at DATETIME, IN p_trigrams MEDIUMTEXT, IN p_optout TINYINT,
	IN p_now DATETIME)
BEGIN
	DECLARE v_contact BIGINT UNSIGNED DEFAULT NULL;
	DECLARE v_conv BIGINT UNSIGNED DEFAULT NULL;
	DECLARE v_msg BIGINT UNSIGNED DEFAULT NULL;
	DECLARE v_dup BIGINT UNSIGNED DEFAULT NULL;
	DECLARE v_locked BIGINT UNSIGNED DEFAULT NULL;
	DECLARE v_opted TINYINT;
	DECLARE v_name VARCHAR(255);
	DECLARE v_json MEDIUMTEXT;
	DECLARE v_created, v_named, v_optout BOOLEAN DEFAULT FALSE;
	DECLARE CONTINUE HANDLER FOR NOT FOUND BEGIN END;

	-- A plain read: IF EXISTS (SELECT ...) would be a locking one, whose
	-- gap lock on a wamid not stored yet deadlocks racing inserts.
	SELECT id INTO v_dup FROM messages WHERE wamid = p_wamid;
	IF v_dup IS NOT NULL THEN
		SELECT NULL;
	ELSE
		-- The contact: found by a plain read, then locked by its primary
		-- key (a record lock, no gap), which reads its current values:
		-- a name an agent has just given, an opt-out a redelivery of this
		-- message has just applied. Deleted in between, or new: inserted,
		-- and on a racing insert of the same phone the winner's row is
		-- taken with an exclusive lock at once (ON DUPLICATE KEY), never
		-- a shared one to be upgraded (two such waiters deadlock).
		SELECT id INTO v_contact FROM contacts
		 WHERE tenant_id = p_tenant AND phone = p_phone;
		IF v_contact IS NOT NULL THEN
			SET v_locked = NULL;
			SELECT id, opted_out, name INTO v_locked, v_opted, v_name
			  FROM contacts WHERE id = v_contact FOR UPDATE;
			SET v_contact = v_locked;
		END IF;
		IF v_contact IS NULL THEN
			-- @wz_contact says which way it went (ROW_COUNT() cannot:
			-- with CLIENT_FOUND_ROWS a row found unchanged counts 1,
			-- as an insert does).
			SET @wz_contact = NULL;
			INSERT INTO contacts (tenant_id, name, phone, email,
			    tags, custom_fields, opted_out, created_at, updated_at)
			VALUES (p_tenant, p_profile, p_phone, NULL, '[]', '{}', 0,
			    p_now, p_now)
			    ON DUPLICATE KEY UPDATE id = (@wz_contact := id);
			IF @wz_contact IS NULL THEN
				SET v_contact = LAST_INSERT_ID();
				SET v_opted = 0;
				SET v_created = TRUE;
				INSERT IGNORE INTO contact_trigrams (tenant_id, tri,
				    contact_id)
				SELECT p_tenant, j.tri, v_contact FROM JSON_TABLE(
				    p_trigrams, '$[*]' COLUMNS (tri VARCHAR(3) PATH '$')) j;
				SELECT json INTO v_json FROM contact_shapes
				 WHERE id = v_contact;
				CALL wz_event_emit(p_tenant, 'contact.created',
				    v_json);
				INSERT INTO tenant_counters (tenant_id, contacts)
				VALUES (p_tenant, 1)
				    ON DUPLICATE KEY UPDATE contacts = contacts + 1;
			ELSE
				SET v_contact = @wz_contact;
				SELECT opted_out, name INTO v_opted, v_name
				  FROM contacts WHERE id = v_contact FOR UPDATE;
			END IF;
		END IF;
		SET v_optout = (p_optout = 1 AND v_opted = 0) OR
		    (p_optout = -1 AND v_opted = 1);
		SET v_named = NOT v_created AND v_name IS NULL AND
		    p_profile IS NOT NULL AND p_profile <> '';
		IF v_named OR v_optout THEN
			UPDATE contacts SET
			    name = IF(v_named, p_profile, name),
			    opted_out = IF(v_optout, p_optout = 1, opted_out),
			    updated_at = p_now
			 WHERE id = v_contact;
		END IF;
		-- The window with this number: from when the customer wrote, never
		-- moved back by a late delivery of an older message.
		INSERT INTO contact_windows (contact_id, whatsapp_account_id,
		    last_inbound_at)
		VALUES (v_contact, p_account, p_at)
		    ON DUPLICATE KEY UPDATE last_inbound_at = GREATEST(
			last_inbound_at, VALUES(last_inbound_at));
		IF v_named THEN
			INSERT IGNORE INTO contact_trigrams (tenant_id, tri,
			    contact_id)
			SELECT p_tenant, j.tri, v_contact FROM JSON_TABLE(
			    p_trigrams, '$[*]' COLUMNS (tri VARCHAR(3) PATH '$')) j;
		END IF;
		IF v_named OR v_optout THEN
			SELECT json INTO v_json FROM contact_shapes
			 WHERE id = v_contact;
			CALL wz_event_emit(p_tenant, 'contact.updated', v_json);
		END IF;

		SELECT id INTO v_conv FROM conversations
		 WHERE contact_id = v_contact AND whatsapp_account_id = p_account
		   AND open_marker = 1;
		IF v_conv IS NOT NULL THEN
			UPDATE conversations SET last_message_at = GREATEST(
			    COALESCE(last_message_at, p_at), p_at),
			    updated_at = p_now
			 WHERE id = v_conv AND open_marker = 1;
			IF ROW_COUNT() = 0 THEN SET v_conv = NULL; END IF;
		END IF;
		IF v_conv IS NULL THEN
			INSERT IGNORE INTO conversations (tenant_id, contact_id,
			    whatsapp_account_id, status, last_message_at, created_at,
			    updated_at)
			VALUES (p_tenant, v_contact, p_account, 'open', p_at,
			    p_now, p_now);
			IF ROW_COUNT() = 1 THEN
				SET v_conv = LAST_INSERT_ID();
				SELECT json INTO v_json FROM conversation_shapes
				 WHERE id = v_conv;
				CALL wz_event_emit(p_tenant, 'conversation.created',
				    v_json);
			ELSE
				SELECT id INTO v_conv FROM conversations
				 WHERE contact_id = v_contact
				   AND whatsapp_account_id = p_account
				   AND open_marker = 1 LOCK IN SHARE MODE;
			END IF;
		END IF;

		INSERT IGNORE INTO messages (tenant_id, conversation_id,
		    contact_id, whatsapp_account_id, direction, type, to_phone,
		    content, status, wamid, next_attempt_at, accepted_at,
		    created_at, updated_at)
		VALUES (p_tenant, v_conv, v_contact, p_account, 'inbound', p_type,
		    p_phone, p_content, 'received', p_wamid, NOW(3), NOW(3),
		    p_at, p_now);
		IF ROW_COUNT() = 1 THEN
			SET v_msg = LAST_INSERT_ID();
			SELECT json INTO v_json FROM message_shapes
			 WHERE id = v_msg;
			CALL wz_event_emit(p_tenant, 'message.received', v_json);
		END IF;
		SELECT v_msg;
	END IF;
END;
