-- The baseline schema: every table as it stands at the first release.
-- Tenants, API keys, contacts and the machinery every request uses
-- (authentication with rate limiting, idempotency, the event log), then
-- WhatsApp accounts, users, conversations and messages.
--
-- A schema file: applied once, in order, and never edited afterwards; a
-- change to a table is a new file here (sql/README.md). Routines,
-- triggers and views live in sql/routines/. All times are UTC DATETIMEs;
-- the application sets time_zone = '+00:00'.

CREATE TABLE tenants (
	id		BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
	name		VARCHAR(255) NOT NULL,
	plan		ENUM('starter', 'professional', 'enterprise') NOT NULL,
	rate_limit	INT UNSIGNED NULL,	-- per key per minute; NULL: the plan's
	created_at	DATETIME NOT NULL,
	updated_at	DATETIME NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_general_ci;

-- Counters kept apart from tenants so that hot updates never contend with
-- foreign key checks on the tenant row, and in shards: with one row per
-- tenant, every new contact held it locked until commit and the writers of
-- one tenant queued on it (inbound webhooks from new customers: ~1,600/s,
-- 2,100/s sharded, bench/inbound). Each connection writes the shard
-- CONNECTION_ID() % 16 (the column's default, so every INSERT ... ON
-- DUPLICATE KEY UPDATE that names no shard writes its own), and the
-- readers add the shards up. Shards may go negative; their sum is the
-- count. conversation_counters is sharded the same way.
CREATE TABLE tenant_counters (
	tenant_id	BIGINT UNSIGNED NOT NULL,
	shard		TINYINT UNSIGNED NOT NULL DEFAULT (CONNECTION_ID() % 16),
	contacts	BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (tenant_id, shard)
) ENGINE = InnoDB;

CREATE TABLE api_keys (
	id		BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
	tenant_id	BIGINT UNSIGNED NOT NULL,
	name		VARCHAR(255) NULL,
	prefix		CHAR(12) NOT NULL,
	key_hash	BINARY(32) NOT NULL,	-- BLAKE2b-256 of the key
	scopes		INT UNSIGNED NOT NULL DEFAULT 0,	-- bitmask; 0: all
	created_at	DATETIME NOT NULL,
	last_used_at	DATETIME NULL,
	expires_at	DATETIME NULL,
	revoked_at	DATETIME NULL,
	UNIQUE KEY api_keys_hash (key_hash),
	KEY api_keys_tenant (tenant_id, id),
	CONSTRAINT api_keys_tenant_fk FOREIGN KEY (tenant_id) REFERENCES tenants (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_general_ci;

-- Rate-limit counters: one row per API key in use, a fixed one-minute
-- window counted by one atomic update on the primary, so the limit is exact
-- across workers and hosts. MEMORY, not InnoDB: the row is updated by every
-- request, and without undo, redo and row locks held to commit the update
-- costs about half as much. Losing the counters on a server restart only
-- restarts the current minute. A row also says "this key is alive":
-- revoking a key deletes its row (see auth.c).
CREATE TABLE rate_counters (
	key_id		BIGINT UNSIGNED NOT NULL PRIMARY KEY,
	rl_window	BIGINT NOT NULL,
	hits		INT UNSIGNED NOT NULL
) ENGINE = MEMORY;

CREATE TABLE contacts (
	id		BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
	tenant_id	BIGINT UNSIGNED NOT NULL,
	name		VARCHAR(255) NULL,
	phone		VARCHAR(16) NOT NULL,
	email		VARCHAR(255) NULL,
	tags		TEXT NOT NULL,		-- JSON array, in the caller's order
	custom_fields	MEDIUMTEXT NOT NULL,	-- JSON object
	opted_out	TINYINT(1) NOT NULL DEFAULT 0,
	created_at	DATETIME NOT NULL,
	updated_at	DATETIME NOT NULL,
	UNIQUE KEY contacts_phone (tenant_id, phone),
	KEY contacts_tenant (tenant_id, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_general_ci;

-- The tag filter's index. Tags compare exactly: binary, and without the
-- padding that would make "vip " equal "vip".
CREATE TABLE contact_tags (
	tenant_id	BIGINT UNSIGNED NOT NULL,
	tag		VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL,
	contact_id	BIGINT UNSIGNED NOT NULL,
	PRIMARY KEY (tenant_id, tag, contact_id),
	KEY contact_tags_contact (contact_id),
	CONSTRAINT contact_tags_fk FOREIGN KEY (contact_id) REFERENCES contacts (id)
	    ON DELETE CASCADE
) ENGINE = InnoDB;

-- The substring search's index: every three consecutive characters of a
-- contact's name, phone and email. A search for a term of three or more
-- characters intersects three of its trigrams to find candidates, then
-- checks each with LIKE, so results stay exact. The collation is the same
-- as the searched columns', so case folds the same way on both sides.
-- About forty rows per contact: to keep inserts cheap there is no second
-- index and no foreign key; rows are removed by their full primary key,
-- from the trigrams of the values being replaced or deleted.
CREATE TABLE contact_trigrams (
	tenant_id	BIGINT UNSIGNED NOT NULL,
	tri		VARCHAR(3) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL,
	contact_id	BIGINT UNSIGNED NOT NULL,
	PRIMARY KEY (tenant_id, tri, contact_id)
) ENGINE = InnoDB;

CREATE TABLE idempotency_keys (
	tenant_id	BIGINT UNSIGNED NOT NULL,
	idem_key	VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	request_hash	BINARY(32) NOT NULL,	-- SHA-256 of method, path, body
	status		SMALLINT UNSIGNED NOT NULL DEFAULT 0,
	body		MEDIUMTEXT NULL,
	created_at	DATETIME NOT NULL,
	PRIMARY KEY (tenant_id, idem_key),
	KEY idempotency_created (created_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

-- Every state change that webhooks report, written in the transaction of
-- the change itself. data is the resource as it was then.
CREATE TABLE events (
	id		BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
	uuid		CHAR(36) CHARACTER SET ascii NOT NULL,
	tenant_id	BIGINT UNSIGNED NOT NULL,
	type		VARCHAR(64) CHARACTER SET ascii NOT NULL,
	data		MEDIUMTEXT NOT NULL,
	created_at	DATETIME NOT NULL,
	UNIQUE KEY events_uuid (uuid),
	KEY events_tenant (tenant_id, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_general_ci;

CREATE TABLE whatsapp_accounts (
	id		BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
	tenant_id	BIGINT UNSIGNED NOT NULL,
	phone_number_id	VARCHAR(64) CHARACTER SET ascii NOT NULL,
	waba_id		VARCHAR(64) CHARACTER SET ascii NOT NULL,
	display_phone	VARCHAR(16) CHARACTER SET ascii NOT NULL,
	-- libsodium secretbox under the master key: nonce then ciphertext.
	access_token_enc VARBINARY(4096) NOT NULL,
	app_secret_enc	VARBINARY(1024) NULL,
	mps		INT UNSIGNED NOT NULL DEFAULT 80,	-- messages per second
	-- The spooler driving this account (one at a time, across hosts).
	lease_holder	VARCHAR(128) NULL,
	lease_until	DATETIME(3) NULL,
	created_at	DATETIME NOT NULL,
	updated_at	DATETIME NOT NULL,
	-- Paused by the spooler (Meta answered 0/190 token invalid, 368 and
	-- the other account-level blocks: app/spooler/policy.c) on every
	-- spooler on every host, also for messages accepted during it: the
	-- spoolers look for work only in accounts whose pause is over
	-- (SQL_SPOOL_ACCOUNTS). An operator ends a pause early (the token
	-- replaced) with UPDATE whatsapp_accounts SET paused_until = NULL
	-- WHERE id = ...;
	paused_until	DATETIME(3) NULL,
	UNIQUE KEY whatsapp_accounts_phone (phone_number_id),
	KEY whatsapp_accounts_tenant (tenant_id, id),
	CONSTRAINT whatsapp_accounts_tenant_fk FOREIGN KEY (tenant_id)
	    REFERENCES tenants (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_general_ci;

CREATE TABLE users (
	id		BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
	tenant_id	BIGINT UNSIGNED NOT NULL,
	name		VARCHAR(255) NOT NULL,
	email		VARCHAR(255) NOT NULL,
	created_at	DATETIME NOT NULL,
	updated_at	DATETIME NOT NULL,
	UNIQUE KEY users_email (tenant_id, email),
	KEY users_tenant (tenant_id, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_general_ci;

-- At most one conversation that is not closed per contact and account:
-- open_marker is 1 while open or pending and NULL once closed, and NULLs
-- never collide in the unique key.
CREATE TABLE conversations (
	id		BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
	tenant_id	BIGINT UNSIGNED NOT NULL,
	contact_id	BIGINT UNSIGNED NOT NULL,
	whatsapp_account_id BIGINT UNSIGNED NOT NULL,
	status		ENUM('open', 'pending', 'closed') NOT NULL DEFAULT 'open',
	assigned_to	BIGINT UNSIGNED NULL,
	last_message_at	DATETIME NULL,
	created_at	DATETIME NOT NULL,
	updated_at	DATETIME NOT NULL,
	open_marker	TINYINT AS (IF(status = 'closed', NULL, 1)) PERSISTENT,
	UNIQUE KEY conversations_open (contact_id, whatsapp_account_id, open_marker),
	-- The lists by latest activity (GET /conversations), newest first
	-- (last_message_at DESC, id DESC): each filter reads its page straight
	-- from one of these keys, backwards, and stops after OFFSET + LIMIT
	-- entries, on a tenant with 100,000 conversations and more:
	--   no filter               conversations_activity
	--   status                  conversations_status_activity (or
	--                           conversations_activity when most match)
	--   assigned_to (+ status)  conversations_assigned_activity (status
	--                           checked from the index, before any row)
	-- A message updates last_message_at, and so these three keys: the
	-- price of an indexed order.
	KEY conversations_activity (tenant_id, last_message_at, id),
	KEY conversations_status_activity (tenant_id, status, last_message_at, id),
	KEY conversations_assigned_activity
	    (tenant_id, assigned_to, last_message_at, id, status)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_general_ci;

-- Messages, inbound and outbound. Outbound ones are the spooler's queue:
-- queued -> sending -> sent -> delivered -> read, or failed; status_rank
-- orders them so updates never move a message backwards.
CREATE TABLE messages (
	id		BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
	tenant_id	BIGINT UNSIGNED NOT NULL,
	conversation_id	BIGINT UNSIGNED NOT NULL,
	contact_id	BIGINT UNSIGNED NOT NULL,
	whatsapp_account_id BIGINT UNSIGNED NOT NULL,
	direction	ENUM('inbound', 'outbound') NOT NULL,
	type		VARCHAR(16) CHARACTER SET ascii NOT NULL,
	to_phone	VARCHAR(16) CHARACTER SET ascii NOT NULL,
	content		MEDIUMTEXT NOT NULL,		-- JSON, as accepted
	status		ENUM('queued', 'sending', 'sent', 'delivered', 'read',
			    'failed', 'received') NOT NULL,
	wamid		VARCHAR(255) CHARACTER SET ascii NULL,
	error_code	INT NULL,
	error_title	VARCHAR(255) NULL,
	error_message	TEXT NULL,
	attempts	INT UNSIGNED NOT NULL DEFAULT 0,
	next_attempt_at	DATETIME(3) NOT NULL,
	sending_since	DATETIME(3) NULL,	-- set while a request is in flight
	-- The spooler (its lease holder name) whose request for a 'sending'
	-- message is in flight or whose answer it still owes the database;
	-- NULL once the outcome is ambiguous (no answer to a request that may
	-- have reached Meta). Recovery queues a 'sending' message again only
	-- when no live spooler answers for it: holder NULL, or a holder that
	-- no longer holds the account's lease (docs/decisions.md, "The
	-- spooler").
	sending_holder	VARCHAR(128) NULL,
	-- How often recovery queued the message again without knowing whether
	-- Meta had it. One at most: after that, an unresolved message fails as
	-- ambiguous instead of going out a third time.
	blind_resends	TINYINT UNSIGNED NOT NULL DEFAULT 0,
	accepted_at	DATETIME(3) NOT NULL,	-- when the API took it (ms)
	sent_at		DATETIME(3) NULL,	-- when Meta accepted it (ms)
	created_at	DATETIME NOT NULL,
	updated_at	DATETIME NOT NULL,
	UNIQUE KEY messages_wamid (wamid),
	KEY messages_queue (whatsapp_account_id, status, next_attempt_at),
	KEY messages_sending (status, sending_since),
	KEY messages_conversation (conversation_id, id),
	KEY messages_tenant (tenant_id, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_general_ci;

-- The lists' totals. Counting 60,000 open conversations in the index takes
-- 7-9 ms, most of a page's time; these counts take one short range read.
-- One row per tenant, status and assignee (0: nobody), kept by triggers so
-- that every writer of conversations (sends, inbound messages, the API,
-- whatever comes later) keeps them right in its own transaction without
-- knowing about them. Only a change of status or assignee touches them,
-- not a new message. Sharded like tenant_counters.
CREATE TABLE conversation_counters (
	tenant_id	BIGINT UNSIGNED NOT NULL,
	status		ENUM('open', 'pending', 'closed') NOT NULL,
	assigned_to	BIGINT UNSIGNED NOT NULL,	-- 0: unassigned
	shard		TINYINT UNSIGNED NOT NULL DEFAULT (CONNECTION_ID() % 16),
	n		BIGINT NOT NULL,
	PRIMARY KEY (tenant_id, status, assigned_to, shard)
) ENGINE = InnoDB;

-- The 24-hour service window per WhatsApp number, as Meta keeps it: when
-- the customer last wrote to each of the tenant's numbers. The send check
-- reads it by its primary key (contact, account); the inbound procedure
-- writes it under the contact's row lock, which it already holds.
-- Deleting a contact deletes its windows (the foreign key). No foreign key
-- to whatsapp_accounts: accounts are never deleted, and its check would
-- take a shared lock on the account row, which the spooler's lease updates
-- hold exclusively, on every new window.
CREATE TABLE contact_windows (
	contact_id	BIGINT UNSIGNED NOT NULL,
	whatsapp_account_id BIGINT UNSIGNED NOT NULL,
	last_inbound_at	DATETIME NOT NULL,	-- UTC, never in the future
	PRIMARY KEY (contact_id, whatsapp_account_id),
	CONSTRAINT contact_windows_contact_fk FOREIGN KEY (contact_id)
	    REFERENCES contacts (id) ON DELETE CASCADE
) ENGINE = InnoDB;
