-- Contacts: create, update, delete, and their tag and trigram rows.
--
-- A routine file: re-applied by `wazera-admin migrate` whenever its text
-- changes (sql/README.md). Each routine here is its current version only.

-- Retired: a contact's JSON is contact_shapes' (shapes.sql).
DROP FUNCTION IF EXISTS wz_contact_json;

-- Creates a contact with its tag and trigram rows, the contact.created
-- event and the tenant's counter. Answers the contact's JSON.
CREATE OR REPLACE PROCEDURE wz_contact_create(
	IN p_tenant BIGINT UNSIGNED, IN p_name VARCHAR(255),
	IN p_phone VARCHAR(16), IN p_email VARCHAR(255), IN p_tags TEXT,
	IN p_custom MEDIUMTEXT, IN p_opted_out TINYINT, IN p_now DATETIME,
	IN p_trigrams MEDIUMTEXT)
BEGIN
	DECLARE v_id BIGINT UNSIGNED;
	DECLARE v_json MEDIUMTEXT;

	INSERT INTO contacts (tenant_id, name, phone, email, tags,
	    custom_fields, opted_out, created_at, updated_at)
	VALUES (p_tenant, p_name, p_phone, p_email, p_tags, p_custom,
	    p_opted_out, p_now, p_now);
	SET v_id = LAST_INSERT_ID();
	IF p_tags <> '[]' THEN
		INSERT IGNORE INTO contact_tags (tenant_id, tag, contact_id,
		    opted_out)
		SELECT p_tenant, j.tag, v_id, p_opted_out
		  FROM JSON_TABLE(p_tags, '$[*]' COLUMNS (tag VARCHAR(64) PATH '$')) j;
	END IF;
	INSERT IGNORE INTO contact_trigrams (tenant_id, tri, contact_id)
	SELECT p_tenant, j.tri, v_id
	  FROM JSON_TABLE(p_trigrams, '$[*]' COLUMNS (tri VARCHAR(3) PATH '$')) j;
	SELECT json INTO v_json FROM contact_shapes WHERE id = v_id;
	CALL wz_event_emit(p_tenant, 'contact.created', v_json);
	INSERT INTO tenant_counters (tenant_id, contacts) VALUES (p_tenant, 1)
	    ON DUPLICATE KEY UPDATE contacts = contacts + 1;
	SELECT v_json;
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
-- stored values) and counts it out of the tenant in this connection's
-- shard (an UPDATE ... WHERE tenant_id would take one from every shard).
-- Returns the number of contacts deleted (0 or 1).
CREATE OR REPLACE PROCEDURE wz_contact_delete(
	IN p_tenant BIGINT UNSIGNED, IN p_id BIGINT UNSIGNED,
	IN p_old_trigrams MEDIUMTEXT)
BEGIN
	DECLARE v_n INT DEFAULT 0;

	DELETE FROM contacts WHERE tenant_id = p_tenant AND id = p_id;
	SET v_n = ROW_COUNT();
	IF v_n > 0 THEN
		CALL wz_trigrams_delete(p_tenant, p_id, p_old_trigrams);
		INSERT INTO tenant_counters (tenant_id, contacts)
		VALUES (p_tenant, -1)
		    ON DUPLICATE KEY UPDATE contacts = contacts - 1;
	END IF;
	SELECT v_n;
END;

-- Replaces a contact's fields, tag and trigram rows and records
-- contact.updated. The caller has locked the row with
-- CONTACT_GET_FOR_UPDATE and computed p_old_trigrams from it. Answers the
-- contact's JSON.
CREATE OR REPLACE PROCEDURE wz_contact_update(
	IN p_tenant BIGINT UNSIGNED, IN p_id BIGINT UNSIGNED,
	IN p_name VARCHAR(255), IN p_phone VARCHAR(16), IN p_email VARCHAR(255),
	IN p_tags TEXT, IN p_custom MEDIUMTEXT, IN p_opted_out TINYINT,
	IN p_now DATETIME, IN p_old_trigrams MEDIUMTEXT, IN p_trigrams MEDIUMTEXT)
BEGIN
	DECLARE v_json MEDIUMTEXT;

	UPDATE contacts
	   SET name = p_name, phone = p_phone, email = p_email, tags = p_tags,
	       custom_fields = p_custom, opted_out = p_opted_out,
	       updated_at = p_now
	 WHERE tenant_id = p_tenant AND id = p_id;
	DELETE FROM contact_tags WHERE tenant_id = p_tenant AND contact_id = p_id;
	INSERT IGNORE INTO contact_tags (tenant_id, tag, contact_id,
	    opted_out)
	SELECT p_tenant, j.tag, p_id, p_opted_out
	  FROM JSON_TABLE(p_tags, '$[*]' COLUMNS (tag VARCHAR(64) PATH '$')) j;
	CALL wz_trigrams_delete(p_tenant, p_id, p_old_trigrams);
	INSERT IGNORE INTO contact_trigrams (tenant_id, tri, contact_id)
	SELECT p_tenant, j.tri, p_id
	  FROM JSON_TABLE(p_trigrams, '$[*]' COLUMNS (tri VARCHAR(3) PATH '$')) j;
	SELECT json INTO v_json FROM contact_shapes WHERE id = p_id;
	CALL wz_event_emit(p_tenant, 'contact.updated', v_json);
	SELECT v_json;
END;
