-- Reloading, conflicts, unregistering, and loading from files.
CREATE EXTENSION telemetry;
\set SHOW_CONTEXT never
\getenv abs_srcdir PG_ABS_SRCDIR
\getenv abs_builddir PG_ABS_BUILDDIR

CREATE TEMP TABLE doc AS SELECT '{
  "meta": {"key": "app.core", "version": "1.0.0", "title": "Core"},
  "config": {"providers": [{"type": "segment", "config": {"writeKey": "wk_live_123"}}]},
  "events": [
    {"key": "app.signed_in", "version": "1.0.0", "semantics": {"what": "A user signed in"}, "privacy": "internal",
     "properties": {"method": {"type": "string", "required": true}, "ms": {"type": "number"}},
     "anomalyDetection": {"thresholds": [{"metric": "ms", "max": 5000}], "actions": ["log"]}},
    {"key": "app.signed_out", "version": "1.0.0", "semantics": {"what": "A user signed out"}, "privacy": "public",
     "properties": {}}
  ]}'::jsonb AS d;

SELECT telemetry_register_spec(d) FROM doc;
SELECT registered_at AS first_registered_at FROM telemetry.specs WHERE key = 'app.core' \gset

-- Reloading the same spec is a no-op returning the same text, also written
-- with other whitespace and key order.
SELECT telemetry_register_spec(d) FROM doc;
SELECT telemetry_register_spec('{"events": [
    {"version": "1.0.0", "key": "app.signed_in", "privacy": "internal", "semantics": {"what": "A user signed in"},
     "anomalyDetection": {"actions": ["log"], "thresholds": [{"max": 5000, "metric": "ms"}]},
     "properties": {"ms": {"type": "number"}, "method": {"required": true, "type": "string"}}},
    {"key": "app.signed_out", "version": "1.0.0", "semantics": {"what": "A user signed out"}, "privacy": "public", "properties": {}}],
  "config": {"providers": [{"config": {"writeKey": "wk_live_123"}, "type": "segment"}]},
  "meta": {"title": "Core", "version": "1.0.0", "key": "app.core"}}');
SELECT count(*) AS specs, bool_and(registered_at = :'first_registered_at') AS unchanged
FROM telemetry.specs WHERE key = 'app.core';
SELECT (SELECT count(*) FROM telemetry.event_defs) AS events,
	(SELECT count(*) FROM telemetry.event_properties) AS properties,
	(SELECT count(*) FROM telemetry.anomaly_rules) AS rules,
	(SELECT count(*) FROM telemetry.providers) AS providers;

-- A different document under an existing key@version is an error (42710).
SELECT telemetry_register_spec(jsonb_set(d, '{meta,title}', '"Core v2"')) FROM doc;
SELECT telemetry_register_spec(jsonb_set(d, '{events,0,properties,ms,required}', 'true')) FROM doc;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT telemetry_spec('app.core') #>> '{meta,title}' AS title;

-- An event key@version belongs to one spec (42710); the other spec stores nothing.
SELECT telemetry_register_spec('{"meta": {"key": "app.other", "version": "1.0.0"},
  "events": [{"key": "app.welcome", "version": "1.0.0", "semantics": {"what": "w"}, "privacy": "public", "properties": {}},
             {"key": "app.signed_in", "version": "1.0.0", "semantics": {"what": "w"}, "privacy": "public", "properties": {}}]}');
SELECT telemetry_register_spec('{"meta": {"key": "app.core", "version": "1.1.0"},
  "events": [{"key": "app.signed_out", "version": "1.0.0", "semantics": {"what": "w"}, "privacy": "public", "properties": {}}]}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT key, version FROM telemetry.specs ORDER BY key, version;
SELECT count(*) AS welcome_events FROM telemetry.event_defs WHERE event = 'app.welcome';
-- a new version of the event is fine (compatible with 1.0.0: see catalog_lifecycle)
SELECT telemetry_register_spec('{"meta": {"key": "app.other", "version": "1.0.0"},
  "events": [{"key": "app.signed_in", "version": "1.1.0", "semantics": {"what": "w"}, "privacy": "internal",
              "properties": {"method": {"type": "string", "required": true}, "ms": {"type": "number"}, "via": {"type": "string"}}}]}');
SELECT event, version, spec FROM telemetry.event_catalog ORDER BY event, version;

-- Unregistering removes the spec with its events, properties, rules and
-- providers; the version must be exact; false when there was nothing.
SELECT telemetry_unregister_spec('app.core', '1');
SELECT telemetry_unregister_spec('app.core', '1.0.0');
SELECT telemetry_unregister_spec('app.core', '1.0.0');
SELECT telemetry_unregister_spec('app.nope', '1.0.0');
SELECT (SELECT count(*) FROM telemetry.specs WHERE key = 'app.core') AS specs,
	(SELECT count(*) FROM telemetry.event_defs WHERE spec_key = 'app.core') AS events,
	(SELECT count(*) FROM telemetry.event_properties WHERE event IN ('app.signed_out')
		OR (event = 'app.signed_in' AND version = '1.0.0')) AS properties,
	(SELECT count(*) FROM telemetry.anomaly_rules) AS rules,
	(SELECT count(*) FROM telemetry.providers WHERE spec_key = 'app.core') AS providers;
SELECT telemetry_spec('app.core');
SELECT telemetry_event_def('app.signed_in', '1.0.0');
-- the latest app.signed_in is now the other spec's
SELECT telemetry_event_def('app.signed_in') ->> 'spec' AS spec;
SELECT event, version, spec FROM telemetry.event_catalog ORDER BY event, version;
-- and app.signed_in@1.0.0 is free again: the first spec registers anew
SELECT telemetry_register_spec(d) FROM doc;
SELECT event, version, spec FROM telemetry.event_catalog ORDER BY event, version;

-- Loading from a file: the example reloads as a no-op, and the same
-- document passed to telemetry_register_spec is the same spec.
-- the example's webhook secret, allowed to the loopback sink it names
SELECT telemetry_set_secret('checkout_webhook', 'whsec_ZXhhbXBsZQ==', ARRAY['127.0.0.1']);
\set shop :abs_srcdir '/examples/shop.checkout.json'
SELECT telemetry_load_spec(:'shop');
SELECT telemetry_load_spec(:'shop');
SELECT telemetry_register_spec(pg_read_file(:'shop')::jsonb);
SELECT count(*) FROM telemetry.specs WHERE key = 'shop.checkout';

-- Files that are missing, not JSON, not regular files or over 1 MB (a
-- relative path is relative to the data directory).
SELECT telemetry_load_spec('no_such_spec.json');
SELECT telemetry_load_spec('postgresql.conf');
SELECT telemetry_load_spec('base');
SELECT telemetry_load_spec('');
\set big :abs_builddir '/results/catalog_big.json'
COPY (SELECT '{"meta": {"key": "big", "version": "1.0.0", "description": "' || repeat('x', 1048576) || '"}}') TO :'big';
CREATE FUNCTION pg_temp.try_load(path text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	RETURN telemetry_load_spec(path);
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || replace(SQLERRM, path, '<file>');
END
$$;
SELECT pg_temp.try_load(:'big');
COPY (SELECT '{"meta": {"key": "big", "version": "1.0.0"}, "events": []}') TO :'big';
SELECT pg_temp.try_load(:'big');

DROP EXTENSION telemetry;
