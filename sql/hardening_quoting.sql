-- Names from specs that reach SQL are quoted: keys built to break quoting
-- either obey the key rule and stay plain data, or are refused by it.
CREATE EXTENSION telemetry;
-- named secrets the specs below use, allowed to their providers' hosts
SELECT telemetry_set_secret('s--x', 'whsec_eA==', ARRAY['example.com']);
SELECT telemetry_set_secret('s', 'w', ARRAY['api.segment.io']);
\set SHOW_CONTEXT never
CREATE FUNCTION pg_temp.try_register(doc jsonb) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	RETURN telemetry_register_spec(doc);
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;
CREATE TEMP TABLE public_before AS
	SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace;

-- Keys the rule accepts that look like SQL: comments, keywords, table and
-- column names, dotted "schema.table" look-alikes, semver pre-release and
-- build parts with dashes.
SELECT telemetry_register_spec($spec${
  "meta": {"key": "x--y", "version": "1.0.0-drop--table.0+build--x",
    "title": "'; DROP TABLE telemetry.events; --", "description": "back\\slash \"quote\" $$ dollar %I %s %L",
    "owners": ["o'neil", "a;b"], "tags": ["--", "/*", "*/", "'"]},
  "config": {
    "context": {"select": {"type": "string"}, "x--y": {"type": "string", "pii": true, "redaction": "hash"}},
    "providers": [{"type": "webhook", "name": "drop--table",
      "config": {"url": "https://example.com/a'b?c=%27;--", "secret": {"secret": "s--x"},
        "headers": {"x'y": "v'1", "%I": "%s", "$$": {"env": "E--V"}, "`id`": "a;b"}}}]},
  "events": [
    {"key": "select", "version": "1.0.0", "privacy": "public", "semantics": {"what": "'; SELECT 1; --"},
     "properties": {"from": {"type": "string"}, "id": {"type": "string"}, "event": {"type": "string"},
       "x--y": {"type": "number"}, "telemetry.events": {"type": "json"}},
     "sampling": {"by": "x--y"}},
    {"key": "telemetry.events", "version": "1.0.0", "privacy": "public", "semantics": {"what": "w"}, "properties": {}},
    {"key": "events_default", "version": "1.0.0", "privacy": "public", "semantics": {"what": "w"}, "properties": {}},
    {"key": "pg_catalog.pg_class", "version": "1.0.0-x--y", "privacy": "public", "semantics": {"what": "w"}, "properties": {}}
  ]}$spec$);
-- everything reads back exactly as written
SELECT event, version, spec FROM telemetry.event_catalog ORDER BY 1 COLLATE "C", 2 COLLATE "C";
SELECT telemetry_spec('x--y') #> '{meta}' AS meta;
SELECT telemetry_spec('x--y') #> '{config,providers,0}' AS provider;
SELECT name, type FROM telemetry.providers;
SELECT event, scope, name FROM telemetry.event_properties ORDER BY 1 COLLATE "C", 2 COLLATE "C", 3 COLLATE "C";
SELECT telemetry_event_def('select') ->> 'what' AS what;

-- tracking them stores plain data
SELECT telemetry_run_maintenance() ? 'created' AS maintained;
SELECT telemetry_track('select', NULL, $${"from": "'; DROP TABLE telemetry.events; --", "id": "1",
	"event": "\\\"", "x--y": 1, "telemetry.events": {"a'b": "c;d"}}$$,
	'{"select": "s", "x--y": "u1"}') IS NOT NULL AS tracked;
SELECT telemetry_track('telemetry.events') IS NOT NULL AS tracked;
SELECT telemetry_track('events_default', '1') IS NOT NULL AS tracked;
SELECT telemetry_track('pg_catalog.pg_class', '1.0.0-x--y') IS NOT NULL AS tracked;
SELECT event, version, spec, properties, context - 'x--y' AS context,
	context ->> 'x--y' LIKE 'hmac-sha256:%' AS hashed
FROM telemetry.events ORDER BY event COLLATE "C";
-- unknown events with hostile names are just not found
SELECT telemetry_track($$x'); DROP TABLE telemetry.events; --$$);
SELECT telemetry_track('select', $$1'; --$$);
SELECT telemetry_track('%s%n%I');

-- Keys the rule refuses, in every place a key is checked; the error names
-- the place, and nothing is registered.
SELECT k.label, pg_temp.try_register(k.doc) AS result
FROM (VALUES ('{"meta": {"key": "K", "version": "1.0.0"},
	"events": [{"key": "K.e", "version": "1.0.0", "privacy": "public", "semantics": {"what": "w"},
		"properties": {"p": {"type": "string"}}, "sampling": {"by": "b"}}],
	"config": {"providers": [{"type": "segment", "name": "n", "config": {"writeKey": {"secret": "s"}}}],
		"context": {"c": {"type": "string"}}}}'::jsonb)) AS base(b),
LATERAL (
	SELECT v.label || ': ' || n.name AS label, jsonb_set(b, v.path, to_jsonb(n.name)) AS doc
	FROM (VALUES ('meta.key', '{meta,key}'::text[]), ('event key', '{events,0,key}'),
		('sampling.by', '{events,0,sampling,by}'), ('provider name', '{config,providers,0,name}'),
		('secret name', '{config,providers,0,config,writeKey,secret}')) AS v(label, path),
	(VALUES ($$a'b$$), ('a"b'), ('a;b'), ($$a\b$$), ('%I'), ('a b'), ('a$$b'), ('1a'), ('_a'),
		(''), (E'a\nb'), ('é'), ('a/*b')) AS n(name)
	UNION ALL
	SELECT 'property name: ' || n.name, jsonb_set(b, '{events,0,properties}', jsonb_build_object(n.name, '{"type": "string"}'::jsonb))
	FROM (VALUES ($$a'b$$), ('a;b'), ('%I'), ('a b')) AS n(name)
	UNION ALL
	SELECT 'context name: ' || n.name, jsonb_set(b, '{config,context}', jsonb_build_object(n.name, '{"type": "string"}'::jsonb))
	FROM (VALUES ($$a'b$$), ('a;b')) AS n(name)
	UNION ALL
	SELECT 'header name: ' || n.name, jsonb_set(b, '{config,providers,0}',
		jsonb_build_object('type', 'webhook', 'config', jsonb_build_object('url', 'https://h.example', 'secret', 'x',
			'headers', jsonb_build_object(n.name, 'v'))))
	FROM (VALUES ('a b'), ('a:b'), ('a"b'), ('a;b'), (E'a\r\nX-Injected: 1')) AS n(name)
) AS k(label, doc)
ORDER BY 1 COLLATE "C";
SELECT count(*) AS specs FROM telemetry.specs;

-- Dynamic SQL in the extension builds names with format('%I') or literals
-- with '%L', never by concatenation: every EXECUTE in its PL/pgSQL functions
-- is an EXECUTE format(...) whose format string has no bare %s (but for one
-- fed by a regclass parameter), or runs a constant string (values passed
-- with USING).
SELECT p.oid::regprocedure AS function, m[1] AS statement
FROM pg_depend d
JOIN pg_proc p ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid,
LATERAL regexp_matches(p.prosrc, '\mEXECUTE\s+([^;]*)', 'gi') AS m
WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
	AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'telemetry')
	AND NOT (m[1] ~ '^''[^'']*''(\s+USING\s.*)?$')
	AND (m[1] !~* '^format\s*\(' OR m[1] ~ '%s')
	-- a single %s fed by a regclass parameter is quoted by regclass output
	AND NOT COALESCE(m[1] ~* '^format\s*\(' AND m[1] !~ '%s.*%s'
		AND (p.proargtypes::oid[])[array_position(p.proargnames, substring(m[1] from ',\s*(\w+)\s*\)$')) - 1]
			= 'regclass'::regtype, false)
ORDER BY 1::text;
-- partitions are named from dates only, and the extension created nothing
-- outside its schema
SELECT count(*) > 0 AS has_partitions,
	bool_and(c.relname ~ '^events_(default|p[0-9]{8})$') AS partition_names_ok
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'telemetry.events'::regclass;
SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace
EXCEPT SELECT relname FROM public_before;
SELECT count(*) FROM telemetry.events;

DROP EXTENSION telemetry;
