-- Meta's status webhooks applied to outbound messages.

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
-- Runs in the caller's transaction. Returns the status the message has now
-- (NULL if no message matched).
CREATE OR REPLACE PROCEDURE wz_status_apply(
	IN p_account BIGINT UNSIGNED, IN p_wamid VARCHAR(255),
	IN p_callback_id BIGINT UNSIGNED, IN p_status VARCHAR(16),
	IN p_code INT, IN p_title VARCHAR(255), IN p_message TEXT,
	IN p_event_uuid CHAR(36))
BEGIN
	DECLARE v_id BIGINT UNSIGNED DEFAULT NULL;
	DECLARE v_cur VARCHAR(16);
	DECLARE v_tenant BIGINT UNSIGNED;
	DECLARE v_new VARCHAR(16) DEFAULT p_status;
	DECLARE CONTINUE HANDLER FOR NOT FOUND BEGIN END;

	IF v_new = 'played' THEN SET v_new = 'read'; END IF;
	SELECT id, status, tenant_id INTO v_id, v_cur, v_tenant FROM messages
	 WHERE wamid = p_wamid AND whatsapp_account_id = p_account
	   AND direction = 'outbound' FOR UPDATE;
	IF v_id IS NULL AND p_callback_id IS NOT NULL THEN
		SELECT id, status, tenant_id INTO v_id, v_cur, v_tenant
		  FROM messages WHERE id = p_callback_id
		   AND whatsapp_account_id = p_account AND direction = 'outbound'
		   AND (wamid IS NULL OR wamid = p_wamid) FOR UPDATE;
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
		INSERT INTO events (uuid, tenant_id, type, data, created_at)
		VALUES (p_event_uuid, v_tenant, CONCAT('message.', v_new),
		    wz_message_json(v_id), UTC_TIMESTAMP());
		SET v_cur = v_new;
	END IF;
	SELECT v_cur;
END;
