-- Segments and campaigns (SPEC 7): who a campaign is for, the campaign,
-- the audience it snapshotted (one recipient per contact) and its stats.

-- The tag index knows whether its contact opted out, so an audience (a
-- segment's contact_count, a campaign's snapshot) is read from
-- contact_tags alone, in one range of its primary key per tag, without
-- visiting a contact row. Kept by the contact routines and by the
-- trigger contacts_opt_out (sql/routines/campaigns.sql) for every writer
-- of contacts.opted_out.
ALTER TABLE contact_tags
	ADD COLUMN opted_out TINYINT(1) NOT NULL DEFAULT 0;
UPDATE contact_tags t JOIN contacts c ON c.id = t.contact_id
   SET t.opted_out = c.opted_out WHERE c.opted_out <> 0;
-- A segment without tags is every contact not opted out.
ALTER TABLE contacts ADD KEY contacts_audience (tenant_id, opted_out, id);

-- A segment: a filter over the tenant's contacts by tag, evaluated when
-- asked (contact_count) and when a campaign starts (its snapshot).
CREATE TABLE segments (
	id		BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
	tenant_id	BIGINT UNSIGNED NOT NULL,
	name		VARCHAR(255) NOT NULL,
	-- JSON array of distinct tags, in the caller's order; [] = everyone.
	tags		TEXT NOT NULL,
	match_all	TINYINT(1) NOT NULL DEFAULT 0,	-- "all", else "any"
	created_at	DATETIME NOT NULL,
	updated_at	DATETIME NOT NULL,
	KEY segments_tenant (tenant_id, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_general_ci;

-- A campaign: one template to each contact of a segment, at
-- scheduled_at. The API writes it (create, cancel); a spooler holding
-- its lease starts it, snapshots the audience (snapshot_cursor: the last
-- contact id taken), queues the recipients' messages (queue_cursor: the
-- last contact id queued), parks a stopped campaign's unsent messages,
-- and completes it.
CREATE TABLE campaigns (
	id		BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
	tenant_id	BIGINT UNSIGNED NOT NULL,
	name		VARCHAR(255) NOT NULL,
	whatsapp_account_id BIGINT UNSIGNED NOT NULL,
	segment_id	BIGINT UNSIGNED NOT NULL,
	template_name	VARCHAR(512) NOT NULL,
	template_language VARCHAR(32) CHARACTER SET ascii NOT NULL,
	template_components MEDIUMTEXT NOT NULL,	-- JSON array, as accepted
	status		ENUM('scheduled', 'running', 'completed', 'cancelled',
			    'failed') CHARACTER SET ascii NOT NULL,
	scheduled_at	DATETIME(3) NOT NULL,
	started_at	DATETIME(3) NULL,
	finished_at	DATETIME(3) NULL,	-- completed, cancelled or failed
	-- Why it failed (Meta's error that stopped it).
	error_code	INT NULL,
	error_title	VARCHAR(255) NULL,
	error_message	TEXT NULL,
	-- Expansion, by the spooler holding the lease: phase 'snapshot'
	-- (recipients taken in contact id order up to snapshot_cursor),
	-- 'queue' (messages queued up to queue_cursor), 'sending' (all
	-- queued; completed once none is left queued), 'parking' (stopped:
	-- its queued messages are being taken out of the send queue),
	-- 'done'.
	phase		ENUM('snapshot', 'queue', 'sending', 'parking', 'done')
			CHARACTER SET ascii NOT NULL DEFAULT 'snapshot',
	snapshot_cursor	BIGINT UNSIGNED NOT NULL DEFAULT 0,
	queue_cursor	BIGINT UNSIGNED NOT NULL DEFAULT 0,
	lease_holder	VARCHAR(128) NULL,
	lease_until	DATETIME(3) NULL,
	created_at	DATETIME NOT NULL,
	updated_at	DATETIME NOT NULL,
	KEY campaigns_tenant (tenant_id, id),
	-- The spoolers' work: phase <> 'done' and due.
	KEY campaigns_work (phase, scheduled_at),
	KEY campaigns_segment (segment_id, status)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_general_ci;

-- The audience a campaign snapshotted: one row per contact, in the same
-- transaction as the counters' total. status mirrors the recipient's
-- message (queued|sending -> queued), kept by the trigger
-- messages_campaign (sql/routines/campaigns.sql) in the transaction of
-- every status change; a recipient failed without a message (its contact
-- deleted before queueing) carries its own error.
CREATE TABLE campaign_recipients (
	campaign_id	BIGINT UNSIGNED NOT NULL,
	contact_id	BIGINT UNSIGNED NOT NULL,
	phone		VARCHAR(16) CHARACTER SET ascii NOT NULL,
	message_id	BIGINT UNSIGNED NULL,
	status		ENUM('queued', 'sent', 'delivered', 'read', 'failed')
			CHARACTER SET ascii NOT NULL DEFAULT 'queued',
	error_code	INT NULL,
	error_title	VARCHAR(255) NULL,
	error_message	TEXT NULL,
	updated_at	DATETIME NOT NULL,
	PRIMARY KEY (campaign_id, contact_id),
	KEY campaign_recipients_status (campaign_id, status, contact_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_general_ci;

-- The stats: sums over the shards (CONNECTION_ID() % 16, as
-- tenant_counters), so 1,000 status changes a second do not queue on one
-- row. total and queued grow with the snapshot; every status change of a
-- campaign message moves one from its old bucket to its new one in the
-- same transaction (trigger messages_campaign), so at every moment
-- total = queued + sent + delivered + read + failed.
CREATE TABLE campaign_counters (
	campaign_id	BIGINT UNSIGNED NOT NULL,
	shard		TINYINT UNSIGNED NOT NULL DEFAULT (CONNECTION_ID() % 16),
	total		BIGINT NOT NULL DEFAULT 0,
	queued		BIGINT NOT NULL DEFAULT 0,
	sent		BIGINT NOT NULL DEFAULT 0,
	delivered	BIGINT NOT NULL DEFAULT 0,
	`read`		BIGINT NOT NULL DEFAULT 0,
	failed		BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (campaign_id, shard)
) ENGINE = InnoDB;

-- A campaign's messages. campaign_id and the unique key make "each
-- contact gets the template once" the database's rule, whatever a
-- spooler does. lane orders the send queue's claim: 0 conversational
-- (first), 1 a running campaign's, 2 parked (a stopped campaign's,
-- never claimed; its status stays queued). messages_claim replaces
-- messages_queue.
ALTER TABLE messages
	ADD COLUMN campaign_id BIGINT UNSIGNED NULL,
	ADD COLUMN lane TINYINT UNSIGNED NOT NULL DEFAULT 0,
	ADD UNIQUE KEY messages_campaign (campaign_id, contact_id),
	ADD KEY messages_claim (whatsapp_account_id, status, lane,
	    next_attempt_at),
	DROP KEY messages_queue;

-- New conversations a campaign batch opened, told apart from one a
-- racing send opened, for their conversation.created events.
ALTER TABLE conversations ADD COLUMN opened_by_batch BIGINT UNSIGNED NULL;
