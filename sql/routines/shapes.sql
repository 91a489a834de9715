-- Shapes: each resource as the API shows it, defined once.
--
-- A routine file: re-applied by `wazera-admin migrate` whenever its text
-- changes (sql/README.md). Each routine here is its current version only.
--
-- The API's answers read
-- the json column and pass it through unparsed, and the routines read it
-- for their events' data (docs/decisions.md, "One shape per resource").
-- The views are merged into the statements that read them (ALGORITHM =
-- MERGE): a point read or a list page keeps the keys and the plan of the
-- tables beneath, and a column not selected costs nothing. Besides json,
-- each view has the columns its readers filter and order by.
--
-- The JSON is written out with CONCAT, not JSON_OBJECT: the same text
-- (blanks after ':' and ','), at about a quarter of the database's cost
-- (JSON_OBJECT and JSON_QUERY parse and re-serialise; a page of 25
-- conversations took 135 µs against 83 for the bare columns, 93 this
-- way), and the database is the busiest process. Every string goes
-- through JSON_QUOTE, which escapes it; NULL is null; a flag is true or
-- false; times are RFC 3339 UTC (the session's time zone is UTC); the
-- stored JSON columns (tags, custom_fields, content) are embedded as
-- stored: only Wazera writes them, always json-c's output of a validated
-- array or object.

-- A contact. The columns beside json are what the search filters on and
-- what an update compares and re-indexes (app/fcgi/contacts.c).
CREATE OR REPLACE ALGORITHM = MERGE SQL SECURITY INVOKER VIEW contact_shapes AS
SELECT c.id, c.tenant_id, c.name, c.phone, c.email, c.tags, c.custom_fields,
    c.opted_out,
    CONCAT('{"id": ', c.id,
	', "name": ', COALESCE(JSON_QUOTE(c.name), 'null'),
	', "phone": ', JSON_QUOTE(c.phone),
	', "email": ', COALESCE(JSON_QUOTE(c.email), 'null'),
	', "tags": ', c.tags, ', "custom_fields": ', c.custom_fields,
	', "opted_out": ', IF(c.opted_out, 'true', 'false'),
	', "created_at": ', DATE_FORMAT(c.created_at, '"%Y-%m-%dT%H:%i:%sZ"'),
	', "updated_at": ', DATE_FORMAT(c.updated_at, '"%Y-%m-%dT%H:%i:%sZ"'),
	'}') AS json
  FROM contacts c;

-- A message with its error as JSON (null when none), which both of its
-- shapes show.
CREATE OR REPLACE ALGORITHM = MERGE SQL SECURITY INVOKER VIEW message_errors AS
SELECT m.id, m.tenant_id, m.conversation_id, m.contact_id,
    m.whatsapp_account_id, m.direction, m.type, m.content, m.status,
    m.wamid, m.created_at, m.updated_at,
    IF(m.error_code IS NULL, 'null', CONCAT('{"code": ', m.error_code,
	', "title": ', COALESCE(JSON_QUOTE(m.error_title), 'null'),
	', "message": ', COALESCE(JSON_QUOTE(m.error_message), 'null'), '}'))
	AS error
  FROM messages m;

-- A message, and (status_json) what GET /messages/{id}/status shows of
-- it: the same values, five of them.
CREATE OR REPLACE ALGORITHM = MERGE SQL SECURITY INVOKER VIEW message_shapes AS
SELECT m.id, m.tenant_id, m.conversation_id,
    CONCAT('{"id": ', m.id, ', "conversation_id": ', m.conversation_id,
	', "contact_id": ', m.contact_id,
	', "whatsapp_account_id": ', m.whatsapp_account_id,
	', "direction": ', JSON_QUOTE(m.direction),
	', "type": ', JSON_QUOTE(m.type), ', "content": ', m.content,
	', "status": ', JSON_QUOTE(m.status),
	', "wamid": ', COALESCE(JSON_QUOTE(m.wamid), 'null'),
	', "error": ', m.error,
	', "created_at": ', DATE_FORMAT(m.created_at, '"%Y-%m-%dT%H:%i:%sZ"'),
	', "updated_at": ', DATE_FORMAT(m.updated_at, '"%Y-%m-%dT%H:%i:%sZ"'),
	'}') AS json,
    CONCAT('{"id": ', m.id, ', "status": ', JSON_QUOTE(m.status),
	', "wamid": ', COALESCE(JSON_QUOTE(m.wamid), 'null'),
	', "error": ', m.error, ', "updated_at": ',
	DATE_FORMAT(m.updated_at, '"%Y-%m-%dT%H:%i:%sZ"'), '}') AS status_json
  FROM message_errors m;

-- A conversation with its contact's id, name and phone (a deleted
-- contact leaves name and phone null).
CREATE OR REPLACE ALGORITHM = MERGE SQL SECURITY INVOKER VIEW conversation_shapes AS
SELECT v.id, v.tenant_id, v.status, v.assigned_to, v.last_message_at,
    CONCAT('{"id": ', v.id, ', "contact": {"id": ', v.contact_id,
	', "name": ', COALESCE(JSON_QUOTE(c.name), 'null'),
	', "phone": ', COALESCE(JSON_QUOTE(c.phone), 'null'),
	'}, "whatsapp_account_id": ', v.whatsapp_account_id,
	', "status": ', JSON_QUOTE(v.status),
	', "assigned_to": ', COALESCE(v.assigned_to, 'null'),
	', "last_message_at": ', COALESCE(DATE_FORMAT(v.last_message_at,
	    '"%Y-%m-%dT%H:%i:%sZ"'), 'null'),
	', "created_at": ', DATE_FORMAT(v.created_at, '"%Y-%m-%dT%H:%i:%sZ"'),
	', "updated_at": ', DATE_FORMAT(v.updated_at, '"%Y-%m-%dT%H:%i:%sZ"'),
	'}') AS json
  FROM conversations v
  LEFT JOIN contacts c ON c.id = v.contact_id AND c.tenant_id = v.tenant_id;

-- A webhook (never its secret). events is stored as a comma-separated
-- list of event names, which need no escaping; converted to utf8mb4, as
-- an ASCII column beside JSON_QUOTE's utf8mb4 is an illegal mix of
-- collations for CONCAT (error 1271).
CREATE OR REPLACE ALGORITHM = MERGE SQL SECURITY INVOKER VIEW webhook_shapes AS
SELECT w.id, w.tenant_id, w.status,
    CONCAT('{"id": ', w.id, ', "url": ', JSON_QUOTE(w.url),
	', "events": ["', REPLACE(CONVERT(w.events USING utf8mb4), ',', '", "'),
	    '"]',
	', "status": ', JSON_QUOTE(w.status),
	', "disabled_reason": ', COALESCE(JSON_QUOTE(w.disabled_reason), 'null'),
	', "created_at": ', DATE_FORMAT(w.created_at, '"%Y-%m-%dT%H:%i:%sZ"'),
	', "updated_at": ', DATE_FORMAT(w.updated_at, '"%Y-%m-%dT%H:%i:%sZ"'),
	'}') AS json
  FROM webhooks w;

-- A delivery as its webhook's log lists it. event_id is the event's
-- uuid: the "id" of the body, what receivers dedupe on.
CREATE OR REPLACE ALGORITHM = MERGE SQL SECURITY INVOKER VIEW webhook_delivery_shapes AS
SELECT d.id, d.tenant_id, d.webhook_id, d.status,
    CONCAT('{"id": ', d.id, ', "webhook_id": ', d.webhook_id,
	', "event_id": ', JSON_QUOTE(e.uuid),
	', "event": ', JSON_QUOTE(e.type),
	', "status": ', JSON_QUOTE(d.status),
	', "attempts": ', d.attempts,
	', "last_status_code": ', COALESCE(d.last_status_code, 'null'),
	', "last_error": ', COALESCE(JSON_QUOTE(d.last_error), 'null'),
	', "last_attempt_at": ', COALESCE(DATE_FORMAT(d.last_attempt_at,
	    '"%Y-%m-%dT%H:%i:%sZ"'), 'null'),
	', "next_attempt_at": ', IF(d.status = 'pending',
	    DATE_FORMAT(d.next_attempt_at, '"%Y-%m-%dT%H:%i:%sZ"'), 'null'),
	', "created_at": ', DATE_FORMAT(d.created_at, '"%Y-%m-%dT%H:%i:%sZ"'),
	'}') AS json
  FROM webhook_deliveries d JOIN events e ON e.id = d.event_id;

-- An attempt of a delivery, as its detail lists them (oldest first).
CREATE OR REPLACE ALGORITHM = MERGE SQL SECURITY INVOKER VIEW webhook_attempt_shapes AS
SELECT a.id, a.delivery_id,
    CONCAT('{"attempted_at": ', DATE_FORMAT(a.attempted_at,
	    '"%Y-%m-%dT%H:%i:%sZ"'),
	', "status_code": ', COALESCE(a.status_code, 'null'),
	', "duration_ms": ', a.duration_ms,
	', "error": ', COALESCE(JSON_QUOTE(a.error), 'null'),
	', "error_class": ', COALESCE(JSON_QUOTE(a.error_class), 'null'),
	', "response_body": ', COALESCE(JSON_QUOTE(a.response), 'null'),
	'}') AS json
  FROM webhook_attempts a;

-- A campaign (SPEC 7) with its stats, the sums over its counters' shards
-- (campaign_counters: never a count of its recipients), and its error
-- (null, or Meta's error that stopped it). Read by the API and for the
-- data of campaign.completed.
CREATE OR REPLACE ALGORITHM = MERGE SQL SECURITY INVOKER VIEW campaign_shapes AS
SELECT c.id, c.tenant_id, c.status, c.segment_id,
    CONCAT('{"id": ', c.id, ', "name": ', JSON_QUOTE(c.name),
	', "whatsapp_account_id": ', c.whatsapp_account_id,
	', "segment_id": ', c.segment_id,
	', "template_name": ', JSON_QUOTE(c.template_name),
	', "template_language": ',
	    JSON_QUOTE(CONVERT(c.template_language USING utf8mb4)),
	', "template_components": ', c.template_components,
	', "status": ', JSON_QUOTE(CONVERT(c.status USING utf8mb4)),
	', "scheduled_at": ', DATE_FORMAT(c.scheduled_at,
	    '"%Y-%m-%dT%H:%i:%sZ"'),
	', "started_at": ', COALESCE(DATE_FORMAT(c.started_at,
	    '"%Y-%m-%dT%H:%i:%sZ"'), 'null'),
	', "finished_at": ', COALESCE(DATE_FORMAT(c.finished_at,
	    '"%Y-%m-%dT%H:%i:%sZ"'), 'null'),
	', "error": ', IF(c.error_code IS NULL, 'null', CONCAT('{"code": ',
	    c.error_code,
	    ', "title": ', COALESCE(JSON_QUOTE(c.error_title), 'null'),
	    ', "message": ', COALESCE(JSON_QUOTE(c.error_message), 'null'),
	    '}')),
	', "stats": ', (SELECT CONCAT('{"total": ', COALESCE(SUM(k.total), 0),
	    ', "queued": ', COALESCE(SUM(k.queued), 0),
	    ', "sent": ', COALESCE(SUM(k.sent), 0),
	    ', "delivered": ', COALESCE(SUM(k.delivered), 0),
	    ', "read": ', COALESCE(SUM(k.`read`), 0),
	    ', "failed": ', COALESCE(SUM(k.failed), 0), '}')
	    FROM campaign_counters k WHERE k.campaign_id = c.id),
	', "created_at": ', DATE_FORMAT(c.created_at, '"%Y-%m-%dT%H:%i:%sZ"'),
	', "updated_at": ', DATE_FORMAT(c.updated_at, '"%Y-%m-%dT%H:%i:%sZ"'),
	'}') AS json
  FROM campaigns c;

-- A recipient of a campaign as its recipients list shows it: its error
-- is its message's (kept by the trigger messages_campaign) or Wazera's
-- own (a contact deleted before its message was queued).
CREATE OR REPLACE ALGORITHM = MERGE SQL SECURITY INVOKER VIEW campaign_recipient_shapes AS
SELECT r.campaign_id, r.contact_id, r.status,
    CONCAT('{"contact_id": ', r.contact_id,
	', "phone": ', JSON_QUOTE(CONVERT(r.phone USING utf8mb4)),
	', "status": ', JSON_QUOTE(CONVERT(r.status USING utf8mb4)),
	', "message_id": ', COALESCE(r.message_id, 'null'),
	', "error": ', IF(r.error_code IS NULL, 'null', CONCAT('{"code": ',
	    r.error_code,
	    ', "title": ', COALESCE(JSON_QUOTE(r.error_title), 'null'),
	    ', "message": ', COALESCE(JSON_QUOTE(r.error_message), 'null'),
	    '}')),
	', "updated_at": ', DATE_FORMAT(r.updated_at, '"%Y-%m-%dT%H:%i:%sZ"'),
	'}') AS json
  FROM campaign_recipients r;
