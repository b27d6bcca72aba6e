-- Limits on caller-controlled input that the catalog and tracking tests do
-- not already show (those cover: spec 1 MB, 1000 events, 500 properties,
-- 16 providers, 64 thresholds, 100 tags, meta/event key and version length,
-- property name length, telemetry.max_event_bytes and property nesting).
CREATE EXTENSION telemetry;
\set SHOW_CONTEXT never
\getenv abs_srcdir PG_ABS_SRCDIR
\getenv abs_builddir PG_ABS_BUILDDIR
\set spec :abs_srcdir '/test/track-spec.json'
CREATE FUNCTION pg_temp.try_register(doc jsonb) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	RETURN telemetry_register_spec(doc);
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;
CREATE FUNCTION pg_temp.try_track(props jsonb, ctx jsonb) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	RETURN CASE WHEN telemetry_track('t.typed', '1.0.0', props, ctx) IS NOT NULL THEN 'stored' ELSE 'not stored' END;
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

-- Spec fields.  Each pair shows the largest accepted value and the error
-- one past it.
SELECT c.label, pg_temp.try_register(c.doc) AS result
FROM (VALUES ('{"meta": {"key": "L", "version": "1.0.0"},
	"events": [{"key": "L.e", "version": "1.0.0", "privacy": "public", "semantics": {"what": "w"},
		"properties": {"p": {"type": "number"}}}]}'::jsonb)) AS base(b),
LATERAL (VALUES
  ('title 1000 characters', jsonb_set(b, '{meta,title}', to_jsonb(repeat('t', 1000)))),
  ('title 1001 characters', jsonb_set(b, '{meta,title}', to_jsonb(repeat('t', 1001)))),
  ('description 10001 characters', jsonb_set(b, '{meta,description}', to_jsonb(repeat('d', 10001)))),
  ('semantics.what 10001 characters', jsonb_set(b, '{events,0,semantics,what}', to_jsonb(repeat('w', 10001)))),
  ('property description 10001 characters', jsonb_set(b, '{events,0,properties,p,description}', to_jsonb(repeat('d', 10001)))),
  ('101 owners', jsonb_set(b, '{meta,owners}', (SELECT jsonb_agg('o' || i) FROM generate_series(1, 101) i))),
  ('tag of 257 characters', jsonb_set(b, '{meta,tags}', jsonb_build_array(repeat('t', 257)))),
  ('101 sampling conditions', jsonb_set(b, '{events,0,sampling}', jsonb_build_object('conditions',
     (SELECT jsonb_agg('c' || i) FROM generate_series(1, 101) i)))),
  ('sampling.by of 129 characters', jsonb_set(b, '{events,0,sampling}', jsonb_build_object('by', 'b' || repeat('y', 128)))),
  ('context property name of 129 characters', jsonb_set(b, '{config}', jsonb_build_object('context',
     jsonb_build_object('c' || repeat('x', 128), '{"type": "string"}'::jsonb)))),
  ('501 context properties', jsonb_set(b, '{config}', jsonb_build_object('context',
     (SELECT jsonb_object_agg('c' || i, '{"type": "string"}'::jsonb) FROM generate_series(1, 501) i)))),
  ('threshold window of 101 characters', jsonb_set(b, '{events,0,anomalyDetection}', jsonb_build_object('thresholds',
     jsonb_build_array(jsonb_build_object('metric', 'p', 'max', 1, 'aggregate', 'avg', 'window', repeat(' ', 90) || '5 minutes  '))))),
  ('threshold window over 7 days', jsonb_set(b, '{events,0,anomalyDetection}', jsonb_build_object('thresholds',
     jsonb_build_array(jsonb_build_object('metric', 'p', 'max', 1, 'aggregate', 'avg', 'window', '8 days'))))),
  ('threshold max over 1e300', jsonb_set(b, '{events,0,anomalyDetection}', jsonb_build_object('thresholds',
     jsonb_build_array(jsonb_build_object('metric', 'p', 'max', 1e301))))),
  ('minimumSample over 2^31-1', jsonb_set(b, '{events,0,anomalyDetection}', jsonb_build_object('minimumSample', 2147483648,
     'thresholds', jsonb_build_array(jsonb_build_object('metric', 'p', 'max', 1))))),
  ('retention 36501 days', jsonb_set(b, '{events,0,retention}', '{"days": 36501}')),
  ('checkIntervalMs over a day', jsonb_set(b, '{config}', '{"anomalyDetection": {"checkIntervalMs": 86400001}}')),
  ('numeric version over 2^31-1', jsonb_set(b, '{meta,version}', '2147483648'))
) AS c(label, doc);
SELECT telemetry_unregister_spec('L', '1.0.0');

-- Provider configs: 16 kB a config, 4096 characters a secret, 2048 an URL,
-- 256 a service name, 128 a header or reference name.
SELECT c.label, pg_temp.try_register(c.doc) AS result
FROM (VALUES ('{"meta": {"key": "P", "version": "1.0.0"},
	"events": [{"key": "P.e", "version": "1.0.0", "privacy": "public", "semantics": {"what": "w"}, "properties": {}}]}'::jsonb)) AS base(b),
LATERAL (VALUES
  ('config of 20 kB', jsonb_set(b, '{config}', jsonb_build_object('providers', jsonb_build_array(jsonb_build_object(
     'type', 'webhook', 'config', jsonb_build_object('url', 'https://h.example', 'secret', 'x', 'headers',
       (SELECT jsonb_object_agg('h' || i, repeat('v', 4000)) FROM generate_series(1, 5) i))))))),
  ('config of 15 kB', jsonb_set(b, '{config}', jsonb_build_object('providers', jsonb_build_array(jsonb_build_object(
     'type', 'webhook', 'config', jsonb_build_object('url', 'https://h.example', 'secret', 'x', 'headers',
       (SELECT jsonb_object_agg('h' || i, repeat('v', 3800)) FROM generate_series(1, 4) i))))))),
  ('secret of 4097 characters', jsonb_set(b, '{config}', jsonb_build_object('providers', jsonb_build_array(jsonb_build_object(
     'type', 'segment', 'config', jsonb_build_object('writeKey', repeat('k', 4097))))))),
  ('empty secret', jsonb_set(b, '{config}', '{"providers": [{"type": "segment", "config": {"writeKey": ""}}]}')),
  ('url of 2049 characters', jsonb_set(b, '{config}', jsonb_build_object('providers', jsonb_build_array(jsonb_build_object(
     'type', 'opentelemetry', 'config', jsonb_build_object('endpoint', 'https://h.example/' || repeat('u', 2031))))))),
  ('serviceName of 257 characters', jsonb_set(b, '{config}', jsonb_build_object('providers', jsonb_build_array(jsonb_build_object(
     'type', 'opentelemetry', 'config', jsonb_build_object('endpoint', 'https://h.example', 'serviceName', repeat('s', 257))))))),
  ('header name of 129 characters', jsonb_set(b, '{config}', jsonb_build_object('providers', jsonb_build_array(jsonb_build_object(
     'type', 'opentelemetry', 'config', jsonb_build_object('endpoint', 'https://h.example', 'headers',
       jsonb_build_object(repeat('h', 129), 'v'))))))),
  ('secret reference of 129 characters', jsonb_set(b, '{config}', jsonb_build_object('providers', jsonb_build_array(jsonb_build_object(
     'type', 'segment', 'config', jsonb_build_object('writeKey', jsonb_build_object('secret', 's' || repeat('x', 128)))))))),
  ('env reference of 129 characters', jsonb_set(b, '{config}', jsonb_build_object('providers', jsonb_build_array(jsonb_build_object(
     'type', 'segment', 'config', jsonb_build_object('writeKey', jsonb_build_object('env', 'E' || repeat('X', 128)))))))),
  ('provider name of 129 characters', jsonb_set(b, '{config}', jsonb_build_object('providers', jsonb_build_array(jsonb_build_object(
     'type', 'internal', 'name', 'n' || repeat('x', 128))))))
) AS c(label, doc);
SELECT telemetry_unregister_spec('P', '1.0.0');

-- A spec file over 1 MB is refused before it is parsed.
\set bigfile :abs_builddir '/results/hardening_limits_big.json'
SET regress.bigfile = :'bigfile';
COPY (SELECT '{"meta": {"description": "' || repeat('x', 1048576) || '"}}') TO :'bigfile';
DO $$
BEGIN
	PERFORM telemetry_load_spec(current_setting('regress.bigfile'));
EXCEPTION WHEN OTHERS THEN
	RAISE NOTICE '%: %', SQLSTATE, replace(SQLERRM, current_setting('regress.bigfile'), '<file>');
END
$$;

-- Tracking.
SELECT telemetry_load_spec(:'spec');
SELECT telemetry_run_maintenance() ? 'created' AS maintained;
-- at most 100 context keys
SELECT pg_temp.try_track('{"s": "x"}', (SELECT jsonb_object_agg('k' || i, i) FROM generate_series(1, 100) i)) AS context_100_keys;
SELECT pg_temp.try_track('{"s": "x"}', (SELECT jsonb_object_agg('k' || i, i) FROM generate_series(1, 101) i)) AS context_101_keys;
-- JSON values nested at most 32 levels, in properties and in context
SELECT pg_temp.try_track(jsonb_build_object('s', 'x', 'j', (repeat('[', 32) || repeat(']', 32))::jsonb), '{}') AS property_depth_32;
SELECT pg_temp.try_track(jsonb_build_object('s', 'x', 'j', (repeat('[', 33) || repeat(']', 33))::jsonb), '{}') AS property_depth_33;
SELECT pg_temp.try_track('{"s": "x"}', jsonb_build_object('deep', (repeat('{"a":', 32) || '1' || repeat('}', 32))::jsonb)) AS context_depth_32;
SELECT pg_temp.try_track('{"s": "x"}', jsonb_build_object('deep', (repeat('{"a":', 33) || '1' || repeat('}', 33))::jsonb)) AS context_depth_33;
-- telemetry.max_event_bytes counts properties and context together
SET telemetry.max_event_bytes = 1024;
SELECT pg_temp.try_track(jsonb_build_object('s', repeat('x', 400)), jsonb_build_object('note', repeat('y', 400))) AS under_limit;
SELECT pg_temp.try_track(jsonb_build_object('s', repeat('x', 400)), jsonb_build_object('note', repeat('y', 700))) AS context_over_limit;
-- an oversized event is not kept whole in quarantine either
SET telemetry.on_invalid = quarantine;
SELECT pg_temp.try_track(jsonb_build_object('s', 'x', repeat('k', 5000), 1), jsonb_build_object('note', repeat('y', 5000))) AS quarantined;
RESET telemetry.on_invalid;
SELECT error, properties, context FROM telemetry.rejected_events;
RESET telemetry.max_event_bytes;
-- the setting has bounds, and only a superuser may raise it
SET telemetry.max_event_bytes = 255;
SET telemetry.max_event_bytes = '2MB';
CREATE ROLE regress_limits_user;
SET ROLE regress_limits_user;
SET telemetry.max_event_bytes = '1MB';
SHOW telemetry.max_event_bytes;
RESET ROLE;
DROP ROLE regress_limits_user;
-- hostile sizes of the name and version arguments stay clean errors
-- (cut at 128 bytes on a character boundary: "a" and 63 two-byte characters)
SELECT telemetry_track('a' || repeat('é', 100000));
SELECT telemetry_track('t.typed', repeat('9', 100000));
SELECT telemetry_track('t.typed', 2147483647);

SELECT count(*) AS stored FROM telemetry.events;
DROP EXTENSION telemetry;
