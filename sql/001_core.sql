-- Tenants, API keys, contacts and the machinery every request uses:
-- authentication with rate limiting, idempotency, the event log.
-- All times are UTC DATETIMEs; the application sets time_zone = '+00:00'.

CREATE TABLE IF NOT EXISTS tenants (
	id		BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
	name		VARCHAR(255) NOT NULL,
	plan		ENUM('starter', 'professional', 'enterprise') NOT NULL,
	rate_limit	INT UNSIGNED NULL,	-- per key per minute; NULL: the plan's
	created_at	DATETIME NOT NULL,
	updated_at	DATETIME NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_general_ci;

-- Counters kept apart from tenants so that hot updates never contend with
-- foreign key checks on the tenant row.
CREATE TABLE IF NOT EXISTS tenant_counters (
	tenant_id	BIGINT UNSIGNED NOT NULL PRIMARY KEY,
	contacts	BIGINT NOT NULL DEFAULT 0
) ENGINE = InnoDB;

CREATE TABLE IF NOT EXISTS api_keys (
	id		BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
	tenant_id	BIGINT UNSIGNED NOT NULL,
	name		VARCHAR(255) NULL,
	prefix		CHAR(12) NOT NULL,
	key_hash	BINARY(32) NOT NULL,	-- BLAKE2b-256 of the key
	scopes		INT UNSIGNED NOT NULL DEFAULT 0,	-- bitmask; 0: all
	created_at	DATETIME NOT NULL,
	last_used_at	DATETIME NULL,
	expires_at	DATETIME NULL,
	revoked_at	DATETIME NULL,
	UNIQUE KEY api_keys_hash (key_hash),
	KEY api_keys_tenant (tenant_id, id),
	CONSTRAINT api_keys_tenant_fk FOREIGN KEY (tenant_id) REFERENCES tenants (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_general_ci;

-- Rate-limit counters: one row per API key in use, a fixed one-minute
-- window counted by one atomic update on the primary, so the limit is exact
-- across workers and hosts. MEMORY, not InnoDB: the row is updated by every
-- request, and without undo, redo and row locks held to commit the update
-- costs about half as much. Losing the counters on a server restart only
-- restarts the current minute. A row also says "this key is alive":
-- revoking a key deletes its row (see auth.c).
CREATE TABLE IF NOT EXISTS rate_counters (
	key_id		BIGINT UNSIGNED NOT NULL PRIMARY KEY,
	rl_window	BIGINT NOT NULL,
	hits		INT UNSIGNED NOT NULL
) ENGINE = MEMORY;

CREATE TABLE IF NOT EXISTS contacts (
	id		BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
	tenant_id	BIGINT UNSIGNED NOT NULL,
	name		VARCHAR(255) NULL,
	phone		VARCHAR(16) NOT NULL,
	email		VARCHAR(255) NULL,
	tags		TEXT NOT NULL,		-- JSON array, in the caller's order
	custom_fields	MEDIUMTEXT NOT NULL,	-- JSON object
	opted_out	TINYINT(1) NOT NULL DEFAULT 0,
	created_at	DATETIME NOT NULL,
	updated_at	DATETIME NOT NULL,
	UNIQUE KEY contacts_phone (tenant_id, phone),
	KEY contacts_tenant (tenant_id, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_general_ci;

-- The tag filter's index. Tags compare exactly: binary, and without the
-- padding that would make "vip " equal "vip".
CREATE TABLE IF NOT EXISTS contact_tags (
	tenant_id	BIGINT UNSIGNED NOT NULL,
	tag		VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL,
	contact_id	BIGINT UNSIGNED NOT NULL,
	PRIMARY KEY (tenant_id, tag, contact_id),
	KEY contact_tags_contact (contact_id),
	CONSTRAINT contact_tags_fk FOREIGN KEY (contact_id) REFERENCES contacts (id)
	    ON DELETE CASCADE
) ENGINE = InnoDB;

-- The substring search's index: every three consecutive characters of a
-- contact's name, phone and email. A search for a term of three or more
-- characters intersects three of its trigrams to find candidates, then
-- checks each with LIKE, so results stay exact. The collation is the same
-- as the searched columns', so case folds the same way on both sides.
-- About forty rows per contact: to keep inserts cheap there is no second
-- index and no foreign key; rows are removed by their full primary key,
-- from the trigrams of the values being replaced or deleted.
CREATE TABLE IF NOT EXISTS contact_trigrams (
	tenant_id	BIGINT UNSIGNED NOT NULL,
	tri		VARCHAR(3) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL,
	contact_id	BIGINT UNSIGNED NOT NULL,
	PRIMARY KEY (tenant_id, tri, contact_id)
) ENGINE = InnoDB;

CREATE TABLE IF NOT EXISTS idempotency_keys (
	tenant_id	BIGINT UNSIGNED NOT NULL,
	idem_key	VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	request_hash	BINARY(32) NOT NULL,	-- SHA-256 of method, path, body
	status		SMALLINT UNSIGNED NOT NULL DEFAULT 0,
	body		MEDIUMTEXT NULL,
	created_at	DATETIME NOT NULL,
	PRIMARY KEY (tenant_id, idem_key),
	KEY idempotency_created (created_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

-- Every state change that webhooks report, written in the transaction of
-- the change itself. data is the resource as it was then.
CREATE TABLE IF NOT EXISTS events (
	id		BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
	uuid		CHAR(36) CHARACTER SET ascii NOT NULL,
	tenant_id	BIGINT UNSIGNED NOT NULL,
	type		VARCHAR(64) CHARACTER SET ascii NOT NULL,
	data		MEDIUMTEXT NOT NULL,
	created_at	DATETIME NOT NULL,
	UNIQUE KEY events_uuid (uuid),
	KEY events_tenant (tenant_id, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_general_ci;

-- Creates a contact with its tag and trigram rows, the contact.created
-- event and the tenant's counter in one round trip. p_event is the event's
-- data with a placeholder id that is set here. With p_own_tx the procedure
-- runs its own transaction; without, the caller's.
CREATE OR REPLACE PROCEDURE wz_contact_create(
	IN p_tenant BIGINT UNSIGNED, IN p_name VARCHAR(255),
	IN p_phone VARCHAR(16), IN p_email VARCHAR(255), IN p_tags TEXT,
	IN p_custom MEDIUMTEXT, IN p_opted_out TINYINT, IN p_now DATETIME,
	IN p_trigrams MEDIUMTEXT, IN p_event_uuid CHAR(36),
	IN p_event MEDIUMTEXT, IN p_own_tx TINYINT)
BEGIN
	DECLARE v_id BIGINT UNSIGNED;
	DECLARE EXIT HANDLER FOR SQLEXCEPTION
	BEGIN
		IF p_own_tx THEN ROLLBACK; END IF;
		RESIGNAL;
	END;

	IF p_own_tx THEN START TRANSACTION; END IF;
	INSERT INTO contacts (tenant_id, name, phone, email, tags,
	    custom_fields, opted_out, created_at, updated_at)
	VALUES (p_tenant, p_name, p_phone, p_email, p_tags, p_custom,
	    p_opted_out, p_now, p_now);
	SET v_id = LAST_INSERT_ID();
	IF p_tags <> '[]' THEN
		INSERT IGNORE INTO contact_tags (tenant_id, tag, contact_id)
		SELECT p_tenant, j.tag, v_id
		  FROM JSON_TABLE(p_tags, '$[*]' COLUMNS (tag VARCHAR(64) PATH '$')) j;
	END IF;
	INSERT IGNORE INTO contact_trigrams (tenant_id, tri, contact_id)
	SELECT p_tenant, j.tri, v_id
	  FROM JSON_TABLE(p_trigrams, '$[*]' COLUMNS (tri VARCHAR(3) PATH '$')) j;
	INSERT INTO events (uuid, tenant_id, type, data, created_at)
	VALUES (p_event_uuid, p_tenant, 'contact.created',
	    JSON_SET(p_event, '$.id', v_id), p_now);
	INSERT INTO tenant_counters (tenant_id, contacts) VALUES (p_tenant, 1)
	    ON DUPLICATE KEY UPDATE contacts = contacts + 1;
	IF p_own_tx THEN COMMIT; END IF;
	SELECT v_id;
END;

-- Removes the trigram rows of the given JSON array of trigrams.
CREATE OR REPLACE PROCEDURE wz_trigrams_delete(
	IN p_tenant BIGINT UNSIGNED, IN p_id BIGINT UNSIGNED,
	IN p_trigrams MEDIUMTEXT)
BEGIN
	DELETE t FROM contact_trigrams t
	  JOIN JSON_TABLE(p_trigrams, '$[*]' COLUMNS (tri VARCHAR(3) PATH '$')) j
	    ON t.tri = j.tri
	 WHERE t.tenant_id = p_tenant AND t.contact_id = p_id;
END;

-- Deletes a contact, its trigram rows (p_old_trigrams, computed from the
-- stored values) and counts it out of the tenant. Returns the number of
-- contacts deleted (0 or 1).
CREATE OR REPLACE PROCEDURE wz_contact_delete(
	IN p_tenant BIGINT UNSIGNED, IN p_id BIGINT UNSIGNED,
	IN p_old_trigrams MEDIUMTEXT)
BEGIN
	DECLARE v_n INT DEFAULT 0;

	DELETE FROM contacts WHERE tenant_id = p_tenant AND id = p_id;
	SET v_n = ROW_COUNT();
	IF v_n > 0 THEN
		CALL wz_trigrams_delete(p_tenant, p_id, p_old_trigrams);
		UPDATE tenant_counters SET contacts = contacts - 1
		 WHERE tenant_id = p_tenant;
	END IF;
	SELECT v_n;
END;

-- Replaces a contact's fields, tag and trigram rows and records
-- contact.updated. Runs in the caller's transaction, which has locked the
-- row with CONTACT_GET_FOR_UPDATE and computed p_old_trigrams from it.
CREATE OR REPLACE PROCEDURE wz_contact_update(
	IN p_tenant BIGINT UNSIGNED, IN p_id BIGINT UNSIGNED,
	IN p_name VARCHAR(255), IN p_phone VARCHAR(16), IN p_email VARCHAR(255),
	IN p_tags TEXT, IN p_custom MEDIUMTEXT, IN p_opted_out TINYINT,
	IN p_now DATETIME, IN p_old_trigrams MEDIUMTEXT, IN p_trigrams MEDIUMTEXT,
	IN p_event_uuid CHAR(36), IN p_event MEDIUMTEXT)
BEGIN
	UPDATE contacts
	   SET name = p_name, phone = p_phone, email = p_email, tags = p_tags,
	       custom_fields = p_custom, opted_out = p_opted_out,
	       updated_at = p_now
	 WHERE tenant_id = p_tenant AND id = p_id;
	DELETE FROM contact_tags WHERE contact_id = p_id;
	INSERT IGNORE INTO contact_tags (tenant_id, tag, contact_id)
	SELECT p_tenant, j.tag, p_id
	  FROM JSON_TABLE(p_tags, '$[*]' COLUMNS (tag VARCHAR(64) PATH '$')) j;
	CALL wz_trigrams_delete(p_tenant, p_id, p_old_trigrams);
	INSERT IGNORE INTO contact_trigrams (tenant_id, tri, contact_id)
	SELECT p_tenant, j.tri, p_id
	  FROM JSON_TABLE(p_trigrams, '$[*]' COLUMNS (tri VARCHAR(3) PATH '$')) j;
	INSERT INTO events (uuid, tenant_id, type, data, created_at)
	VALUES (p_event_uuid, p_tenant, 'contact.updated', p_event, p_now);
END;
