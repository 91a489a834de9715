-- Campaign messages in the send queue (SPEC 7): what the spooler writes
-- when Meta's answer to a campaign's message stops the whole campaign.
--
-- A routine file: re-applied by `wazera-admin migrate` whenever its text
-- changes (sql/README.md). Each routine here is its current version only.

-- Stops a running campaign after Meta's campaign-level error (the
-- template paused or disabled, the account unable to send marketing:
-- 132015, 132016, 131031, 368, 131048, 131063): status failed with that
-- error, finished now, phase 'parking' (the expansion's spooler takes its
-- queued messages out of the send queue; a claim that meets one of them
-- meanwhile parks it itself). Called in the transaction of the failure
-- of the message that got the error (wz_message_result), so the campaign
-- and that recipient change together. A campaign no longer running
-- (cancelled, failed by another message's answer, completed) is left as
-- it is: the first error is the campaign's. The row lock taken here
-- serialises it with the API's cancel and the expansion's batches.
-- Returns 1 if it stopped the campaign now, else 0.
CREATE OR REPLACE PROCEDURE wz_campaign_stop(IN p_campaign BIGINT UNSIGNED,
	IN p_code INT, IN p_title VARCHAR(255), IN p_message TEXT)
BEGIN
	UPDATE campaigns SET status = 'failed',
	    phase = IF(phase IN ('snapshot', 'queue', 'sending'), 'parking',
		phase),
	    error_code = p_code, error_title = p_title,
	    error_message = p_message, finished_at = NOW(3),
	    updated_at = UTC_TIMESTAMP()
	 WHERE id = p_campaign AND status = 'running';
	SELECT ROW_COUNT() > 0;
END;
