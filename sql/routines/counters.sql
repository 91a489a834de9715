-- The rate-limit counters' engine, for the server they are on.
--
-- A routine file: re-applied by `wazera-admin migrate` whenever its text
-- changes (sql/README.md); migrate calls wz_counters_fit() on every run,
-- after the schema and routine files.
--
-- On one server the counters (rate_counters of API keys,
-- user_rate_counters of dashboard users) are MEMORY tables: a hit writes
-- no redo log and syncs nothing, and a restart only restarts the current
-- minute (001_baseline.sql). A Galera cluster does not replicate MEMORY
-- rows: every node would count alone, a key would get its limit once per
-- node, and a revoked key's counter (its "alive" mark, auth.c) would live
-- on in the other nodes' workers. So on a server with wsrep on they are
-- InnoDB: every hit is a replicated write, certified against the other
-- nodes' hits on the same key, and the limit is exact across the
-- cluster (docs/scaling.md has the cost).
--
-- A table is converted by replacing it with an empty one of the other
-- engine (CREATE … LIKE, ALTER, RENAME, DROP: each replicated to every
-- node in total order), never by ALTERing it in place: each node holds
-- MEMORY rows of its own, and converting them would leave the nodes with
-- different InnoDB rows. The counters of the current minute start over
-- once. A swap cut off (between its RENAME and DROP) leaves a *_old table,
-- dropped by the next run. Answers the tables converted.
-- One table (a name of wz_counters_fit's list, never input): 1 when it was
-- swapped, else 0.
CREATE OR REPLACE PROCEDURE wz_counter_table_fit(
	IN p_table VARCHAR(64) CHARACTER SET ascii,
	IN p_engine VARCHAR(16) CHARACTER SET ascii, OUT p_swapped INT)
BEGIN
	SET p_swapped = 0;
	IF (SELECT ENGINE FROM information_schema.TABLES
	    WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = p_table) <>
	    p_engine THEN
		EXECUTE IMMEDIATE CONCAT('DROP TABLE IF EXISTS ', p_table,
		    '_fit, ', p_table, '_old');
		EXECUTE IMMEDIATE CONCAT('CREATE TABLE ', p_table, '_fit LIKE ',
		    p_table);
		EXECUTE IMMEDIATE CONCAT('ALTER TABLE ', p_table, '_fit ENGINE = ',
		    p_engine);
		EXECUTE IMMEDIATE CONCAT('RENAME TABLE ', p_table, ' TO ', p_table,
		    '_old, ', p_table, '_fit TO ', p_table);
		EXECUTE IMMEDIATE CONCAT('DROP TABLE ', p_table, '_old');
		SET p_swapped = 1;
	END IF;
END;

CREATE OR REPLACE PROCEDURE wz_counters_fit()
BEGIN
	DECLARE v_want VARCHAR(16) CHARACTER SET ascii
	    DEFAULT IF(@@GLOBAL.wsrep_on, 'InnoDB', 'MEMORY');
	DECLARE v_a, v_b INT DEFAULT 0;

	CALL wz_counter_table_fit('rate_counters', v_want, v_a);
	CALL wz_counter_table_fit('user_rate_counters', v_want, v_b);
	-- Two runs at once on two nodes (GET_LOCK is per node) could swap
	-- in each other's table: what is there now is checked, not assumed.
	IF (SELECT COUNT(*) FROM information_schema.TABLES
	    WHERE TABLE_SCHEMA = DATABASE() AND
		  TABLE_NAME IN ('rate_counters', 'user_rate_counters') AND
		  ENGINE = v_want) <> 2 THEN
		SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT =
		    'the rate counters are not on the engine this server needs; run migrate again';
	END IF;
	SELECT v_a + v_b;
END;
