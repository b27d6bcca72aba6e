-- sampling.conditions: parsed and checked at registration, compiled into the
-- cache, and an event that matches one is kept and stored with sample_rate 1.
CREATE EXTENSION telemetry;
\set SHOW_CONTEXT never

CREATE FUNCTION pg_temp.spec(rate numeric, conditions jsonb, privacy text DEFAULT 'internal') RETURNS jsonb LANGUAGE sql AS $$
	SELECT jsonb_build_object('meta', jsonb_build_object('key', 'cond', 'version', '1.0.0'),
		'events', jsonb_build_array(jsonb_build_object('key', 'cond.step', 'version', '1.0.0', 'privacy', privacy,
			'semantics', '{"what": "A workflow step"}'::jsonb,
			'sampling', jsonb_build_object('rate', rate, 'conditions', conditions),
			'properties', '{"ms": {"type": "number"}, "kind": {"type": "string"}, "ok": {"type": "boolean"},
				"at": {"type": "timestamp"}, "extra": {"type": "json"}, "email": {"type": "string", "pii": true},
				"uid": {"type": "string", "redaction": "hash"}}'::jsonb)))
$$;
CREATE FUNCTION pg_temp.check(doc jsonb) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	r text;
BEGIN
	BEGIN
		PERFORM telemetry_register_spec(doc);
		r := (telemetry_event_def('cond.step') -> 'samplingConditions')::text;
		RAISE SQLSTATE 'TLMOK';
	EXCEPTION
		WHEN SQLSTATE 'TLMOK' THEN
			RETURN 'accepted: ' || r;
		WHEN OTHERS THEN
			RETURN SQLSTATE || ': ' || SQLERRM;
	END;
END
$$;

\pset format unaligned
-- the grammar: <property> <op> <literal> or <property> exists; normalized
SELECT c, pg_temp.check(pg_temp.spec(0.1, jsonb_build_array(c))) AS result FROM unnest(ARRAY[
	'ms > 1500', 'ms>=1500', '  ms   <   -2.5e3  ', 'ms = 0', 'ms != 1', 'ms <= 0.5',
	'kind = ''error''', 'kind != ''it''''s''', 'kind <> ''x''', 'kind > ''m''', 'ok = true', 'ok != false',
	'ms exists', 'at exists', 'extra exists']) AS c;
-- parse errors
SELECT c, pg_temp.check(pg_temp.spec(0.1, jsonb_build_array(c))) AS result FROM unnest(ARRAY[
	'', 'ms', 'ms >', 'ms >> 1', 'ms = 1 2', 'ms = 01', 'ms = .5', 'ms = 1e', 'kind = ''open',
	'kind = "error"', 'ok = TRUE', 'ms == 1', '1ms > 1', 'ms exists now', 'ms = NaN']) AS c;
-- checked against the declared properties and their types
SELECT c, pg_temp.check(pg_temp.spec(0.1, jsonb_build_array(c))) AS result FROM unnest(ARRAY[
	'latency > 1', 'ms = ''slow''', 'kind > 3', 'kind = true', 'ok = 1', 'ok < true', 'at > ''2026-01-01''',
	'extra = 1', 'email = ''a@b.example''', 'email exists', 'uid = ''u-1''']) AS c;
-- a sensitive event's properties are all redacted
SELECT pg_temp.check(pg_temp.spec(0.1, '["ms > 1"]', 'sensitive')) AS result;
-- the conditions must be an array of strings, 100 at most; the path names the item
SELECT pg_temp.check(pg_temp.spec(0.1, '["ms > 1", "ms >"]')) AS result;
SELECT pg_temp.check(pg_temp.spec(0.1, '"ms > 1"')) AS result;
SELECT pg_temp.check(pg_temp.spec(0.1, '[1]')) AS result;
SELECT pg_temp.check(pg_temp.spec(0.1, (SELECT jsonb_agg('ms > ' || i) FROM generate_series(1, 101) i))) AS result;
\pset format aligned

-- Kept and sampled: with rate 0, only the events matching a condition are
-- stored, with sample_rate 1; with rate 1 every event is.
SELECT telemetry_register_spec(pg_temp.spec(0, '["ms > 1500", "kind = ''error''", "ok = false"]'));
SELECT telemetry_event_def('cond.step') -> 'samplingConditions' AS conditions;
SELECT p, telemetry_track('cond.step', '1.0.0', p::jsonb) IS NOT NULL AS stored FROM unnest(ARRAY[
	'{"ms": 2000}', '{"ms": 1500}', '{"ms": 10, "kind": "error"}', '{"kind": "warning"}', '{"ok": false}',
	'{"ok": true}', '{}', '{"ms": null, "kind": null}']) AS p;
SELECT properties, sample_rate FROM telemetry.events ORDER BY received_at, id;
SELECT telemetry_unregister_spec('cond', '1.0.0');
TRUNCATE telemetry.events;
-- its events gone, the owner frees the event version for another definition
DELETE FROM telemetry.event_tombstones;
SELECT telemetry_register_spec(pg_temp.spec(1, '["ms > 1500"]'));
SELECT count(telemetry_track('cond.step', '1.0.0', jsonb_build_object('ms', ms))) AS stored
FROM unnest(ARRAY[1, 2000]) AS ms;
SELECT properties, sample_rate FROM telemetry.events ORDER BY received_at, id;
-- at a rate in between, a match is kept at rate 1 and the others at the rate
SELECT telemetry_unregister_spec('cond', '1.0.0');
TRUNCATE telemetry.events;
DELETE FROM telemetry.event_tombstones;
SELECT telemetry_register_spec(pg_temp.spec(0.5, '["ms exists"]'));
SELECT count(telemetry_track('cond.step', '1.0.0', '{"ms": 1}')) AS stored FROM generate_series(1, 20);
SELECT count(telemetry_track('cond.step', '1.0.0', '{"kind": "other"}')) BETWEEN 1 AND 49 AS some_stored
FROM generate_series(1, 50);
SELECT properties ? 'ms' AS matched, count(*) > 0 AS stored, min(sample_rate), max(sample_rate)
FROM telemetry.events GROUP BY 1 ORDER BY 1;

-- The compiler reads the stored conditions with the same parser: one it
-- cannot read (written around the registration) is an error naming the
-- row, never ignored.
BEGIN;
UPDATE telemetry.event_defs SET sampling_conditions = '{"ms >> 1"}' WHERE event = 'cond.step';
SELECT telemetry_track('cond.step', '1.0.0', '{"ms": 1}');
ROLLBACK;
BEGIN;
UPDATE telemetry.event_defs SET sampling_conditions = '{"latency > 1"}' WHERE event = 'cond.step';
SELECT telemetry_track('cond.step', '1.0.0', '{"ms": 1}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK;

DROP EXTENSION telemetry;
