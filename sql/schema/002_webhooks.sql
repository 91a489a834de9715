-- Outgoing webhooks (SPEC 6): the endpoints, their deliveries (one per
-- event and subscribed webhook, written by wz_event_emit in the event's
-- transaction) and every attempt of each.

-- An endpoint of a tenant. Changed only by the API and, rarely, by a
-- spooler disabling it (410 Gone, 3 days of failures): the event fan-out
-- reads these rows in every writing transaction of the tenant, so what
-- the spoolers change often (leases, the failure run) is in
-- webhook_state, whose locks the API never waits for.
CREATE TABLE webhooks (
	id		BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
	tenant_id	BIGINT UNSIGNED NOT NULL,
	url		VARCHAR(2048) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	-- The subscribed event names, comma-separated, in lib/event.c's
	-- order (FIND_IN_SET in the fan-out).
	events		VARCHAR(1024) CHARACTER SET ascii NOT NULL,
	-- libsodium secretbox under the master key: nonce then ciphertext.
	secret_enc	VARBINARY(1024) NOT NULL,
	-- The secret a PUT replaced: deliveries carry its signature too
	-- until old_secret_until.
	old_secret_enc	VARBINARY(1024) NULL,
	old_secret_until DATETIME NULL,
	-- deleted: gone for the API; the spooler purges its deliveries in
	-- batches, then the row.
	status		ENUM('active', 'disabled', 'deleted') CHARACTER SET ascii
			NOT NULL DEFAULT 'active',
	disabled_reason	VARCHAR(255) NULL,
	created_at	DATETIME NOT NULL,
	updated_at	DATETIME NOT NULL,
	KEY webhooks_tenant (tenant_id, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_general_ci;

-- What the spoolers keep of a webhook: the lease (one spooler drives a
-- webhook at a time) and the start of its current run of failures (3
-- days of nothing but failures disable it). One row per webhook.
CREATE TABLE webhook_state (
	webhook_id	BIGINT UNSIGNED NOT NULL PRIMARY KEY,
	lease_holder	VARCHAR(128) NULL,
	lease_until	DATETIME(3) NULL,
	failing_since	DATETIME(3) NULL
) ENGINE = InnoDB;

-- One event for one webhook. pending: due at next_attempt_at (a claimed
-- one is pushed past its request's timeout, so a spooler that died
-- leaves it due again: at least once); succeeded; failed (retries used
-- up, 410, the webhook disabled). Attempts come in rounds: the fan-out
-- starts one, a recover starts another (round_started_at, and
-- round_attempts counting its attempts: the backoff's exponent). A round
-- retries for about 24 h (webhooks.time_scale shortens it for tests)
-- unless retry_until ends it earlier: a redeliver and a test ping are a
-- round of one attempt (retry_until = their time).
CREATE TABLE webhook_deliveries (
	id		BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
	tenant_id	BIGINT UNSIGNED NOT NULL,
	webhook_id	BIGINT UNSIGNED NOT NULL,
	event_id	BIGINT UNSIGNED NOT NULL,		-- events.id
	status		ENUM('pending', 'succeeded', 'failed') CHARACTER SET ascii
			NOT NULL,
	attempts	INT UNSIGNED NOT NULL DEFAULT 0,
	round_attempts	INT UNSIGNED NOT NULL DEFAULT 0,
	last_status_code SMALLINT UNSIGNED NULL,
	last_error	VARCHAR(512) NULL,
	last_attempt_at	DATETIME NULL,
	next_attempt_at	DATETIME(3) NULL,
	round_started_at DATETIME(3) NOT NULL,
	retry_until	DATETIME(3) NULL,
	-- The spooler whose attempt is in flight, and which attempt.
	sending_holder	VARCHAR(128) NULL,
	created_at	DATETIME NOT NULL,
	updated_at	DATETIME NOT NULL,
	-- Set when retention removed its bodies (the answers' excerpts and,
	-- once no delivery needs it, the event's data).
	purged_at	DATETIME NULL,
	UNIQUE KEY deliveries_once (webhook_id, event_id),
	KEY deliveries_list (webhook_id, id),
	KEY deliveries_due (webhook_id, status, next_attempt_at),
	KEY deliveries_event (event_id),
	KEY deliveries_retention (status, created_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_general_ci;

-- Every attempt of a delivery, as it happened.
CREATE TABLE webhook_attempts (
	id		BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
	delivery_id	BIGINT UNSIGNED NOT NULL,
	attempted_at	DATETIME(3) NOT NULL,
	status_code	SMALLINT UNSIGNED NULL,	-- NULL: no HTTP answer
	duration_ms	INT UNSIGNED NOT NULL,
	-- NULL on success; else http_status, timeout, connect, dns, tls,
	-- refused_target, redirect, transport.
	error_class	VARCHAR(32) CHARACTER SET ascii NULL,
	error		VARCHAR(512) NULL,
	response	VARCHAR(1024) NULL,	-- the answer's first 1 KiB
	KEY attempts_delivery (delivery_id, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_general_ci;

-- An event's data goes once retention removed the bodies of every
-- delivery of it.
ALTER TABLE events MODIFY data MEDIUMTEXT NULL;
