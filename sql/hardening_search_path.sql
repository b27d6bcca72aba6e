-- Functions and operators planted in public and in a schema first on the
-- caller's search_path are never called by the extension: every function of
-- it pins search_path = pg_catalog, pg_temp and qualifies its own objects.
CREATE EXTENSION telemetry;
\set SHOW_CONTEXT never
\getenv abs_srcdir PG_ABS_SRCDIR
\set spec :abs_srcdir '/test/track-spec.json'

-- Every SECURITY DEFINER function, and every SQL or PL/pgSQL function, of
-- the extension pins a search_path of pg_catalog first and pg_temp last,
-- with neither public nor "$user" in it; the exception is IMMUTABLE SQL
-- helpers, left unpinned so they can be inlined into their (pinned)
-- callers, whose path they then use.  (Read from pg_depend, so functions
-- added later are checked too.)
CREATE VIEW pg_temp.ext_functions AS
SELECT p.oid::regprocedure AS function, p.prosecdef, l.lanname, p.provolatile, p.proconfig
FROM pg_depend d
JOIN pg_proc p ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
JOIN pg_language l ON l.oid = p.prolang
WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
	AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'telemetry');
SELECT count(*) FILTER (WHERE prosecdef) > 0 AS has_security_definer,
	count(*) FILTER (WHERE lanname IN ('sql', 'plpgsql')) > 0 AS has_sql_functions
FROM pg_temp.ext_functions;
SELECT function, prosecdef, lanname, proconfig AS unpinned_function
FROM pg_temp.ext_functions
WHERE (prosecdef OR lanname = 'plpgsql' OR (lanname = 'sql' AND provolatile <> 'i'))
	AND NOT EXISTS (SELECT 1 FROM unnest(proconfig) c
		WHERE c ~ '^search_path=pg_catalog(, *[a-z_]+)*, *pg_temp$' AND c !~ '(public|\$user)')
ORDER BY 1::text COLLATE "C";
-- The trap: a log of calls, and look-alikes that log themselves and then
-- behave like the real thing, so a hijack would be visible but harmless.
CREATE TABLE public.hijack_log (fn text NOT NULL);
GRANT INSERT, SELECT ON public.hijack_log TO PUBLIC;
CREATE SCHEMA evil;
GRANT USAGE ON SCHEMA evil TO PUBLIC;
-- (the setup itself runs with a safe path, or its own format() calls would
-- find the planted ones)
SET search_path = pg_catalog, pg_temp;
DO $$
DECLARE
	f record;
	s text;
BEGIN
	FOR f IN SELECT * FROM (VALUES
		-- same signature as the built-in
		('jsonb_typeof', 'jsonb', 'text', 'jsonb_typeof($1)'),
		('length', 'text', 'integer', 'length($1)'),
		('octet_length', 'text', 'integer', 'octet_length($1)'),
		('left', 'text, integer', 'text', '"left"($1, $2)'),
		('starts_with', 'text, text', 'boolean', 'starts_with($1, $2)'),
		('now', '', 'timestamptz', 'now()'),
		('pg_current_xact_id', '', 'xid8', 'pg_current_xact_id()'),
		('current_setting', 'text', 'text', 'current_setting($1)'),
		('set_config', 'text, text, boolean', 'text', 'set_config($1, $2, $3)'),
		('to_regclass', 'text', 'regclass', 'to_regclass($1)'),
		('hashtextextended', 'text, bigint', 'bigint', 'hashtextextended($1, $2)'),
		('jsonb_array_length', 'jsonb', 'integer', 'jsonb_array_length($1)'),
		('trunc', 'numeric', 'numeric', 'trunc($1)'),
		('gen_random_uuid', '', 'uuid', 'gen_random_uuid()'),
		('sha256', 'bytea', 'bytea', 'sha256($1)'),
		('pg_has_role', 'name, text, text', 'boolean', 'pg_has_role($1, $2, $3)'),
		('pg_read_file', 'text', 'text', 'pg_read_file($1)'),
		('quote_ident', 'text', 'text', 'quote_ident($1)'),
		-- more specific than the built-in (which is variadic, polymorphic or
		-- needs a cast), so an unpinned caller would prefer these
		('jsonb_build_object', 'text, text', 'jsonb', 'jsonb_build_object($1, $2)'),
		('jsonb_build_object', 'text, jsonb', 'jsonb', 'jsonb_build_object($1, $2)'),
		('jsonb_build_array', 'jsonb', 'jsonb', 'jsonb_build_array($1)'),
		('format', 'text, text', 'text', 'format($1, $2)'),
		('format', 'text, text, text', 'text', 'format($1, $2, $3)'),
		('to_jsonb', 'text[]', 'jsonb', 'to_jsonb($1)'),
		('to_jsonb', 'text', 'jsonb', 'to_jsonb($1)'),
		('array_to_string', 'text[], text', 'text', 'array_to_string($1, $2)'),
		('jsonb_set', 'jsonb, text[], jsonb', 'jsonb', 'jsonb_set($1, $2, $3)'),
		('to_char', 'date, text', 'text', 'to_char($1, $2)'),
		('concat', 'text, text', 'text', 'concat($1, $2)'),
		-- operator functions
		('hj_texteq', 'text, text', 'boolean', 'texteq($1, $2)'),
		('hj_textne', 'text, text', 'boolean', 'textne($1, $2)'),
		('hj_textcat', 'text, text', 'text', 'textcat($1, $2)'),
		('hj_jsonb_get', 'jsonb, text', 'jsonb', 'jsonb_object_field($1, $2)'),
		('hj_jsonb_get_text', 'jsonb, text', 'text', 'jsonb_object_field_text($1, $2)'),
		('hj_jsonb_exists', 'jsonb, text', 'boolean', 'jsonb_exists($1, $2)'),
		('hj_jsonb_eq', 'jsonb, jsonb', 'boolean', 'jsonb_eq($1, $2)'),
		('hj_jsonb_concat', 'jsonb, jsonb', 'jsonb', 'jsonb_concat($1, $2)'),
		('hj_textregexne', 'text, text', 'boolean', 'textregexne($1, $2)')
	) AS v(name, args, ret, body) LOOP
		FOREACH s IN ARRAY ARRAY['evil', 'public'] LOOP
			EXECUTE format('CREATE FUNCTION %I.%I(%s) RETURNS %s LANGUAGE sql AS %L',
				s, f.name, f.args, f.ret,
				format('INSERT INTO public.hijack_log VALUES (%L); SELECT pg_catalog.%s', s || '.' || f.name, f.body));
		END LOOP;
	END LOOP;
	FOREACH s IN ARRAY ARRAY['evil', 'public'] LOOP
		EXECUTE format('CREATE FUNCTION %I.jsonb_object_keys(jsonb) RETURNS SETOF text LANGUAGE sql AS %L', s,
			format('INSERT INTO public.hijack_log VALUES (%L); SELECT pg_catalog.jsonb_object_keys($1)', s || '.jsonb_object_keys'));
		EXECUTE format('CREATE FUNCTION %I.jsonb_array_elements_text(jsonb) RETURNS SETOF text LANGUAGE sql AS %L', s,
			format('INSERT INTO public.hijack_log VALUES (%L); SELECT pg_catalog.jsonb_array_elements_text($1)', s || '.jsonb_array_elements_text'));
		EXECUTE format('CREATE OPERATOR %I.= (LEFTARG = text, RIGHTARG = text, FUNCTION = %I.hj_texteq)', s, s);
		EXECUTE format('CREATE OPERATOR %I.<> (LEFTARG = text, RIGHTARG = text, FUNCTION = %I.hj_textne)', s, s);
		EXECUTE format('CREATE OPERATOR %I.|| (LEFTARG = text, RIGHTARG = text, FUNCTION = %I.hj_textcat)', s, s);
		EXECUTE format('CREATE OPERATOR %I.-> (LEFTARG = jsonb, RIGHTARG = text, FUNCTION = %I.hj_jsonb_get)', s, s);
		EXECUTE format('CREATE OPERATOR %I.->> (LEFTARG = jsonb, RIGHTARG = text, FUNCTION = %I.hj_jsonb_get_text)', s, s);
		EXECUTE format('CREATE OPERATOR %I.? (LEFTARG = jsonb, RIGHTARG = text, FUNCTION = %I.hj_jsonb_exists)', s, s);
		EXECUTE format('CREATE OPERATOR %I.= (LEFTARG = jsonb, RIGHTARG = jsonb, FUNCTION = %I.hj_jsonb_eq)', s, s);
		EXECUTE format('CREATE OPERATOR %I.|| (LEFTARG = jsonb, RIGHTARG = jsonb, FUNCTION = %I.hj_jsonb_concat)', s, s);
		EXECUTE format('CREATE OPERATOR %I.!~ (LEFTARG = text, RIGHTARG = text, FUNCTION = %I.hj_textregexne)', s, s);
	END LOOP;
END
$$;
RESET search_path;
-- temporary tables named like the extension's tables
CREATE TEMP TABLE specs (key text);
CREATE TEMP TABLE events (id uuid);
CREATE TEMP TABLE redaction_key (key bytea);

-- The trap works: with the plants ahead of pg_catalog on the path, plain
-- queries call them.
SET search_path = evil, public, pg_catalog;
SELECT jsonb_typeof('{}'::jsonb), length('abc'), 'a'::text = 'a'::text AS eq,
	'{"a": 1}'::jsonb -> 'a'::text AS a, jsonb_build_object('k'::text, 'v'::text) AS o;
SET search_path = public, pg_catalog;
SELECT now() IS NOT NULL AS now, to_char(current_date, 'YYYY') IS NOT NULL AS to_char;
RESET search_path;
SELECT fn, count(*) FROM public.hijack_log GROUP BY fn ORDER BY fn COLLATE "C";
TRUNCATE public.hijack_log;

-- Now use the extension with the hostile path: as the superuser (an admin
-- whose path someone planted objects on) and as a plain role.  (The test's
-- own queries below use OPERATOR(pg_catalog.x), so that every call logged
-- would be the extension's.)
CREATE ROLE regress_hj_user;
GRANT USAGE, CREATE ON SCHEMA evil TO regress_hj_user;
SET search_path = evil, public, pg_catalog;
SELECT telemetry_load_spec(:'spec');
SELECT telemetry_register_spec('{"meta": {"key": "hj", "version": "1.0.0"},
	"config": {"providers": [{"type": "webhook", "config": {"url": "https://example.com/h", "secret": "whsec_x"}}]},
	"events": [{"key": "hj.e", "version": "1.0.0", "privacy": "public", "semantics": {"what": "w"},
		"properties": {"n": {"type": "number", "required": true}}}]}');
-- an identical reload is a no-op, a different one is refused
SELECT telemetry_register_spec('{"meta": {"key": "hj", "version": "1.0.0"},
	"config": {"providers": [{"type": "webhook", "config": {"url": "https://example.com/h", "secret": "whsec_x"}}]},
	"events": [{"key": "hj.e", "version": "1.0.0", "privacy": "public", "semantics": {"what": "w"},
		"properties": {"n": {"type": "number", "required": true}}}]}');
SELECT telemetry_register_spec('{"meta": {"key": "hj", "version": "1.0.0"},
	"events": [{"key": "hj.e", "version": "1.0.0", "privacy": "public", "semantics": {"what": "other"}, "properties": {}}]}');
-- invalid specs take the validation paths
SELECT telemetry_register_spec('{"meta": {"key": "hj2", "version": "1.0.0"}, "events": [{"key": "hj2.e", "version": "x"}]}');
SELECT telemetry_register_spec('{"meta": {"key": "hj2", "version": "1.0.0"}, "events": [{"key": "hj2.e", "version": "1.0.0",
	"privacy": "public", "semantics": {"what": "w"}, "properties": {"p": {"type": "number"}},
	"anomalyDetection": {"thresholds": [{"metric": "p", "aggregate": "p95", "window": "5 minutes", "max": 1}]}}]}');
SELECT telemetry_run_maintenance() OPERATOR(pg_catalog.?) 'created' AS maintained;
SELECT telemetry_track('t.typed', '1.0.0', '{"s": "x", "n": 1, "b": true, "ts": "2026-01-01T00:00:00Z", "j": [1]}') IS NOT NULL AS tracked;
SELECT telemetry_track('t.redact', '1', '{"m": "a@b.c", "h": "u1", "d": "x", "plain": "p"}') IS NOT NULL AS tracked;
SELECT telemetry_track('hj.e', 1, '{"n": 2}') IS NOT NULL AS tracked;
SELECT telemetry_track('hj.e', NULL, '{"n": "not a number"}');
SET telemetry.on_invalid = quarantine;
SELECT telemetry_track('hj.e', NULL, '{"n": "not a number"}');
SELECT telemetry_track('no.such.event');
RESET telemetry.on_invalid;
SELECT telemetry_spec('hj') #>> '{meta,key}' AS spec;
SELECT telemetry_event_def('hj.e') OPERATOR(pg_catalog.->>) 'spec' AS event_def;
SELECT event, version, properties FROM telemetry.event_catalog ORDER BY 1 COLLATE "C", 2 COLLATE "C";
SELECT event, stored, rejected FROM telemetry.track_stats WHERE event OPERATOR(pg_catalog.=) 'hj.e';
SELECT count(*) FROM telemetry.events;
SELECT count(*) FROM telemetry.rejected_events;
-- anomaly detection and its views, over events breaking a threshold
SELECT count(telemetry_track('hj2.e', '1.0.0', jsonb_build_object('p', i))) FROM generate_series(1, 5) i;
SELECT telemetry_check_anomalies() IS NOT NULL AS checked;
SELECT count(*) IS NOT NULL AS read FROM telemetry.open_anomalies;
SELECT count(*) IS NOT NULL AS read FROM telemetry.anomaly_summary;
SELECT count(*) IS NOT NULL AS read FROM telemetry.event_metrics;

-- a plain role with its own schema first on its path, tracking directly
-- and through a trigger
SET ROLE regress_hj_user;
SET search_path = evil, public, pg_catalog;
SELECT telemetry_track('hj.e', '1.0.0', '{"n": 3}') IS NOT NULL AS tracked;
SELECT telemetry_spec('hj') #>> '{config,providers,0,config,secret}' AS masked_secret;
CREATE TABLE evil.orders (id integer, n numeric);
CREATE TRIGGER track AFTER INSERT ON evil.orders FOR EACH ROW
	EXECUTE FUNCTION telemetry_track_trigger('hj.e', '1.0.0');
INSERT INTO evil.orders VALUES (1, 42);
SELECT event, stored FROM telemetry.track_stats WHERE event OPERATOR(pg_catalog.=) 'hj.e';
RESET ROLE;
-- its webhook has events to send: unregistering the only version is refused
-- (that check runs with search_path pinned too) until the provider is
-- disabled
SELECT telemetry_unregister_spec('hj', '1.0.0');
UPDATE telemetry.providers SET enabled = false WHERE spec_key OPERATOR(pg_catalog.=) 'hj';
SELECT telemetry_unregister_spec('hj', '1.0.0');
RESET search_path;

-- Not one planted object was called, and nothing reached the temp tables.
SELECT fn, count(*) FROM public.hijack_log GROUP BY fn ORDER BY fn COLLATE "C";
SELECT (SELECT count(*) FROM pg_temp.specs) + (SELECT count(*) FROM pg_temp.events)
	+ (SELECT count(*) FROM pg_temp.redaction_key) AS temp_rows;
-- and everything was stored as usual
SELECT event, version, properties - 'h' AS properties, properties ->> 'h' LIKE 'hmac-sha256:%' AS hashed
FROM telemetry.events ORDER BY event COLLATE "C", (properties ->> 'n')::numeric;

SET client_min_messages = warning;
DROP TABLE evil.orders;
DROP SCHEMA evil CASCADE;
DROP TABLE public.hijack_log;
DO $$
DECLARE
	f regprocedure;
BEGIN
	FOR f IN SELECT p.oid FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace
		AND p.proname IN ('jsonb_typeof', 'length', 'octet_length', 'left', 'starts_with', 'now',
			'pg_current_xact_id', 'current_setting', 'set_config', 'to_regclass', 'hashtextextended',
			'jsonb_array_length', 'trunc', 'gen_random_uuid', 'sha256', 'pg_has_role', 'pg_read_file',
			'quote_ident', 'jsonb_build_object', 'jsonb_build_array', 'format', 'to_jsonb',
			'array_to_string', 'jsonb_set', 'to_char', 'concat', 'jsonb_object_keys',
			'jsonb_array_elements_text')
		OR p.proname LIKE 'hj\_%'
		ORDER BY p.oid
	LOOP
		EXECUTE format('DROP FUNCTION %s CASCADE', f);
	END LOOP;
END
$$;
RESET client_min_messages;
DROP ROLE regress_hj_user;
DROP EXTENSION telemetry;
