-- API keys.
--
-- A routine file: re-applied by `wazera-admin migrate` whenever its text
-- changes (sql/README.md). Each routine here is its current version only.

-- Revoking a key marks it and forgets its rate counter in one call, run in
-- one transaction by its callers (the API's DELETE /api-keys/{id} and
-- wazera-admin apikey revoke). Workers serve a cached key for as long as
-- its counter row lives (app/fcgi/auth.c): a revocation whose second
-- statement failed left a revoked key working for 10 s. rate_counters is a
-- MEMORY table (InnoDB on a Galera cluster: counters.sql), outside the
-- transaction when MEMORY, so the counter goes last: should
-- the commit fail, the key is still alive and merely reloaded, and the
-- caller reports the failure.
-- p_tenant NULL: any tenant's key (the CLI). Answers the keys matched.
CREATE OR REPLACE PROCEDURE wz_apikey_revoke(
	IN p_tenant BIGINT UNSIGNED, IN p_id BIGINT UNSIGNED)
BEGIN
	DECLARE v_n INT DEFAULT 0;

	UPDATE api_keys SET revoked_at = COALESCE(revoked_at, UTC_TIMESTAMP())
	WHERE id = p_id AND (p_tenant IS NULL OR tenant_id = p_tenant);
	SET v_n = ROW_COUNT();
	IF v_n > 0 THEN
		DELETE FROM rate_counters WHERE key_id = p_id;
	END IF;
	SELECT v_n;
END;
