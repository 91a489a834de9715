-- Retention picks succeeded deliveries not yet purged and older than the
-- retention (SQL_WH_PURGE_PICK): with purged_at in the key, the rows
-- already purged (they stay, countable) are not walked again every
-- minute.
ALTER TABLE webhook_deliveries DROP KEY deliveries_retention,
	ADD KEY deliveries_retention (status, purged_at, created_at);
