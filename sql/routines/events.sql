-- Events: the one way an event is recorded.
--
-- A routine file: re-applied by `wazera-admin migrate` whenever its text
-- changes (sql/README.md). Each routine here is its current version only.
--
-- Every routine that records a change webhooks report calls
-- wz_event_emit, in its caller's transaction, and C calls it through
-- event_emit() (lib/event.c, whose table names every type;
-- tests/e2e/test_events.py holds the two lists equal). p_data is the
-- resource as the API shows it now (sql/routines/shapes.sql).
--
-- The event's id has the form of a version 4 UUID (wz_event_uuid): 122
-- bits of the SHA-256 of a UUID() (unique: time, node and sequence; Galera nodes
-- differ by node) and RAND(), the version nibble set to 4 and the
-- variant's two high bits to 10 (the hex digit 8, 9, a or b, chosen by the
-- digit it replaces). Unique, and unguessable enough for an id that
-- grants nothing (deliveries are signed); RANDOM_BYTES would need MariaDB
-- 10.10, and Wazera runs on 10.6.
-- wz_event_record inserts the event and gives its id; wz_event_emit also
-- fans it out: one delivery per webhook of the tenant subscribed to its
-- type, in the same transaction (SPEC 6), so a crash anywhere loses or
-- doubles none (deliveries_once holds one per webhook and event). A
-- disabled webhook's delivery is failed at once, so recover can replay
-- it. For a tenant without webhooks the fan-out is one probe of
-- webhooks_tenant that finds nothing.

-- The id of an event from a unique seed: wz_event_record's is a UUID()
-- and RAND(); a campaign batch's (campaign_expand.sql) a UUID() and RAND()
-- made once per batch, then each conversation's id, so the batch finds
-- its events again by uuid for their fan-out. One expression (SHA2 twice)
-- costs a quarter less per call than a body with a variable: a campaign
-- batch calls it for each new conversation.
CREATE OR REPLACE FUNCTION wz_event_uuid(p_seed VARCHAR(255) CHARACTER SET ascii)
RETURNS CHAR(36) CHARACTER SET ascii DETERMINISTIC
RETURN INSERT(INSERT(INSERT(INSERT(LEFT(SHA2(p_seed, 256), 32), 21, 0, '-'),
	17, 1, CONCAT('-', MID('89ab89ab89ab89ab',
	CONV(MID(SHA2(p_seed, 256), 17, 1), 16, 10) + 1, 1))), 13, 1, '-4'),
	9, 0, '-');

CREATE OR REPLACE PROCEDURE wz_event_record(IN p_tenant BIGINT UNSIGNED,
	IN p_type VARCHAR(64) CHARACTER SET ascii, IN p_data MEDIUMTEXT,
	OUT p_id BIGINT UNSIGNED)
BEGIN
	INSERT INTO events (uuid, tenant_id, type, data, created_at)
	VALUES (wz_event_uuid(CONCAT(UUID(), ':', RAND())), p_tenant, p_type,
	    p_data, UTC_TIMESTAMP());
	SET p_id = LAST_INSERT_ID();
END;

CREATE OR REPLACE PROCEDURE wz_event_emit(IN p_tenant BIGINT UNSIGNED,
	IN p_type VARCHAR(64) CHARACTER SET ascii, IN p_data MEDIUMTEXT)
BEGIN
	DECLARE v_id BIGINT UNSIGNED;

	CALL wz_event_record(p_tenant, p_type, p_data, v_id);
	INSERT INTO webhook_deliveries (tenant_id, webhook_id, event_id,
	    status, last_error, next_attempt_at, round_started_at,
	    created_at, updated_at)
	SELECT p_tenant, w.id, v_id, IF(w.status = 'active', 'pending',
	    'failed'), IF(w.status = 'active', NULL,
	    'Not delivered: the webhook is disabled'),
	    IF(w.status = 'active', NOW(3), NULL), NOW(3), UTC_TIMESTAMP(),
	    UTC_TIMESTAMP()
	  FROM webhooks w
	 WHERE w.tenant_id = p_tenant AND w.status <> 'deleted' AND
	    FIND_IN_SET(p_type, w.events) > 0;
END;
