-- The dashboard (SPEC 10): people who sign in, their sessions, and the
-- throttle on guessing their passwords.

-- A user's role and password. password_hash is libsodium's
-- crypto_pwhash_str (Argon2id, its own salt and parameters in the string);
-- NULL: the user cannot sign in. login_email is the email while the user
-- has a password, unique across tenants, so an email and a password name
-- one user: login asks for no tenant.
ALTER TABLE users
	ADD COLUMN role ENUM('admin', 'agent') NOT NULL DEFAULT 'agent'
	    AFTER email,
	ADD COLUMN password_hash VARCHAR(255) NULL AFTER role,
	ADD COLUMN login_email VARCHAR(255) NULL AFTER password_hash,
	ADD UNIQUE KEY users_login (login_email);

-- A signed-in browser. Only the BLAKE2b-256 of the cookie's random id is
-- kept, so the table's rows (or a backup of them) open no session. Valid
-- while expires_at (created + 7 days) is ahead and last_seen_at (refreshed
-- at most once a minute) within 12 hours. Deleted at logout, at a password
-- change and, once expired, by the spooler's housekeeping.
CREATE TABLE sessions (
	id_hash		BINARY(32) NOT NULL PRIMARY KEY,
	user_id		BIGINT UNSIGNED NOT NULL,
	tenant_id	BIGINT UNSIGNED NOT NULL,
	created_at	DATETIME NOT NULL,
	last_seen_at	DATETIME NOT NULL,
	expires_at	DATETIME NOT NULL,
	KEY sessions_user (user_id),
	KEY sessions_expiry (expires_at),
	KEY sessions_seen (last_seen_at),
	CONSTRAINT sessions_user_fk FOREIGN KEY (user_id) REFERENCES users (id)
	    ON DELETE CASCADE
) ENGINE = InnoDB;

-- Rate-limit counters of signed-in users, as rate_counters are of keys:
-- one row per user, a fixed one-minute window.
CREATE TABLE user_rate_counters (
	user_id		BIGINT UNSIGNED NOT NULL PRIMARY KEY,
	rl_window	BIGINT NOT NULL,
	hits		INT UNSIGNED NOT NULL
) ENGINE = MEMORY;

-- Failed sign-ins per subject (BLAKE2b-256 of a kind, a NUL and a value:
-- "user" and the id of the user the email signs in as, "email" and the
-- lowercased text of an email that names no user, "addr" and the client's
-- address, an IPv6 one by its /64), in a window of 15 minutes from the first
-- failure. An attempt is counted before its password is checked, by one
-- atomic upsert, and uncounted when it succeeds, so parallel guesses cannot
-- all slip under the limit. InnoDB: the counts must outlive a restart.
CREATE TABLE login_throttle (
	subject		BINARY(32) NOT NULL PRIMARY KEY,
	failures	INT UNSIGNED NOT NULL,
	window_end	DATETIME NOT NULL,
	KEY login_throttle_end (window_end)
) ENGINE = InnoDB;
