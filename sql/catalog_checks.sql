-- The catalog holds only the spec vocabulary: CHECK constraints refuse an
-- owner's UPDATE that writes anything else (23514), and the compiler of the
-- per-backend cache refuses a value it does not know (XX001, naming the
-- row) instead of reading it as some default.
CREATE EXTENSION telemetry;
\set SHOW_CONTEXT never
SELECT telemetry_set_secret('hook', 'whsec_aG9vaw==', ARRAY['hooks.example.com']);
SELECT telemetry_register_spec('{
  "meta": {"key": "chk", "version": "1.0.0", "stability": "stable"},
  "config": {"defaultSamplingRate": 1, "providers": [{"type": "webhook", "config": {"url": "https://hooks.example.com/x", "secret": {"secret": "hook"}}}]},
  "events": [{"key": "chk.e", "version": "1.0.0", "privacy": "pii", "semantics": {"what": "w"},
              "properties": {"n": {"type": "number"}, "email": {"type": "string", "pii": true}},
              "anomalyDetection": {"thresholds": [{"metric": "n", "max": 10, "aggregate": "avg", "window": "1 hour"}], "actions": ["log"]}}]}');

-- try(statement): "ok" or "SQLSTATE: message", undone either way
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	BEGIN
		EXECUTE q;
		RAISE SQLSTATE 'TLMOK';
	EXCEPTION
		WHEN SQLSTATE 'TLMOK' THEN RETURN 'ok';
		WHEN OTHERS THEN RETURN SQLSTATE || ': ' || SQLERRM;
	END;
END
$$;

\pset format unaligned
SELECT q, pg_temp.try(q) AS result FROM unnest(ARRAY[
	$$UPDATE telemetry.event_properties SET type = 'integer' WHERE name = 'n'$$,
	$$UPDATE telemetry.event_properties SET type = 'number' WHERE name = 'n'$$,
	$$UPDATE telemetry.event_properties SET redaction = 'encrypt' WHERE name = 'email'$$,
	$$UPDATE telemetry.event_properties SET redaction = 'hash' WHERE name = 'email'$$,
	$$UPDATE telemetry.event_properties SET scope = 'global' WHERE name = 'email'$$,
	$$UPDATE telemetry.event_defs SET privacy = 'secret'$$,
	$$UPDATE telemetry.event_defs SET retention_policy = 'shred'$$,
	$$UPDATE telemetry.event_defs SET retention_days = 0$$,
	$$UPDATE telemetry.event_defs SET sampling_rate = 1.5$$,
	$$UPDATE telemetry.event_defs SET minimum_sample = 0$$,
	$$UPDATE telemetry.event_defs SET actions = '{log,page}'$$,
	$$UPDATE telemetry.specs SET stability = 'alpha'$$,
	$$UPDATE telemetry.specs SET default_sampling_rate = -0.1$$,
	$$UPDATE telemetry.specs SET default_retention_days = 36501$$,
	$$UPDATE telemetry.specs SET anomaly_check_interval_ms = 10$$,
	$$UPDATE telemetry.anomaly_rules SET aggregate = 'median'$$,
	$$UPDATE telemetry.anomaly_rules SET min = 20$$,
	$$UPDATE telemetry.anomaly_rules SET "window" = NULL$$,
	$$UPDATE telemetry.providers SET type = 'mixpanel'$$,
	$$UPDATE telemetry.providers SET config = '[]'$$,
	$$INSERT INTO telemetry.event_properties (event, version, scope, name, ordinal, type) VALUES ('chk.nope', '1.0.0', 'property', 'x', 0, 'string')$$,
	$$UPDATE telemetry.event_properties SET event = 'chk.nope' WHERE name = 'n'$$,
	$$UPDATE telemetry.event_defs SET version = '9.0.0'$$,
	$$DELETE FROM telemetry.event_defs$$
]) AS q;
\pset format aligned

-- The vocabulary the constraints use is the C spec model's.
SELECT k, telemetry._vocabulary(k) FROM unnest(ARRAY['property type', 'redaction', 'privacy', 'stability',
	'retention policy', 'action', 'aggregate', 'provider type']) AS k;
SELECT telemetry._vocabulary('color');

-- With a constraint dropped (inside a transaction), the compiler still
-- refuses what it does not know.
BEGIN;
ALTER TABLE telemetry.event_properties DROP CONSTRAINT event_properties_type_check;
UPDATE telemetry.event_properties SET type = 'integer' WHERE name = 'n';
SELECT telemetry_track('chk.e', '1.0.0', '{"n": 1}');
ROLLBACK;
BEGIN;
ALTER TABLE telemetry.event_properties DROP CONSTRAINT event_properties_redaction_check;
UPDATE telemetry.event_properties SET redaction = 'encrypt' WHERE name = 'email';
SELECT telemetry_track('chk.e', '1.0.0', '{"n": 1}');
ROLLBACK;
BEGIN;
ALTER TABLE telemetry.specs DROP CONSTRAINT specs_stability_check;
UPDATE telemetry.specs SET stability = 'alpha';
SELECT telemetry_track('chk.e', '1.0.0', '{"n": 1}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK;
-- and with the catalog as registered, it tracks
SELECT telemetry_track('chk.e', '1.0.0', '{"n": 1, "email": "a@b.example"}') IS NOT NULL AS tracked;
SELECT properties FROM telemetry.events;

DROP EXTENSION telemetry;
