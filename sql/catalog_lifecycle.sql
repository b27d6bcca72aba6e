-- Spec lifecycle: event versions stored once and listed by spec versions,
-- compatible evolution within a major version, the governing spec version,
-- unregistering versions, and deprecated specs.
CREATE EXTENSION telemetry;
\set SHOW_CONTEXT never
\getenv abs_srcdir PG_ABS_SRCDIR
\set sigil :abs_srcdir '/examples/sigil.telemetry.json'

-- The seed's example as 1.0.0, then 1.1.0 with the same event unchanged plus
-- a new one.
CREATE TEMP TABLE doc (v text PRIMARY KEY, d jsonb);
INSERT INTO doc SELECT '1.0.0', pg_read_file(:'sigil')::jsonb;
INSERT INTO doc SELECT '1.1.0', jsonb_set(jsonb_set(d, '{meta,version}', '"1.1.0"'), '{events,1}', '{
  "name": "sigil.telemetry.workflow_failed", "version": "1.0.0", "semantics": {"what": "A workflow failed"},
  "privacy": "internal", "properties": {"workflow": {"type": "string", "required": true}, "reason": {"type": "string"}}}', true)
FROM doc WHERE v = '1.0.0';
SELECT telemetry_register_spec(d) FROM doc WHERE v = '1.0.0';
SELECT telemetry_register_spec(d) FROM doc WHERE v = '1.1.0';
-- registering either again is a no-op
SELECT telemetry_register_spec(d) FROM doc ORDER BY v;

-- Each event version is one row, whatever the number of spec versions that
-- list it; its spec is the highest version that lists it.
SELECT event, version, spec, properties FROM telemetry.event_catalog ORDER BY event, version;
SELECT key, version, latest, events, providers FROM telemetry.spec_catalog ORDER BY key, version;
SELECT spec_key, spec_version, event, version, ordinal FROM telemetry.spec_events ORDER BY 1, 2, 5;
SELECT count(*) AS definitions FROM telemetry.event_defs;

-- Tracking against each: events store the spec key.
SELECT telemetry_track('sigil.telemetry.workflow_step', 1, '{"workflow": "onboarding", "step": "verify"}') IS NOT NULL AS tracked;
SELECT telemetry_track('sigil.telemetry.workflow_failed', '1.0.0', '{"workflow": "onboarding"}') IS NOT NULL AS tracked;
SELECT event, version, spec FROM telemetry.events ORDER BY event;

-- 2.0.0 with a breaking change to workflow_step under its major version 1
-- (the step property removed) is refused, naming the change (22023).
INSERT INTO doc SELECT '2.0.0-bad', jsonb_set(jsonb_set(d, '{meta,version}', '"2.0.0"'),
	'{events,0,version}', '"1.1.0"') #- '{events,0,properties,step}'
FROM doc WHERE v = '1.1.0';
SELECT telemetry_register_spec(d) FROM doc WHERE v = '2.0.0-bad';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- the same change as the event's version 2.0.0 registers
INSERT INTO doc SELECT '2.0.0', jsonb_set(jsonb_set(d, '{meta,version}', '"2.0.0"'),
	'{events,0,version}', '"2.0.0"') #- '{events,0,properties,step}'
FROM doc WHERE v = '1.1.0';
SELECT telemetry_register_spec(d) FROM doc WHERE v = '2.0.0';
SELECT event, version, spec FROM telemetry.event_catalog ORDER BY event, version;
-- tracking: no version is the latest, '1' the highest 1.x.y
SELECT telemetry_track('sigil.telemetry.workflow_step', NULL, '{"workflow": "w"}') AS id \gset
SELECT version, spec FROM telemetry.events WHERE id = :'id';
SELECT telemetry_track('sigil.telemetry.workflow_step', '1', '{"workflow": "w", "step": "s", "durationMs": 12}') AS id \gset
SELECT version, spec FROM telemetry.events WHERE id = :'id';

-- An event key@version is stored once: a different definition under it is
-- 42710 naming the first differing JSON path of the new document.
SELECT telemetry_register_spec(jsonb_set(jsonb_set(d, '{meta,version}', '"2.1.0"'),
	'{events,1,properties,reason,required}', 'true')) FROM doc WHERE v = '2.0.0';
SELECT telemetry_register_spec(jsonb_set(jsonb_set(d, '{meta,version}', '"2.1.0"'),
	'{events,0,semantics,why}', '"to see slow steps"')) FROM doc WHERE v = '2.0.0';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- and an event version belongs to one spec key
SELECT telemetry_register_spec(jsonb_set(d, '{meta,name}', '"sigil.other"')) FROM doc WHERE v = '1.0.0';
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- An event version's spec is the highest version that lists it, and that
-- version's defaults, context and anomaly switch apply.  1.2.0 lists 1.1.0's
-- event versions unchanged, with a default retention, a context and anomaly
-- detection off: workflow_step@1.0.0 moves to it, workflow_failed@1.0.0
-- stays with 2.0.0, the highest that lists it.
INSERT INTO doc SELECT '1.2.0', jsonb_set(jsonb_set(d, '{meta,version}', '"1.2.0"'), '{config}',
	(d -> 'config') || '{"defaultRetentionDays": 7, "context": {"userId": {"type": "string", "pii": true}},
	  "anomalyDetection": {"enabled": false}}')
FROM doc WHERE v = '1.1.0';
SELECT telemetry_register_spec(d) FROM doc WHERE v = '1.2.0';
SELECT event, version, spec, retention_days, anomaly_detection FROM telemetry.event_catalog ORDER BY event, version;
SELECT event, version, scope, name, redaction FROM telemetry.event_properties WHERE scope = 'context' ORDER BY 1, 2, 4;
SELECT telemetry_track('sigil.telemetry.workflow_step', '1.0.0', '{"workflow": "w", "step": "s"}', '{"userId": "u-1"}') AS id \gset
SELECT context FROM telemetry.events WHERE id = :'id';
SELECT telemetry_track('sigil.telemetry.workflow_failed', '1.0.0', '{"workflow": "w"}', '{"userId": "u-1"}') AS id \gset
SELECT context FROM telemetry.events WHERE id = :'id';

-- Unregistering a version removes the event versions no other version of
-- the key lists; the others move to the highest version still listing them.
SELECT telemetry_unregister_spec('sigil.telemetry', '1.2.0');
SELECT event, version, spec, retention_days, anomaly_detection FROM telemetry.event_catalog ORDER BY event, version;
SELECT count(*) AS context_rows FROM telemetry.event_properties WHERE scope = 'context';
SELECT telemetry_unregister_spec('sigil.telemetry', '1.0.0');
SELECT event, version, spec FROM telemetry.event_catalog ORDER BY event, version;
SELECT telemetry_unregister_spec('sigil.telemetry', '1.1.0');
SELECT event, version, spec FROM telemetry.event_catalog ORDER BY event, version;
SELECT key, version, latest FROM telemetry.spec_catalog ORDER BY key, version;
-- stored events stay
SELECT count(*) AS stored FROM telemetry.events;
-- 1.0.0 registers again: its event version is new again
SELECT telemetry_register_spec(d) FROM doc WHERE v = '1.0.0';
SELECT event, version, spec FROM telemetry.event_catalog ORDER BY event, version;

-- A deprecated spec: tracking one of its event versions warns once per
-- session and event version, naming what is newer.
SELECT telemetry_register_spec('{"meta": {"key": "app.old", "version": "1.0.0", "stability": "deprecated"},
  "events": [{"key": "app.old.opened", "version": "1.0.0", "semantics": {"what": "w"}, "privacy": "public", "properties": {}},
             {"key": "app.old.closed", "version": "1.0.0", "semantics": {"what": "w"}, "privacy": "public", "properties": {}}]}');
SELECT telemetry_register_spec('{"meta": {"key": "app.old", "version": "2.0.0"},
  "events": [{"key": "app.old.opened", "version": "2.0.0", "semantics": {"what": "w"}, "privacy": "public", "properties": {}}]}');
SELECT telemetry_track('app.old.opened', '1.0.0') IS NOT NULL AS tracked;
SELECT telemetry_track('app.old.opened', '1.0.0') IS NOT NULL AS tracked;
SELECT telemetry_track('app.old.closed', '1.0.0') IS NOT NULL AS tracked;
SELECT telemetry_track('app.old.closed', '1.0.0') IS NOT NULL AS tracked;
-- the newer version, of a stable spec version, does not warn
SELECT telemetry_track('app.old.opened') IS NOT NULL AS tracked;
-- a new session warns again
\c
SELECT telemetry_track('app.old.opened', '1') IS NOT NULL AS tracked;

DROP EXTENSION telemetry;
