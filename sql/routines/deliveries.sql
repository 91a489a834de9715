-- Outgoing webhooks' deliveries: what the spooler writes of an attempt
-- (app/spooler/queue_webhook.c), and the disabling of a webhook.
--
-- A routine file: re-applied by `wazera-admin migrate` whenever its text
-- changes (sql/README.md). Each routine here is its current version only.
-- The caller owns the transaction.

-- Disables a webhook (410 Gone, 3 days of failures; the API's PUT status
-- disabled may call it too): every pending delivery of it fails at once,
-- in the same transaction, so a recover after re-enabling replays them.
-- A deleted webhook stays deleted.
CREATE OR REPLACE PROCEDURE wz_webhook_disable(IN p_webhook BIGINT UNSIGNED,
	IN p_reason VARCHAR(255))
BEGIN
	UPDATE webhooks SET status = 'disabled', disabled_reason = p_reason,
	    updated_at = UTC_TIMESTAMP()
	 WHERE id = p_webhook AND status = 'active';
	UPDATE webhook_deliveries SET status = 'failed', next_attempt_at = NULL,
	    sending_holder = NULL,
	    last_error = 'Not delivered: the webhook is disabled',
	    updated_at = UTC_TIMESTAMP()
	 WHERE webhook_id = p_webhook AND status = 'pending';
END;

-- One attempt's result. The attempt row is always inserted (while the
-- delivery exists: a deleted webhook's are being purged); the delivery
-- changes only if it is still the claim the attempt was of
-- (sending_holder and attempts): a journal replayed late must not undo a
-- newer state.
--   p_outcome: 'succeeded'; 'retry' (due again in p_wait_ms); 'failed';
--   'gone' (410: failed, the webhook disabled).
--   p_disable_ms: a failure run this long (3 days, scaled) disables the
--   webhook.
-- Answers the delivery's status now (NULL: it is gone).
CREATE OR REPLACE PROCEDURE wz_delivery_result(
	IN p_delivery BIGINT UNSIGNED, IN p_holder VARCHAR(128),
	IN p_attempt INT UNSIGNED, IN p_at_ms BIGINT,
	IN p_duration_ms INT UNSIGNED, IN p_status SMALLINT UNSIGNED,
	IN p_class VARCHAR(32) CHARACTER SET ascii, IN p_error VARCHAR(512),
	IN p_response VARCHAR(1024),
	IN p_outcome VARCHAR(16) CHARACTER SET ascii, IN p_wait_ms BIGINT,
	IN p_disable_ms BIGINT)
BEGIN
	DECLARE v_webhook BIGINT UNSIGNED DEFAULT NULL;
	DECLARE v_since DATETIME(3) DEFAULT NULL;
	DECLARE v_at DATETIME(3) DEFAULT FROM_UNIXTIME(p_at_ms / 1000);
	DECLARE CONTINUE HANDLER FOR NOT FOUND BEGIN END;

	INSERT INTO webhook_attempts (delivery_id, attempted_at, status_code,
	    duration_ms, error_class, error, response)
	SELECT d.id, v_at, p_status, p_duration_ms, p_class, p_error,
	    p_response
	  FROM webhook_deliveries d WHERE d.id = p_delivery;

	SELECT d.webhook_id INTO v_webhook FROM webhook_deliveries d
	 WHERE d.id = p_delivery AND d.status = 'pending' AND
	    d.sending_holder <=> p_holder AND d.attempts = p_attempt
	   FOR UPDATE;

	IF v_webhook IS NOT NULL THEN
		UPDATE webhook_deliveries SET
		    status = CASE p_outcome WHEN 'succeeded' THEN 'succeeded'
			WHEN 'retry' THEN 'pending' ELSE 'failed' END,
		    next_attempt_at = IF(p_outcome = 'retry',
			NOW(3) + INTERVAL p_wait_ms * 1000 MICROSECOND, NULL),
		    sending_holder = NULL, last_status_code = p_status,
		    last_error = p_error, last_attempt_at = v_at,
		    updated_at = UTC_TIMESTAMP()
		 WHERE id = p_delivery;
		IF p_outcome = 'succeeded' THEN
			UPDATE webhook_state SET failing_since = NULL
			 WHERE webhook_id = v_webhook AND
			    failing_since IS NOT NULL;
		ELSE
			SELECT failing_since INTO v_since FROM webhook_state
			 WHERE webhook_id = v_webhook FOR UPDATE;
			IF v_since IS NULL THEN
				UPDATE webhook_state SET failing_since = v_at
				 WHERE webhook_id = v_webhook;
			END IF;
			IF p_outcome = 'gone' THEN
				CALL wz_webhook_disable(v_webhook,
				    'The endpoint answered 410 Gone');
			ELSEIF v_since IS NOT NULL AND v_since <=
			    NOW(3) - INTERVAL p_disable_ms * 1000 MICROSECOND
			    THEN
				CALL wz_webhook_disable(v_webhook,
				    'Every delivery failed for 3 days');
			END IF;
		END IF;
	END IF;
	SELECT status FROM webhook_deliveries WHERE id = p_delivery;
END;

-- Successful attempts, many at once (the spooler writes a run of results
-- in one transaction): p_results is a JSON array of {id, holder, attempt,
-- at_ms, duration_ms, status, response}. The same writes as
-- wz_delivery_result's for each success, set-based: an attempt row for
-- every record (two of one delivery in a run included: a key of their
-- own, not the delivery's); the deliveries still on the claim of one of
-- their records succeeded (with that record); the failure runs ended of
-- the webhooks of those deliveries only (as wz_delivery_result: a stale
-- record changes nothing but the attempt log).
CREATE OR REPLACE PROCEDURE wz_delivery_succeeded(IN p_results LONGTEXT)
BEGIN
	CREATE OR REPLACE TEMPORARY TABLE wz_succeeded (
		n		INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
		id		BIGINT UNSIGNED NOT NULL,
		holder		VARCHAR(128) NULL,
		attempt		INT UNSIGNED NOT NULL,
		at		DATETIME(3) NOT NULL,
		duration_ms	INT UNSIGNED NOT NULL,
		status		SMALLINT UNSIGNED NULL,
		response	VARCHAR(1024) NULL,
		applies		TINYINT NOT NULL DEFAULT 0,
		KEY (id)
	) ENGINE = MEMORY DEFAULT CHARSET = utf8mb4;
	INSERT INTO wz_succeeded (id, holder, attempt, at, duration_ms, status,
	    response)
	SELECT j.id, j.holder, j.attempt, FROM_UNIXTIME(j.at_ms / 1000),
	    j.duration_ms, j.status, j.response
	  FROM JSON_TABLE(p_results, '$[*]' COLUMNS (
		k FOR ORDINALITY,
		id BIGINT UNSIGNED PATH '$.id',
		holder VARCHAR(128) PATH '$.holder',
		attempt INT UNSIGNED PATH '$.attempt',
		at_ms BIGINT PATH '$.at_ms',
		duration_ms INT UNSIGNED PATH '$.duration_ms',
		status SMALLINT UNSIGNED PATH '$.status',
		response VARCHAR(1024) PATH '$.response')) j
	 ORDER BY j.k;

	INSERT INTO webhook_attempts (delivery_id, attempted_at, status_code,
	    duration_ms, error_class, error, response)
	SELECT d.id, s.at, s.status, s.duration_ms, NULL, NULL, s.response
	  FROM wz_succeeded s JOIN webhook_deliveries d ON d.id = s.id
	 ORDER BY s.n;

	-- The records that apply (their delivery still on their claim), the
	-- deliveries locked.
	UPDATE wz_succeeded s JOIN webhook_deliveries d ON d.id = s.id
	   SET s.applies = 1
	 WHERE d.status = 'pending' AND d.sending_holder <=> s.holder AND
	    d.attempts = s.attempt;

	UPDATE webhook_deliveries d JOIN wz_succeeded s ON d.id = s.id AND
	    s.applies = 1
	   SET d.status = 'succeeded', d.next_attempt_at = NULL,
	    d.sending_holder = NULL, d.last_status_code = s.status,
	    d.last_error = NULL, d.last_attempt_at = s.at,
	    d.updated_at = UTC_TIMESTAMP()
	 WHERE d.status = 'pending' AND d.sending_holder <=> s.holder AND
	    d.attempts = s.attempt;

	UPDATE webhook_state w JOIN (SELECT DISTINCT d.webhook_id
	    FROM wz_succeeded s JOIN webhook_deliveries d ON d.id = s.id
	    WHERE s.applies = 1) x
	    ON w.webhook_id = x.webhook_id
	   SET w.failing_since = NULL
	 WHERE w.failing_since IS NOT NULL;

	DROP TEMPORARY TABLE wz_succeeded;
END;
