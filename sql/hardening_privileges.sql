-- The privilege model of the README: an admin registers specs, a writer
-- tracks events (directly or through triggers), a reader reads events and
-- views; PUBLIC may track and read the catalog view, and nothing else.
CREATE EXTENSION telemetry;
\set SHOW_CONTEXT never
SELECT telemetry_run_maintenance() ? 'created' AS maintained;
INSERT INTO telemetry.secrets (name, value, hosts) VALUES ('hook', 'whsec_c2VjcmV0', '{api.segment.io}');

-- Tables of the extension, including ones features add later and the
-- partitions maintenance creates: every table in a schema that holds one
-- of the extension's tables.
CREATE VIEW pg_temp.ext_tables AS
SELECT c.oid::regclass AS tbl
FROM pg_class c
WHERE c.relkind IN ('r', 'p')
	AND c.relnamespace IN (SELECT r.relnamespace FROM pg_depend d JOIN pg_class r ON r.oid = d.objid
		WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_extension'::regclass
			AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'telemetry') AND d.deptype = 'e');
SELECT count(*) > 3 AS has_tables FROM pg_temp.ext_tables;

-- The roles, granted as the README says.
CREATE ROLE regress_tadmin;
CREATE ROLE regress_twriter;
CREATE ROLE regress_treader;
CREATE ROLE regress_tnobody;
GRANT EXECUTE ON FUNCTION telemetry_register_spec(jsonb), telemetry_unregister_spec(text, text) TO regress_tadmin;
GRANT SELECT ON telemetry.events TO regress_treader;
CREATE SCHEMA regress_app;
GRANT USAGE, CREATE ON SCHEMA regress_app TO regress_twriter;

-- PUBLIC cannot change any table of the extension ...
SELECT tbl AS public_may_change FROM pg_temp.ext_tables
WHERE has_table_privilege('regress_tnobody', tbl, 'INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
ORDER BY 1::text COLLATE "C";
-- ... and reads none of its tables (PUBLIC reads views: the anomaly
-- history through views that apply the events' privacy); never events,
-- quarantine, secrets or the catalog.
SELECT tbl AS public_may_read FROM pg_temp.ext_tables
WHERE has_table_privilege('regress_tnobody', tbl, 'SELECT')
ORDER BY 1::text COLLATE "C";
-- The SECURITY DEFINER functions PUBLIC may call are exactly the documented
-- ones: tracking (and the trigger's helper), reading event definitions,
-- which hold no secret, and the rows of telemetry.delivery_status (no
-- arguments: exactly what the view shows).  A new one must be added here
-- and to the README on purpose.
SELECT p.oid::regprocedure AS undocumented_public_security_definer
FROM pg_depend d JOIN pg_proc p ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
	AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'telemetry')
	AND p.prosecdef AND has_function_privilege('regress_tnobody', p.oid, 'EXECUTE')
	AND p.oid::regprocedure::text NOT IN (
		'telemetry_track(text,text,jsonb,jsonb,timestamp with time zone)',
		'telemetry_track(text,integer,jsonb,jsonb,timestamp with time zone)',
		'telemetry._track_row(text,text,jsonb,jsonb,timestamp with time zone)',
		'telemetry_event_def(text,text)',
		'telemetry._delivery_status()')
ORDER BY 1::text COLLATE "C";
-- Who is the owner is decided from the current effective user, which in a
-- SECURITY DEFINER function of the extension is always the owner: no such
-- function may ask (it would reveal secrets to, or approve, anyone).  The
-- entry points that need their caller are not SECURITY DEFINER.
SELECT p.oid::regprocedure AS security_definer_asking_for_the_owner
FROM pg_depend d JOIN pg_proc p ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
	AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'telemetry')
	AND p.prosecdef AND p.prosrc ~ '_caller_is_owner'
ORDER BY 1::text COLLATE "C";
SELECT p.oid::regprocedure AS entry_point, p.prosecdef AS security_definer, (SELECT l.lanname FROM pg_language l WHERE l.oid = p.prolang) AS language
FROM pg_proc p
WHERE p.oid IN ('telemetry_spec(text,text)'::regprocedure, 'telemetry_register_spec(jsonb)'::regprocedure,
	'telemetry_load_spec(text)'::regprocedure, 'telemetry_unregister_spec(text,text)'::regprocedure,
	'telemetry_event_def(text,text)'::regprocedure, 'telemetry_set_secret(text,text,text[])'::regprocedure)
ORDER BY 1::text COLLATE "C";
-- The catalog's entry points are C: they act as the owner themselves, with
-- no internal SQL function to call.  The internal functions that read
-- secrets are not executable by PUBLIC (telemetry_set_secret is, on
-- purpose: it refuses non-owners with an error that keeps the secret out of
-- the server log).
SELECT f AS internal_function, has_function_privilege('regress_tnobody', f, 'EXECUTE') AS public_may_execute
FROM unnest(ARRAY['telemetry._provider_refs_problem(text,jsonb,text)', 'telemetry._destination_url(text,jsonb)',
	'telemetry._delivery_config(jsonb)', 'telemetry_set_secret(text,text,text[])']) AS f;

-- The admin registers and unregisters specs; it reads no secret.
SET ROLE regress_tadmin;
SELECT telemetry_register_spec('{"meta": {"key": "priv", "version": "1.0.0"},
	"config": {"providers": [{"type": "webhook", "config": {"url": "https://h.example/x", "secret": "whsec_literal"}},
		{"type": "segment", "config": {"writeKey": {"secret": "hook"}}}]},
	"events": [{"key": "priv.e", "version": "1.0.0", "privacy": "pii", "semantics": {"what": "w"},
		"properties": {"n": {"type": "number", "required": true}, "email": {"type": "string", "pii": true},
			"uid": {"type": "string", "redaction": "hash"}}}]}');
SELECT telemetry_register_spec('{"meta": {"key": "priv.tmp", "version": "1.0.0"},
	"events": [{"key": "priv.tmp.e", "version": "1.0.0", "privacy": "public", "semantics": {"what": "w"}, "properties": {}}]}');
SELECT telemetry_unregister_spec('priv.tmp', '1.0.0');
SELECT * FROM telemetry.secrets;
SELECT key FROM telemetry.redaction_key;
SELECT telemetry_spec('priv') #> '{config,providers}' AS providers;
RESET ROLE;

-- The writer tracks, directly and through a trigger on its own table ...
SET ROLE regress_twriter;
SELECT telemetry_track('priv.e', '1.0.0', '{"n": 1, "email": "a@b.c"}') IS NOT NULL AS tracked;
CREATE TABLE regress_app.orders (id integer, n numeric, email text);
CREATE TRIGGER track AFTER INSERT ON regress_app.orders FOR EACH ROW
	EXECUTE FUNCTION telemetry_track_trigger('priv.e', '1.0.0');
INSERT INTO regress_app.orders VALUES (1, 2, 'c@d.e');
-- ... and can do nothing else: register specs, read or write the tables
-- (events, secrets, the redaction key, the catalog), change redaction,
-- limits or counters, or run maintenance.
SELECT telemetry_register_spec('{"meta": {"key": "w", "version": "1.0.0"}, "events": []}');
SELECT telemetry_unregister_spec('priv', '1.0.0');
SELECT count(*) FROM telemetry.events;
INSERT INTO telemetry.events (id, event, version, spec, occurred_at)
	VALUES (gen_random_uuid(), 'priv.e', '1.0.0', 'priv@1.0.0', now());
DELETE FROM telemetry.events;
SELECT * FROM telemetry.secrets;
SELECT key FROM telemetry.redaction_key;
UPDATE telemetry.event_properties SET redaction = NULL;
SET telemetry.max_event_bytes = '1MB';
SELECT telemetry_reset_stats();
SELECT telemetry_run_maintenance();
RESET ROLE;
-- the writer has no write privilege on any table, and reads only what
-- PUBLIC reads
SELECT tbl, privilege FROM pg_temp.ext_tables,
	unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) AS privilege
WHERE has_table_privilege('regress_twriter', tbl, privilege)
	AND NOT has_table_privilege('regress_tnobody', tbl, privilege)
ORDER BY 1::text COLLATE "C", 2;

-- The reader reads events (redacted), the catalog view and the counters,
-- and no secret.
SET ROLE regress_treader;
SELECT event, properties FROM telemetry.events ORDER BY (properties ->> 'n')::numeric;
SELECT event, version, properties FROM telemetry.event_catalog;
SELECT event, stored FROM telemetry.track_stats WHERE event = 'priv.e';
SELECT telemetry_spec('priv') #>> '{config,providers,0,config,secret}' AS masked;
-- it may track, but not have chosen values hashed: it could compare the
-- pseudonyms with stored ones (sql/track_hash_guard.sql has the details)
SELECT telemetry_track('priv.e', '1.0.0', '{"n": 8}') IS NOT NULL AS tracked;
SELECT telemetry_track('priv.e', '1.0.0', '{"n": 8, "uid": "guess@example.com"}');
SELECT * FROM telemetry.secrets;
SELECT key FROM telemetry.redaction_key;
SELECT count(*) FROM telemetry.rejected_events;
DELETE FROM telemetry.events;
RESET ROLE;

-- Tracking is open to PUBLIC by default; one REVOKE closes it, and a GRANT
-- gives it back to the writer (triggers included).
REVOKE EXECUTE ON FUNCTION telemetry_track(text, text, jsonb, jsonb, timestamptz),
	telemetry_track(text, integer, jsonb, jsonb, timestamptz),
	telemetry._track_row(text, text, jsonb, jsonb, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION telemetry_track(text, text, jsonb, jsonb, timestamptz),
	telemetry_track(text, integer, jsonb, jsonb, timestamptz),
	telemetry._track_row(text, text, jsonb, jsonb, timestamptz) TO regress_twriter;
SET ROLE regress_treader;
SELECT telemetry_track('priv.e', '1.0.0', '{"n": 9}');
RESET ROLE;
SET ROLE regress_twriter;
SELECT telemetry_track('priv.e', 1, '{"n": 3}') IS NOT NULL AS tracked;
INSERT INTO regress_app.orders VALUES (4, 4, NULL);
RESET ROLE;
SELECT event, properties FROM telemetry.events ORDER BY (properties ->> 'n')::numeric;

DROP TABLE regress_app.orders;
DROP SCHEMA regress_app;
DROP EXTENSION telemetry;
DROP ROLE regress_tadmin;
DROP ROLE regress_twriter;
DROP ROLE regress_treader;
DROP ROLE regress_tnobody;
