-- Tombstones: an event key@version keeps its definition after the spec
-- versions that listed it are unregistered (telemetry.event_tombstones).
-- Registering it again must give the same definition under the same spec
-- key, and new versions of its major version are checked against it.
CREATE EXTENSION telemetry;
\set SHOW_CONTEXT never
\set VERBOSITY default

-- reg(spec key, spec version, event version, properties, what)
CREATE FUNCTION reg(k text, v text, ev text, props jsonb, what text DEFAULT 'w') RETURNS text
LANGUAGE sql AS $$
	SELECT telemetry_register_spec(jsonb_build_object(
		'meta', jsonb_build_object('key', k, 'version', v),
		'events', jsonb_build_array(jsonb_build_object('key', 'tb.e', 'version', ev,
			'semantics', jsonb_build_object('what', what), 'privacy', 'internal', 'properties', props))))
$$;

SELECT reg('tb', '1.0.0', '1.0.0', '{"email": {"type": "string", "pii": true, "redaction": "hash"}, "n": {"type": "number"}}');
SELECT reg('tb', '1.1.0', '1.0.0', '{"email": {"type": "string", "pii": true, "redaction": "hash"}, "n": {"type": "number"}}');
-- still listed by 1.1.0: no tombstone
SELECT telemetry_unregister_spec('tb', '1.0.0');
SELECT count(*) AS tombstones FROM telemetry.event_tombstones;
-- the last version that lists it goes: a tombstone keeps the definition
SELECT telemetry_unregister_spec('tb', '1.1.0');
SELECT event, version, spec_key, spec_version, jsonb_path_query_first(definition, '$.properties[*] ? (@.name == "email").redaction') AS email_redaction
FROM telemetry.event_tombstones;
SELECT count(*) AS event_defs FROM telemetry.event_defs;

-- the same definition comes back (the tombstone goes), also in another spec version
SELECT reg('tb', '1.2.0', '1.0.0', '{"email": {"type": "string", "pii": true, "redaction": "hash"}, "n": {"type": "number"}}');
SELECT count(*) AS tombstones FROM telemetry.event_tombstones;
SELECT event, version, spec FROM telemetry.event_catalog;
SELECT telemetry_track('tb.e', '1.0.0', '{"email": "a@example.com", "n": 1}') IS NOT NULL AS tracked;
SELECT telemetry_unregister_spec('tb', '1.2.0');

-- anything else under the same key@version is refused, naming the first difference
SELECT reg('tb', '1.2.0', '1.0.0', '{"email": {"type": "string", "pii": true}, "n": {"type": "number"}}');
SELECT reg('tb', '1.2.0', '1.0.0', '{"email": {"type": "string", "pii": true, "redaction": "hash"}, "n": {"type": "number"}}', 'other');
SELECT reg('tb', '1.2.0', '1.0.0', '{"email": {"type": "string", "pii": true, "redaction": "hash"}, "n": {"type": "number"}, "m": {"type": "number"}}');
-- and under another spec key, even identical
SELECT reg('tb.other', '1.0.0', '1.0.0', '{"email": {"type": "string", "pii": true, "redaction": "hash"}, "n": {"type": "number"}}');

-- a new version of the same major is checked against the retired one
SELECT reg('tb', '1.3.0', '1.1.0', '{"email": {"type": "string"}, "n": {"type": "number"}}');
SELECT reg('tb', '1.3.0', '1.1.0', '{"email": {"type": "string", "pii": true, "redaction": "hash"}}');
SELECT reg('tb', '1.3.0', '1.1.0', '{"email": {"type": "string", "pii": true, "redaction": "drop"}, "n": {"type": "number"}, "m": {"type": "number"}}');
-- a new major version is free
SELECT reg('tb', '2.0.0', '2.0.0', '{"email": {"type": "string"}}');
SELECT telemetry_track('tb.e', '1.0.0', '{"email": "a@example.com", "n": 1}');
SELECT event, version FROM telemetry.event_catalog ORDER BY version;

-- deleting a spec version by hand leaves tombstones too
DELETE FROM telemetry.specs WHERE key = 'tb' AND version = '2.0.0';
SELECT event, version, spec_key, spec_version FROM telemetry.event_tombstones ORDER BY version;
SELECT reg('tb', '2.0.1', '2.0.0', '{"email": {"type": "string", "pii": true}}');

DROP FUNCTION reg(text, text, text, jsonb, text);
DROP EXTENSION telemetry;
