-- WhatsApp accounts, conversations and the outbound message queue.

CREATE TABLE IF NOT EXISTS whatsapp_accounts (
	id		BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
	tenant_id	BIGINT UNSIGNED NOT NULL,
	phone_number_id	VARCHAR(64) CHARACTER SET ascii NOT NULL,
	waba_id		VARCHAR(64) CHARACTER SET ascii NOT NULL,
	display_phone	VARCHAR(16) CHARACTER SET ascii NOT NULL,
	-- libsodium secretbox under the master key: nonce then ciphertext.
	access_token_enc VARBINARY(4096) NOT NULL,
	app_secret_enc	VARBINARY(1024) NULL,
	mps		INT UNSIGNED NOT NULL DEFAULT 80,	-- messages per second
	-- The spooler driving this account (one at a time, across hosts).
	lease_holder	VARCHAR(128) NULL,
	lease_until	DATETIME(3) NULL,
	created_at	DATETIME NOT NULL,
	updated_at	DATETIME NOT NULL,
	UNIQUE KEY whatsapp_accounts_phone (phone_number_id),
	KEY whatsapp_accounts_tenant (tenant_id, id),
	CONSTRAINT whatsapp_accounts_tenant_fk FOREIGN KEY (tenant_id)
	    REFERENCES tenants (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_general_ci;

CREATE TABLE IF NOT EXISTS users (
	id		BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
	tenant_id	BIGINT UNSIGNED NOT NULL,
	name		VARCHAR(255) NOT NULL,
	email		VARCHAR(255) NOT NULL,
	created_at	DATETIME NOT NULL,
	updated_at	DATETIME NOT NULL,
	UNIQUE KEY users_email (tenant_id, email),
	KEY users_tenant (tenant_id, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_general_ci;

-- At most one conversation that is not closed per contact and account:
-- open_marker is 1 while open or pending and NULL once closed, and NULLs
-- never collide in the unique key.
CREATE TABLE IF NOT EXISTS conversations (
	id		BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
	tenant_id	BIGINT UNSIGNED NOT NULL,
	contact_id	BIGINT UNSIGNED NOT NULL,
	whatsapp_account_id BIGINT UNSIGNED NOT NULL,
	status		ENUM('open', 'pending', 'closed') NOT NULL DEFAULT 'open',
	assigned_to	BIGINT UNSIGNED NULL,
	last_message_at	DATETIME NULL,
	created_at	DATETIME NOT NULL,
	updated_at	DATETIME NOT NULL,
	open_marker	TINYINT AS (IF(status = 'closed', NULL, 1)) PERSISTENT,
	UNIQUE KEY conversations_open (contact_id, whatsapp_account_id, open_marker),
	KEY conversations_tenant (tenant_id, status, id),
	KEY conversations_assigned (tenant_id, assigned_to, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_general_ci;

-- Messages, inbound and outbound. Outbound ones are the spooler's queue:
-- queued -> sending -> sent -> delivered -> read, or failed; status_rank
-- orders them so updates never move a message backwards.
CREATE TABLE IF NOT EXISTS messages (
	id		BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
	tenant_id	BIGINT UNSIGNED NOT NULL,
	conversation_id	BIGINT UNSIGNED NOT NULL,
	contact_id	BIGINT UNSIGNED NOT NULL,
	whatsapp_account_id BIGINT UNSIGNED NOT NULL,
	direction	ENUM('inbound', 'outbound') NOT NULL,
	type		VARCHAR(16) CHARACTER SET ascii NOT NULL,
	to_phone	VARCHAR(16) CHARACTER SET ascii NOT NULL,
	content		MEDIUMTEXT NOT NULL,		-- JSON, as accepted
	status		ENUM('queued', 'sending', 'sent', 'delivered', 'read',
			    'failed', 'received') NOT NULL,
	wamid		VARCHAR(255) CHARACTER SET ascii NULL,
	error_code	INT NULL,
	error_title	VARCHAR(255) NULL,
	error_message	TEXT NULL,
	attempts	INT UNSIGNED NOT NULL DEFAULT 0,
	next_attempt_at	DATETIME(3) NOT NULL,
	sending_since	DATETIME(3) NULL,	-- set while a request is in flight
	accepted_at	DATETIME(3) NOT NULL,	-- when the API took it (ms)
	sent_at		DATETIME(3) NULL,	-- when Meta accepted it (ms)
	created_at	DATETIME NOT NULL,
	updated_at	DATETIME NOT NULL,
	UNIQUE KEY messages_wamid (wamid),
	KEY messages_queue (whatsapp_account_id, status, next_attempt_at),
	KEY messages_sending (status, sending_since),
	KEY messages_conversation (conversation_id, id),
	KEY messages_tenant (tenant_id, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_general_ci;

-- A message as the API shows it, for event data.
CREATE OR REPLACE FUNCTION wz_message_json(p_id BIGINT UNSIGNED)
RETURNS MEDIUMTEXT READS SQL DATA
RETURN (SELECT JSON_OBJECT(
	'id', m.id, 'conversation_id', m.conversation_id,
	'contact_id', m.contact_id, 'whatsapp_account_id', m.whatsapp_account_id,
	'direction', m.direction, 'type', m.type,
	'content', JSON_QUERY(m.content, '$'), 'status', m.status,
	'wamid', m.wamid,
	'error', IF(m.error_code IS NULL, NULL, JSON_OBJECT('code', m.error_code,
	    'title', m.error_title, 'message', m.error_message)),
	'created_at', DATE_FORMAT(m.created_at, '%Y-%m-%dT%H:%i:%sZ'),
	'updated_at', DATE_FORMAT(m.updated_at, '%Y-%m-%dT%H:%i:%sZ'))
	FROM messages m WHERE m.id = p_id);

-- Queues an outbound message: finds or creates the contact (with its
-- contact.created event) and its open conversation on the account (with
-- conversation.created), then inserts the message, all in one transaction.
-- p_contact_event and p_conv_event are the resources' JSON with ids to be
-- set here. Returns: message id, conversation id, contact id.
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
	IN p_now DATETIME, IN p_now_ms DATETIME(3), IN p_trigrams MEDIUMTEXT,
	IN p_contact_uuid CHAR(36), IN p_contact_event MEDIUMTEXT,
	IN p_conv_uuid CHAR(36), IN p_conv_event MEDIUMTEXT, IN p_own_tx TINYINT)
BEGIN
	DECLARE v_contact BIGINT UNSIGNED DEFAULT NULL;
	DECLARE v_conv BIGINT UNSIGNED DEFAULT NULL;
	DECLARE v_msg BIGINT UNSIGNED;
	DECLARE v_name VARCHAR(255) DEFAULT NULL;
	DECLARE CONTINUE HANDLER FOR NOT FOUND BEGIN END;
	DECLARE EXIT HANDLER FOR SQLEXCEPTION
	BEGIN
		IF p_own_tx THEN ROLLBACK; END IF;
		RESIGNAL;
	END;

	IF p_own_tx THEN START TRANSACTION; END IF;
	SELECT id, name INTO v_contact, v_name FROM contacts
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
			INSERT INTO events (uuid, tenant_id, type, data, created_at)
			VALUES (p_contact_uuid, p_tenant, 'contact.created',
			    JSON_SET(p_contact_event, '$.id', v_contact), p_now);
			INSERT INTO tenant_counters (tenant_id, contacts)
			VALUES (p_tenant, 1)
			    ON DUPLICATE KEY UPDATE contacts = contacts + 1;
		ELSE
			SELECT id, name INTO v_contact, v_name FROM contacts
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
			INSERT INTO events (uuid, tenant_id, type, data, created_at)
			VALUES (p_conv_uuid, p_tenant, 'conversation.created',
			    JSON_SET(p_conv_event, '$.id', v_conv,
			    '$.contact.id', v_contact, '$.contact.name', v_name), p_now);
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
	IF p_own_tx THEN COMMIT; END IF;
	SELECT v_msg, v_conv, v_contact;
END;

-- Meta accepted the message: store the wamid and move it to sent, unless a
-- status webhook already moved it further; message.sent is recorded when it
-- becomes sent here. Returns the status it has now.
CREATE OR REPLACE PROCEDURE wz_message_sent(IN p_id BIGINT UNSIGNED,
	IN p_wamid VARCHAR(255), IN p_event_uuid CHAR(36))
BEGIN
	DECLARE v_status VARCHAR(16) DEFAULT NULL;
	DECLARE v_tenant BIGINT UNSIGNED;
	DECLARE CONTINUE HANDLER FOR NOT FOUND BEGIN END;
	DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END;

	START TRANSACTION;
	SELECT status, tenant_id INTO v_status, v_tenant FROM messages
	 WHERE id = p_id FOR UPDATE;
	IF v_status IN ('queued', 'sending') THEN
		UPDATE messages SET status = 'sent', wamid = p_wamid,
		    sent_at = NOW(3), sending_since = NULL, error_code = NULL,
		    error_title = NULL, error_message = NULL,
		    updated_at = UTC_TIMESTAMP()
		 WHERE id = p_id;
		INSERT INTO events (uuid, tenant_id, type, data, created_at)
		VALUES (p_event_uuid, v_tenant, 'message.sent',
		    wz_message_json(p_id), UTC_TIMESTAMP());
		SET v_status = 'sent';
	ELSEIF v_status IS NOT NULL THEN
		UPDATE messages SET wamid = COALESCE(wamid, p_wamid),
		    sent_at = COALESCE(sent_at, NOW(3)), sending_since = NULL
		 WHERE id = p_id;
	END IF;
	COMMIT;
	SELECT v_status;
END;

-- A permanent failure: failed with Meta's error, and message.failed, unless
-- the message already moved on.
CREATE OR REPLACE PROCEDURE wz_message_failed(IN p_id BIGINT UNSIGNED,
	IN p_code INT, IN p_title VARCHAR(255), IN p_message TEXT,
	IN p_event_uuid CHAR(36))
BEGIN
	DECLARE v_status VARCHAR(16) DEFAULT NULL;
	DECLARE v_tenant BIGINT UNSIGNED;
	DECLARE CONTINUE HANDLER FOR NOT FOUND BEGIN END;
	DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END;

	START TRANSACTION;
	SELECT status, tenant_id INTO v_status, v_tenant FROM messages
	 WHERE id = p_id FOR UPDATE;
	IF v_status IN ('queued', 'sending') THEN
		UPDATE messages SET status = 'failed', sending_since = NULL,
		    error_code = p_code, error_title = p_title,
		    error_message = p_message, updated_at = UTC_TIMESTAMP()
		 WHERE id = p_id;
		INSERT INTO events (uuid, tenant_id, type, data, created_at)
		VALUES (p_event_uuid, v_tenant, 'message.failed',
		    wz_message_json(p_id), UTC_TIMESTAMP());
		SET v_status = 'failed';
	END IF;
	COMMIT;
	SELECT v_status;
END;
