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
CREATE OR REPLACE PROCEDURE wz_counters_fit()
BEGIN
	DECLARE v_want VARCHAR(16) CHARACTER SET ascii
	    DEFAULT IF(@@GLOBAL.wsrep_on, 'InnoDB', 'MEMORY');
	DECLARE v_n INT DEFAULT 0;

	IF (SELECT ENGINE FROM information_schema.TABLES
	    WHERE TABLE_SCHEMA = DATABASE() AND
		  TABLE_NAME = 'rate_counters') <> v_want THEN
		DROP TABLE IF EXISTS rate_counters_fit, rate_counters_old;
		CREATE TABLE rate_counters_fit LIKE rate_counters;
		IF v_want = 'InnoDB' THEN
			ALTER TABLE rate_counters_fit ENGINE = InnoDB;
		ELSE
			ALTER TABLE rate_counters_fit ENGINE = MEMORY;
		END IF;
		RENAME TABLE rate_counters TO rate_counters_old,
		    rate_counters_fit TO rate_counters;
		DROP TABLE rate_counters_old;
		SET v_n = v_n + 1;
	END IF;
	IF (SELECT ENGINE FROM information_schema.TABLES
	    WHERE TABLE_SCHEMA = DATABASE() AND
		  TABLE_NAME = 'user_rate_counters') <> v_want THEN
		DROP TABLE IF EXISTS user_rate_counters_fit, user_rate_counters_old;
		CREATE TABLE user_rate_counters_fit LIKE user_rate_counters;
		IF v_want = 'InnoDB' THEN
			ALTER TABLE user_rate_counters_fit ENGINE = InnoDB;
		ELSE
			ALTER TABLE user_rate_counters_fit ENGINE = MEMORY;
		END IF;
		RENAME TABLE user_rate_counters TO user_rate_counters_old,
		    user_rate_counters_fit TO user_rate_counters;
		DROP TABLE user_rate_counters_old;
		SET v_n = v_n + 1;
	END IF;
	-- Two runs at once on two nodes (GET_LOCK is per node) could swap
	-- in each other's table: what is there now is checked, not assumed.
	IF (SELECT COUNT(*) FROM information_schema.TABLES
	    WHERE TABLE_SCHEMA = DATABASE() AND
		  TABLE_NAME IN ('rate_counters', 'user_rate_counters') AND
		  ENGINE = v_want) <> 2 THEN
		SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT =
		    'the rate counters are not on the engine this server needs; run migrate again';
	END IF;
	SELECT v_n;
END;
