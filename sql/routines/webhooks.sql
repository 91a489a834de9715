-- Outgoing webhooks: the API's writes (app/fcgi/webhooks.c).
--
-- A routine file: re-applied by `wazera-admin migrate` whenever its text
-- changes (sql/README.md). Each routine here is its current version only.
--
-- The C caller owns the transaction and has checked what the API checks
-- (the tenant's webhook exists and is not deleted, is active for a test,
-- a redeliver or a recover, the 25 per tenant); the answers are the views
-- of shapes.sql. A deleted webhook is gone for the API: no routine here
-- touches one.

-- A webhook and its webhook_state row (the spoolers' lease and failure
-- run). p_status: active, or disabled (then its reason says so). Answers
-- the webhook's JSON.
CREATE OR REPLACE PROCEDURE wz_webhook_create(IN p_tenant BIGINT UNSIGNED,
	IN p_url VARCHAR(2048) CHARACTER SET ascii,
	IN p_events VARCHAR(1024) CHARACTER SET ascii,
	IN p_secret_enc VARBINARY(1024),
	IN p_status VARCHAR(16) CHARACTER SET ascii)
BEGIN
	DECLARE v_id BIGINT UNSIGNED;

	INSERT INTO webhooks (tenant_id, url, events, secret_enc, status,
	    disabled_reason, created_at, updated_at)
	VALUES (p_tenant, p_url, p_events, p_secret_enc, p_status,
	    IF(p_status = 'disabled', 'Disabled through the API', NULL),
	    UTC_TIMESTAMP(), UTC_TIMESTAMP());
	SET v_id = LAST_INSERT_ID();
	INSERT INTO webhook_state (webhook_id) VALUES (v_id);
	SELECT w.json FROM webhook_shapes w WHERE w.id = v_id;
END;

-- Replaces the given fields of a webhook (NULL keeps one). A new secret
-- keeps the one it replaces as old_secret_enc, which still signs for
-- p_old_secret_s seconds (24 h times webhooks.time_scale, computed by the
-- caller). Disabling fails every pending delivery at once, so that a
-- recover after re-enabling can replay them; re-enabling clears the
-- reason and the failure run (webhook_state.failing_since). Answers the
-- webhook's JSON.
CREATE OR REPLACE PROCEDURE wz_webhook_update(IN p_tenant BIGINT UNSIGNED,
	IN p_id BIGINT UNSIGNED, IN p_url VARCHAR(2048) CHARACTER SET ascii,
	IN p_events VARCHAR(1024) CHARACTER SET ascii,
	IN p_secret_enc VARBINARY(1024),
	IN p_status VARCHAR(16) CHARACTER SET ascii, IN p_old_secret_s INT)
BEGIN
	DECLARE v_old VARCHAR(16) CHARACTER SET ascii DEFAULT NULL;
	DECLARE CONTINUE HANDLER FOR NOT FOUND SET v_old = NULL;

	SELECT status INTO v_old FROM webhooks
	 WHERE tenant_id = p_tenant AND id = p_id AND status <> 'deleted'
	   FOR UPDATE;
	-- Assigned left to right: old_secret_enc takes the secret before it
	-- is replaced, disabled_reason reads the status before its change.
	UPDATE webhooks SET
	    url = COALESCE(p_url, url),
	    events = COALESCE(p_events, events),
	    old_secret_until = IF(p_secret_enc IS NULL, old_secret_until,
		UTC_TIMESTAMP() + INTERVAL p_old_secret_s SECOND),
	    old_secret_enc = IF(p_secret_enc IS NULL, old_secret_enc,
		secret_enc),
	    secret_enc = COALESCE(p_secret_enc, secret_enc),
	    disabled_reason = CASE
		WHEN p_status = 'active' THEN NULL
		WHEN p_status = 'disabled' AND status = 'active' THEN
		    'Disabled through the API'
		ELSE disabled_reason END,
	    status = COALESCE(p_status, status),
	    updated_at = UTC_TIMESTAMP()
	 WHERE tenant_id = p_tenant AND id = p_id AND status <> 'deleted';
	IF v_old IS NOT NULL AND p_status = 'disabled' THEN
		UPDATE webhook_deliveries SET status = 'failed',
		    last_error = 'Not delivered: the webhook is disabled',
		    next_attempt_at = NULL, sending_holder = NULL,
		    updated_at = UTC_TIMESTAMP()
		 WHERE webhook_id = p_id AND status = 'pending';
	ELSEIF v_old = 'disabled' AND p_status = 'active' THEN
		UPDATE webhook_state SET failing_since = NULL
		 WHERE webhook_id = p_id;
	END IF;
	SELECT w.json FROM webhook_shapes w
	 WHERE w.tenant_id = p_tenant AND w.id = p_id AND w.status <> 'deleted';
END;

-- The test ping: a webhook.test event (data: the webhook as the API shows
-- it) recorded without fan-out, and one delivery of it for this webhook
-- alone, due now, a round of one attempt (retry_until now). Answers the
-- delivery's JSON (no row unless the webhook is the tenant's and active).
CREATE OR REPLACE PROCEDURE wz_webhook_test(IN p_tenant BIGINT UNSIGNED,
	IN p_id BIGINT UNSIGNED)
BEGIN
	DECLARE v_json MEDIUMTEXT DEFAULT NULL;
	DECLARE v_event BIGINT UNSIGNED;
	DECLARE v_delivery BIGINT UNSIGNED DEFAULT NULL;
	DECLARE CONTINUE HANDLER FOR NOT FOUND SET v_json = NULL;

	SELECT w.json INTO v_json FROM webhook_shapes w
	 WHERE w.tenant_id = p_tenant AND w.id = p_id AND w.status = 'active';
	IF v_json IS NOT NULL THEN
		CALL wz_event_record(p_tenant, 'webhook.test', v_json, v_event);
		INSERT INTO webhook_deliveries (tenant_id, webhook_id, event_id,
		    status, next_attempt_at, round_started_at, retry_until,
		    created_at, updated_at)
		VALUES (p_tenant, p_id, v_event, 'pending', NOW(3), NOW(3),
		    NOW(3), UTC_TIMESTAMP(), UTC_TIMESTAMP());
		SET v_delivery = LAST_INSERT_ID();
	END IF;
	SELECT d.json FROM webhook_delivery_shapes d WHERE d.id = v_delivery;
END;

-- One more attempt of a delivery that is not pending: due now, a new
-- round of one attempt (retry_until now), the same delivery and event
-- ids. Its last claim is forgotten (sending_holder), here and in recover
-- and disable, so a late result of that claim (a journal replayed late)
-- cannot land on the new round. The caller has locked it and checked that its event's data is
-- kept. Answers the delivery's JSON.
CREATE OR REPLACE PROCEDURE wz_webhook_redeliver(IN p_tenant BIGINT UNSIGNED,
	IN p_webhook BIGINT UNSIGNED, IN p_id BIGINT UNSIGNED)
BEGIN
	UPDATE webhook_deliveries SET status = 'pending',
	    next_attempt_at = NOW(3), round_attempts = 0,
	    round_started_at = NOW(3), retry_until = NOW(3),
	    sending_holder = NULL, updated_at = UTC_TIMESTAMP()
	 WHERE tenant_id = p_tenant AND webhook_id = p_webhook AND id = p_id;
	SELECT d.json FROM webhook_delivery_shapes d
	 WHERE d.tenant_id = p_tenant AND d.webhook_id = p_webhook AND d.id = p_id;
END;

-- Every failed delivery of the webhook created at or after p_since whose
-- event's data is kept: pending, due now, a new round of retries
-- (retry_until NULL: the whole 24 h). Answers their number.
CREATE OR REPLACE PROCEDURE wz_webhook_recover(IN p_tenant BIGINT UNSIGNED,
	IN p_webhook BIGINT UNSIGNED, IN p_since DATETIME)
BEGIN
	UPDATE webhook_deliveries d JOIN events e ON e.id = d.event_id
	   SET d.status = 'pending', d.next_attempt_at = NOW(3),
	       d.round_attempts = 0, d.round_started_at = NOW(3),
	       d.retry_until = NULL, d.sending_holder = NULL,
	       d.updated_at = UTC_TIMESTAMP()
	 WHERE d.tenant_id = p_tenant AND d.webhook_id = p_webhook AND
	       d.status = 'failed' AND d.created_at >= p_since AND
	       e.data IS NOT NULL;
	SELECT ROW_COUNT();
END;
