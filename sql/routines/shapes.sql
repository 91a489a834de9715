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
-- JSON: times as RFC 3339 UTC ('%Y-%m-%dT%H:%i:%sZ', the session's time
-- zone is UTC), stored JSON columns embedded as JSON (JSON_QUERY; a
-- stored value that is not an array or object, never written by Wazera,
-- shows as an empty one, as C showed it before), NULL
-- as null, a flag as true or false.

-- A contact. The columns beside json are what the search filters on and
-- what an update compares and re-indexes (app/fcgi/contacts.c).
CREATE OR REPLACE ALGORITHM = MERGE SQL SECURITY INVOKER VIEW contact_shapes AS
SELECT c.id, c.tenant_id, c.name, c.phone, c.email, c.tags, c.custom_fields,
    c.opted_out,
    JSON_OBJECT('id', c.id, 'name', c.name, 'phone', c.phone,
	'email', c.email, 'tags', COALESCE(JSON_QUERY(c.tags, '$'), JSON_ARRAY()),
	'custom_fields', COALESCE(JSON_QUERY(c.custom_fields, '$'),
	    JSON_OBJECT()),
	'opted_out', JSON_EXTRACT(IF(c.opted_out, 'true', 'false'), '$'),
	'created_at', DATE_FORMAT(c.created_at, '%Y-%m-%dT%H:%i:%sZ'),
	'updated_at', DATE_FORMAT(c.updated_at, '%Y-%m-%dT%H:%i:%sZ')) AS json
  FROM contacts c;

-- A message, and (status_json) what GET /messages/{id}/status shows of
-- it: the same values, five of them.
CREATE OR REPLACE ALGORITHM = MERGE SQL SECURITY INVOKER VIEW message_shapes AS
SELECT m.id, m.tenant_id, m.conversation_id,
    JSON_OBJECT('id', m.id, 'conversation_id', m.conversation_id,
	'contact_id', m.contact_id, 'whatsapp_account_id', m.whatsapp_account_id,
	'direction', m.direction, 'type', m.type,
	'content', COALESCE(JSON_QUERY(m.content, '$'), JSON_OBJECT()),
	'status', m.status,
	'wamid', m.wamid,
	'error', IF(m.error_code IS NULL, NULL, JSON_OBJECT('code', m.error_code,
	    'title', m.error_title, 'message', m.error_message)),
	'created_at', DATE_FORMAT(m.created_at, '%Y-%m-%dT%H:%i:%sZ'),
	'updated_at', DATE_FORMAT(m.updated_at, '%Y-%m-%dT%H:%i:%sZ')) AS json,
    JSON_OBJECT('id', m.id, 'status', m.status, 'wamid', m.wamid,
	'error', IF(m.error_code IS NULL, NULL, JSON_OBJECT('code', m.error_code,
	    'title', m.error_title, 'message', m.error_message)),
	'updated_at', DATE_FORMAT(m.updated_at, '%Y-%m-%dT%H:%i:%sZ'))
	AS status_json
  FROM messages m;

-- A conversation with its contact's id, name and phone (a deleted
-- contact leaves name and phone null).
CREATE OR REPLACE ALGORITHM = MERGE SQL SECURITY INVOKER VIEW conversation_shapes AS
SELECT v.id, v.tenant_id, v.status, v.assigned_to, v.last_message_at,
    JSON_OBJECT('id', v.id,
	'contact', JSON_OBJECT('id', v.contact_id, 'name', c.name,
	    'phone', c.phone),
	'whatsapp_account_id', v.whatsapp_account_id, 'status', v.status,
	'assigned_to', v.assigned_to,
	'last_message_at', DATE_FORMAT(v.last_message_at, '%Y-%m-%dT%H:%i:%sZ'),
	'created_at', DATE_FORMAT(v.created_at, '%Y-%m-%dT%H:%i:%sZ'),
	'updated_at', DATE_FORMAT(v.updated_at, '%Y-%m-%dT%H:%i:%sZ')) AS json
  FROM conversations v
  LEFT JOIN contacts c ON c.id = v.contact_id AND c.tenant_id = v.tenant_id;
