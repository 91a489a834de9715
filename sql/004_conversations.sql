-- Conversations listed by latest activity (GET /conversations), fast on a
-- tenant with 100,000 conversations and more.

-- The order: last_message_at DESC, id DESC, the conversation that moved
-- last first, ties broken by the newer conversation. The keys of 002 end in
-- id (conversations_tenant (tenant_id, status, id), conversations_assigned
-- (tenant_id, assigned_to, id)), so for that order MariaDB had to read
-- every matching row and sort it before the LIMIT: 100,000 rows for page 1
-- of a large tenant. These keys end in (last_message_at, id), so each
-- filter reads its page straight from an index, backwards, and stops after
-- OFFSET + LIMIT entries:
--   no filter               conversations_activity
--   status                  conversations_status_activity (or
--                           conversations_activity when most rows match)
--   assigned_to (+ status)  conversations_assigned_activity (status is
--                           checked from the index, before any row is read)
-- They serve every lookup the old keys served (same leading columns), so
-- those are dropped rather than kept up to date for nothing. A message
-- updates last_message_at, and so these three keys: the price of an
-- indexed order.
ALTER TABLE conversations
	ADD INDEX IF NOT EXISTS conversations_activity
	    (tenant_id, last_message_at, id),
	ADD INDEX IF NOT EXISTS conversations_status_activity
	    (tenant_id, status, last_message_at, id),
	ADD INDEX IF NOT EXISTS conversations_assigned_activity
	    (tenant_id, assigned_to, last_message_at, id, status),
	DROP INDEX IF EXISTS conversations_tenant,
	DROP INDEX IF EXISTS conversations_assigned;

-- The lists' totals. Counting 60,000 open conversations in the index takes
-- 7-9 ms, most of a page's time; these counts take one short range read.
-- One row per tenant, status and assignee (0: nobody), kept by triggers so
-- that every writer of conversations (sends, inbound messages, the API,
-- whatever comes later) keeps them right in its own transaction without
-- knowing about them. Only a change of status or assignee touches them,
-- not a new message. Like tenant_counters, a new conversation of a tenant
-- waits for the one before it to commit; the sends that make them already
-- do for their new contacts.
CREATE TABLE IF NOT EXISTS conversation_counters (
	tenant_id	BIGINT UNSIGNED NOT NULL,
	status		ENUM('open', 'pending', 'closed') NOT NULL,
	assigned_to	BIGINT UNSIGNED NOT NULL,	-- 0: unassigned
	n		BIGINT NOT NULL,
	PRIMARY KEY (tenant_id, status, assigned_to)
) ENGINE = InnoDB;

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

CREATE OR REPLACE TRIGGER conversations_count_delete
AFTER DELETE ON conversations FOR EACH ROW
	UPDATE conversation_counters SET n = n - 1
	 WHERE tenant_id = OLD.tenant_id AND status = OLD.status
	   AND assigned_to = COALESCE(OLD.assigned_to, 0);

-- The conversations already there, counted after the triggers exist so
-- that nothing written later is missed. In one transaction, whose locks
-- make a writer racing the count wait or fail (and migrate with it, to be
-- run again) rather than be counted twice; running the file again counts
-- afresh.
START TRANSACTION;
DELETE FROM conversation_counters;
INSERT INTO conversation_counters (tenant_id, status, assigned_to, n)
SELECT tenant_id, status, COALESCE(assigned_to, 0), COUNT(*)
  FROM conversations
 GROUP BY tenant_id, status, COALESCE(assigned_to, 0);
COMMIT;
