-- telemetry_track: resolution and validation errors.
CREATE EXTENSION telemetry;
-- counters live in shared memory and outlive DROP EXTENSION: start from zero
SELECT telemetry_reset_stats() IS NULL AS fresh_counters;
\set SHOW_CONTEXT never
\getenv abs_srcdir PG_ABS_SRCDIR
\set spec :abs_srcdir '/test/track-spec.json'
\set sigil :abs_srcdir '/examples/sigil.telemetry.json'
SELECT telemetry_load_spec(:'spec');
SELECT telemetry_load_spec(:'sigil');
SELECT jsonb_array_length(telemetry_run_maintenance() -> 'created') >= 8 AS premade;

-- the seed's call form: integer version 1 means the highest 1.x
SELECT telemetry_track('sigil.telemetry.workflow_step', 1,
	'{"workflow": "onboarding", "step": "verify_email", "durationMs": 2100, "userId": "user-123"}') IS NOT NULL AS stored;
SELECT event, version, spec, properties, context, sample_rate FROM telemetry.events;

-- version resolution: latest, prefix, exact
SELECT telemetry_track('t.typed', NULL, '{"s": "x"}') AS id \gset
SELECT version FROM telemetry.events WHERE id = :'id';
SELECT telemetry_track('t.typed', '1', '{"s": "x"}') AS id \gset
SELECT version FROM telemetry.events WHERE id = :'id';
SELECT telemetry_track('t.typed', '1.0', '{"s": "x"}') AS id \gset
SELECT version FROM telemetry.events WHERE id = :'id';
SELECT telemetry_track('t.typed', '1.0.0', '{"s": "x"}') AS id \gset
SELECT version FROM telemetry.events WHERE id = :'id';
SELECT telemetry_track(event => 't.typed', properties => '{"s": "x"}') AS id \gset
SELECT version FROM telemetry.events WHERE id = :'id';

-- ids are version 7 UUIDs, ordered by time
SELECT substr(id::text, 15, 1) AS uuid_version, count(*) FROM telemetry.events GROUP BY 1;
SELECT bool_and(a < b) AS ordered FROM (
	SELECT id AS a, lead(id) OVER (ORDER BY received_at, id) AS b FROM telemetry.events) s WHERE b IS NOT NULL;

-- every type accepted
SELECT telemetry_track('t.typed', '1.0.0', '{"s": "x", "n": 1.5, "b": true, "ts": "2026-01-02 03:04:05+00", "j": {"a": [1, {"b": null}]}}') IS NOT NULL AS ok;
SELECT telemetry_track('t.typed', '1.0.0', '{"s": "x", "n": null, "j": null}') IS NOT NULL AS nulls_ok;
SELECT telemetry_track('t.typed', '1.0.0', '{"s": "x", "ts": "epoch"}') IS NOT NULL AS special_timestamp_ok;

-- SQLSTATE and message of a failing statement
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
-- unknown event or version: 42704
SELECT pg_temp.err($$SELECT telemetry_track('no.such.event')$$);
SELECT pg_temp.err($$SELECT telemetry_track('t.typed', '2')$$);
SELECT pg_temp.err($$SELECT telemetry_track('t.typed', '1.0.1')$$);
-- a wrong type: 22023, naming event, version and property
SELECT pg_temp.err($$SELECT telemetry_track('sigil.telemetry.workflow_step', 1, '{"workflow": "w", "step": "s", "durationMs": "2100"}')$$);
-- too large: 54000
SELECT pg_temp.err($$SELECT telemetry_track('t.typed', '1.0.0', jsonb_build_object('s', repeat('x', 40000)))$$);
SELECT telemetry_track('t.typed', '1.0.0', '{"s": 1}');
SELECT telemetry_track('t.typed', '1.0.0', '{"s": "x", "n": "1"}');
SELECT telemetry_track('t.typed', '1.0.0', '{"s": "x", "b": "true"}');
SELECT telemetry_track('t.typed', '1.0.0', '{"s": "x", "b": 1}');
SELECT telemetry_track('t.typed', '1.0.0', '{"s": "x", "ts": "yesterday-ish"}');
SELECT telemetry_track('t.typed', '1.0.0', '{"s": "x", "ts": 1700000000}');
SELECT telemetry_track('t.typed', '1.0.0', '{"s": ["x"]}');
SELECT telemetry_track('t.typed', '1.0.0', '{"s": {"x": 1}}');
-- required missing or null
SELECT telemetry_track('t.typed', '1.0.0', '{"n": 1}');
SELECT telemetry_track('t.typed', '1.0.0', '{"s": null}');
SELECT telemetry_track('t.typed', '1.0.0');
-- undeclared property (a typo)
SELECT telemetry_track('t.typed', '1.0.0', '{"s": "x", "S": "y"}');
-- the property of a newer version is not declared in the older one
SELECT telemetry_track('t.typed', '1.0.0', '{"s": "x", "extra": "y"}');
SELECT telemetry_track('t.typed', '1.1', '{"s": "x", "extra": "y"}') IS NOT NULL AS ok;
-- properties and context must be objects
SELECT telemetry_track('t.typed', '1.0.0', '[1, 2]');
SELECT telemetry_track('t.typed', '1.0.0', '"x"');
SELECT telemetry_track('t.typed', '1.0.0', '{"s": "x"}', '[]');
-- declared context keys are typed; undeclared ones pass
SELECT telemetry_track('t.typed', '1.0.0', '{"s": "x"}', '{"tenant": "acme"}');
SELECT telemetry_track('t.typed', '1.0.0', '{"s": "x"}', '{"requestId": "r1"}') IS NOT NULL AS ok;
-- a wrong-typed pii value never appears in the message
SELECT telemetry_track('t.redact', '1', '{"m": 12345678}');
-- size limit
SET telemetry.max_event_bytes = 1024;
SELECT telemetry_track('t.typed', '1.0.0', jsonb_build_object('s', repeat('x', 2000)));
RESET telemetry.max_event_bytes;
SELECT telemetry_track('t.typed', '1.0.0', jsonb_build_object('s', repeat('x', 40000)));
-- nesting limit for json values
SELECT telemetry_track('t.typed', '1.0.0', jsonb_build_object('s', 'x', 'j', (repeat('[', 40) || repeat(']', 40))::jsonb));
SELECT telemetry_track('t.typed', '1.0.0', jsonb_build_object('s', 'x', 'j', (repeat('[', 30) || repeat(']', 30))::jsonb)) IS NOT NULL AS depth_30_ok;
-- NULL event name
SELECT telemetry_track(NULL);
-- NULL properties, context and occurred_at take their defaults
SELECT telemetry_track('t.all', NULL, NULL, NULL, NULL) IS NOT NULL AS ok;
-- hostile names and versions: not found, never an internal error
SELECT telemetry_track(repeat('x', 10000));
SELECT telemetry_track('t.typed', repeat('1', 10000));
SELECT telemetry_track('t.typed''; DROP TABLE telemetry.events; --');

-- nothing invalid was stored, and the counters saw every outcome
SELECT event, version, count(*) FROM telemetry.events GROUP BY 1, 2 ORDER BY 1, 2;
SELECT event, version, stored, rejected FROM telemetry.track_stats WHERE event IN ('t.typed', 'sigil.telemetry.workflow_step') ORDER BY 1, 2;
SELECT telemetry_reset_stats();
SELECT count(*) FROM telemetry.track_stats;

DROP EXTENSION telemetry;
