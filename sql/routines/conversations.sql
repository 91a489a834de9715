-- Conversations: the list totals (conversation_counters), kept by
-- triggers so that every writer of conversations keeps them right in its
-- own transaction without knowing about them. Only a change of status or
-- assignee touches them, not a new message.
--
-- A routine file: re-applied by `wazera-admin migrate` whenever its text
-- changes (sql/README.md). Each routine here is its current version only.

-- Retired: dead since the events' data came from the caller (a database
-- migrated before the baseline still has it).
DROP FUNCTION IF EXISTS wz_conversation_json;

CREATE OR REPLACE TRIGGER conversations_count_insert
AFTER INSERT ON conversations FOR EACH ROW
	INSERT INTO conversation_counters (tenant_id, status, assigned_to, n)
	VALUES (NEW.tenant_id, NEW.status, COALESCE(NEW.assigned_to, 0), 1)
	ON DUPLICATE KEY UPDATE n = n + 1;

-- The two rows are written by one statement in key order, so two updates
-- moving conversations in opposite directions (open -> closed, closed ->
-- open) lock them in the same order and never deadlock.
CREATE OR REPLACE TRIGGER conversations_count_update
AFTER UPDATE ON conversations FOR EACH ROW
BEGIN
	IF NEW.tenant_id <> OLD.tenant_id OR NEW.status <> OLD.status OR
	    NOT (NEW.assigned_to <=> OLD.assigned_to) THEN
		IF (OLD.tenant_id, OLD.status + 0, COALESCE(OLD.assigned_to, 0)) <
		    (NEW.tenant_id, NEW.status + 0, COALESCE(NEW.assigned_to, 0))
		THEN
			INSERT INTO conversation_counters (tenant_id, status,
			    assigned_to, n)
			VALUES (OLD.tenant_id, OLD.status,
			    COALESCE(OLD.assigned_to, 0), -1),
			    (NEW.tenant_id, NEW.status,
			    COALESCE(NEW.assigned_to, 0), 1)
			ON DUPLICATE KEY UPDATE n = n + VALUES(n);
		ELSE
			INSERT INTO conversation_counters (tenant_id, status,
			    assigned_to, n)
			VALUES (NEW.tenant_id, NEW.status,
			    COALESCE(NEW.assigned_to, 0), 1),
			    (OLD.tenant_id, OLD.status,
			    COALESCE(OLD.assigned_to, 0), -1)
			ON DUPLICATE KEY UPDATE n = n + VALUES(n);
		END IF;
	END IF;
END;

-- A conversation deleted (with its contact) is counted out in this
-- connection's shard.
CREATE OR REPLACE TRIGGER conversations_count_delete
AFTER DELETE ON conversations FOR EACH ROW
	INSERT INTO conversation_counters (tenant_id, status, assigned_to, n)
	VALUES (OLD.tenant_id, OLD.status, COALESCE(OLD.assigned_to, 0), -1)
	ON DUPLICATE KEY UPDATE n = n - 1;
