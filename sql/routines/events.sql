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
-- The event's id has the form of a version 4 UUID: 122 bits of the
-- SHA-256 of a UUID() (unique: time, node and sequence; Galera nodes
-- differ by node) and RAND(), the version nibble set to 4 and the
-- variant's two high bits to 10 (the hex digit 8, 9, a or b, chosen by the
-- digit it replaces). Unique, and unguessable enough for an id that
-- grants nothing (deliveries are signed); RANDOM_BYTES would need MariaDB
-- 10.10, and Wazera runs on 10.6.
CREATE OR REPLACE PROCEDURE wz_event_emit(IN p_tenant BIGINT UNSIGNED,
	IN p_type VARCHAR(64) CHARACTER SET ascii, IN p_data MEDIUMTEXT)
BEGIN
	DECLARE v_h CHAR(32) CHARACTER SET ascii DEFAULT
	    LEFT(SHA2(CONCAT(UUID(), ':', RAND()), 256), 32);

	INSERT INTO events (uuid, tenant_id, type, data, created_at)
	VALUES (INSERT(INSERT(INSERT(INSERT(v_h, 21, 0, '-'), 17, 1,
	    CONCAT('-', MID('89ab89ab89ab89ab', CONV(MID(v_h, 17, 1), 16, 10) + 1,
	    1))), 13, 1, '-4'), 9, 0, '-'), p_tenant, p_type, p_data,
	    UTC_TIMESTAMP());
END;
