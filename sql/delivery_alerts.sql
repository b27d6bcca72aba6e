-- Alerts out of the database and routing: registration errors (SQLSTATE
-- and JSON path), which providers an alert is queued for, and what it
-- carries for public and non-public events.  (Delivery itself: TAP
-- t/058_delivery_alerts.pl and t/059_delivery_routing.pl.)
CREATE EXTENSION telemetry;
\set SHOW_CONTEXT never
SELECT telemetry_run_maintenance() IS NOT NULL AS partitions;

-- check_spec(doc): "accepted: key@version" (then undone) or "SQLSTATE: message".
CREATE FUNCTION pg_temp.check_spec(doc jsonb) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	r text;
BEGIN
	BEGIN
		r := telemetry_register_spec(doc);
		RAISE SQLSTATE 'TLMOK';
	EXCEPTION
		WHEN SQLSTATE 'TLMOK' THEN
			RETURN 'accepted: ' || r;
		WHEN OTHERS THEN
			RETURN SQLSTATE || ': ' || SQLERRM;
	END;
END
$$;

-- a spec with four providers and two events, the second routed
CREATE TEMP TABLE base AS SELECT '{
  "meta": {"key": "al", "version": "1.0.0"},
  "config": {"providers": [
    {"type": "posthog", "config": {"projectApiKey": "k", "host": "http://127.0.0.1:9"}},
    {"type": "webhook", "name": "hook", "config": {"url": "http://127.0.0.1:9/hook", "secret": "whsec_aG9vaw=="}},
    {"type": "slack", "name": "ops", "config": {"url": "http://127.0.0.1:9/slack"}},
    {"type": "posthog", "name": "quiet", "alerts": false, "config": {"projectApiKey": "k", "host": "http://127.0.0.1:9/quiet"}},
    {"type": "internal"}]},
  "events": [
    {"key": "al.step", "version": "1.0.0", "semantics": {"what": "a step"}, "privacy": "public",
     "properties": {"durationMs": {"type": "number"}},
     "anomalyDetection": {"enabled": true, "minimumSample": 1,
       "thresholds": [{"metric": "durationMs", "max": 100}], "actions": ["alert"]}},
    {"key": "al.login", "version": "1.0.0", "semantics": {"what": "a login"}, "privacy": "pii",
     "providers": ["hook", "ops"],
     "properties": {"durationMs": {"type": "number"}, "email": {"type": "string", "pii": true}},
     "anomalyDetection": {"enabled": true, "minimumSample": 1,
       "thresholds": [{"metric": "durationMs", "max": 100}], "actions": ["alert", "log"]}}]}'::jsonb AS doc;

-- ---- registration errors ----
SELECT 'base' AS "case", pg_temp.check_spec(doc) FROM base
UNION ALL
SELECT 'routing to a provider the spec does not have', pg_temp.check_spec(jsonb_set(doc, '{events,1,providers}', '["hook", "mixpanel"]')) FROM base
UNION ALL
SELECT 'routing by type when the provider has a name', pg_temp.check_spec(jsonb_set(doc, '{events,1,providers}', '["slack"]')) FROM base
UNION ALL
SELECT 'routing by type of an unnamed provider', pg_temp.check_spec(jsonb_set(doc, '{events,1,providers}', '["posthog"]')) FROM base
UNION ALL
SELECT 'routing without providers', pg_temp.check_spec(jsonb_set(doc #- '{config,providers}', '{events,1,providers}', '["hook"]')) FROM base
UNION ALL
SELECT 'routing to nobody', pg_temp.check_spec(jsonb_set(doc, '{events,1,providers}', '[]')) FROM base
UNION ALL
SELECT 'routing not an array', pg_temp.check_spec(jsonb_set(doc, '{events,1,providers}', '"hook"')) FROM base
UNION ALL
SELECT 'routing with a number', pg_temp.check_spec(jsonb_set(doc, '{events,1,providers}', '["hook", 7]')) FROM base
UNION ALL
SELECT 'alerts not a boolean', pg_temp.check_spec(jsonb_set(doc, '{config,providers,0,alerts}', '"no"')) FROM base
UNION ALL
SELECT 'slack without alerts', pg_temp.check_spec(jsonb_set(doc, '{config,providers,2,alerts}', 'false')) FROM base
UNION ALL
SELECT 'slack without url', pg_temp.check_spec(jsonb_set(doc, '{config,providers,2,config}', '{}')) FROM base
UNION ALL
SELECT 'slack with another key', pg_temp.check_spec(jsonb_set(doc, '{config,providers,2,config,channel}', '"#ops"')) FROM base
UNION ALL
SELECT 'slack to a refused destination', pg_temp.check_spec(jsonb_set(doc, '{config,providers,2,config,url}', '"http://10.1.2.3/slack"')) FROM base
UNION ALL
SELECT 'slack to an unknown secret', pg_temp.check_spec(jsonb_set(doc, '{config,providers,2,config,url}', '{"secret": "nope"}')) FROM base;

-- the routing is the spec version's: the same version routed otherwise is
-- a different document
SELECT telemetry_register_spec(doc) FROM base;
SELECT pg_temp.check_spec(jsonb_set(doc, '{events,1,providers}', '["hook"]')) FROM base;
SELECT pg_temp.check_spec(doc) FROM base;
SELECT event, version, providers FROM telemetry.spec_events ORDER BY event;
-- what a next version changes in routing and alerts, as telemetry_spec_diff shows it
SELECT d.* FROM base, telemetry_spec_diff(doc, jsonb_set(jsonb_set(jsonb_set(doc, '{meta,version}', '"1.1.0"'),
	'{events,1,providers}', '["hook"]'), '{config,providers,3,alerts}', 'true')) d;
SELECT d.* FROM base, telemetry_spec_diff(doc, jsonb_set(doc #- '{events,1,providers}', '{events,0,providers}', '[]')) d;
SELECT name, type, alerts FROM telemetry.providers ORDER BY ordinal;
-- the spec read back shows the routing and the switch
SELECT telemetry_spec('al') -> 'events' -> 1 -> 'providers' AS routing,
	telemetry_spec('al') -> 'config' -> 'providers' -> 3 -> 'alerts' AS quiet_alerts;

-- routing in the claim: what each provider does not receive
SELECT p.name, telemetry._routed_away('al', p.name) FROM telemetry.providers p ORDER BY p.ordinal;

-- ---- alerts are queued with the anomaly, for the providers that receive them ----
SELECT telemetry_track('al.step', '1.0.0', '{"durationMs": 250}') IS NOT NULL AS tracked;
SELECT telemetry_track('al.login', '1.0.0', '{"durationMs": 300, "email": "a@example.com"}') IS NOT NULL AS tracked;
SELECT telemetry_check_anomalies();
SELECT a.event, q.provider, q.state, q.attempts
FROM telemetry.alert_queue q JOIN telemetry.anomalies a ON a.id = q.anomaly_id
ORDER BY a.event, q.provider;
-- one alert id per anomaly, the same for every provider
SELECT anomaly_id, count(DISTINCT alert_id) AS alert_ids, count(*) AS providers
FROM telemetry.alert_queue GROUP BY anomaly_id ORDER BY anomaly_id;
-- a public event's alert has the anomaly's values; a pii event's neither
-- its observed value nor its sample size (and never a property value)
SELECT a.event, q.payload - 'anomaly_id' - 'detected_at' AS payload,
	q.payload ? 'detected_at' AS has_time, q.payload::text LIKE '%example.com%' AS has_email
FROM telemetry.alert_queue q JOIN telemetry.anomalies a ON a.id = q.anomaly_id
WHERE q.provider = 'hook' ORDER BY a.event;
SELECT a.event, regexp_replace(q.summary, 'anomaly [0-9]+', 'anomaly N') AS summary
FROM telemetry.alert_queue q JOIN telemetry.anomalies a ON a.id = q.anomaly_id
WHERE q.provider = 'ops' ORDER BY a.event;

-- the item of each provider type, as delivery renders it (the pii event's;
-- ids, times and the anomaly id replaced)
SELECT t.type, regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(
		telemetry._alert_item(t.type, q),
		'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', 'ALERT-ID', 'g'),
		'"[0-9]{4}-[0-9]{2}-[0-9]{2}T[^"]*"', '"TIME"', 'g'),
		'"[0-9]{19}"', '"NANOS"', 'g'),
		'(anomaly_id"(: |, "value": \{"doubleValue": )|anomaly )[0-9]+', '\1N', 'g'),
		'"detected_at": "[^"]*"', '"detected_at": "TIME"', 'g') AS item
FROM telemetry.alert_queue q JOIN telemetry.anomalies a ON a.id = q.anomaly_id,
	unnest(ARRAY['posthog', 'segment', 'webhook', 'opentelemetry', 'slack']) AS t(type)
WHERE q.provider = 'ops' AND a.event = 'al.login' ORDER BY t.type;
SELECT telemetry._alert_item('internal', q) FROM telemetry.alert_queue q LIMIT 1;

-- a rolled-back check queues nothing
BEGIN;
SELECT telemetry_track('al.step', '1.0.0', '{"durationMs": 500}') IS NOT NULL AS tracked;
COMMIT;
BEGIN;
SELECT telemetry_check_anomalies();
SELECT count(*) AS queued_in_the_check FROM telemetry.alert_queue;
ROLLBACK;
SELECT count(*) AS queued_after_rollback FROM telemetry.alert_queue;

-- a dead alert is sent again by telemetry_retry_dead_letters, with its id
UPDATE telemetry.alert_queue SET state = 'dead', attempts = 3, error = 'HTTP 400'
WHERE provider = 'hook' AND anomaly_id = 1;
SELECT telemetry_retry_dead_letters('al/hook') AS requeued;
SELECT provider, state, attempts FROM telemetry.alert_queue WHERE anomaly_id = 1 ORDER BY provider;

-- delivery_status counts each provider's alerts by state (everyone reads it)
UPDATE telemetry.alert_queue SET state = 'delivered', attempts = 1, settled_at = now()
WHERE provider = 'posthog';
SELECT provider, alerts_pending, alerts_delivered, alerts_dead
FROM telemetry.delivery_status ORDER BY provider;

-- a provider that receives alerts only has no events to replay (22023)
SELECT telemetry_replay('al/ops', now() - interval '1 day', now() + interval '1 hour');
SELECT count(*) AS replay_rows FROM telemetry.delivery_failures;

-- telemetry_forget finds the dead letters of the events it removes by id
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) DELETE FROM telemetry.delivery_failures f
WHERE f.event_id = ANY ('{00000000-0000-4000-8000-000000000001}'::uuid[]);
RESET enable_seqscan;

-- a new latest version without the slack provider drops its pending alerts
SELECT telemetry_register_spec(jsonb_set(jsonb_set(doc #- '{config,providers,2}', '{meta,version}', '"1.1.0"'),
	'{events,1,providers}', '["hook"]')) FROM base;
SELECT provider, state, count(*) FROM telemetry.alert_queue GROUP BY 1, 2 ORDER BY 1, 2;

-- slack renders no event
SELECT telemetry._delivery_item('slack', e) FROM telemetry.events e LIMIT 1;
-- the queue is the owner's
SELECT has_table_privilege('public', 'telemetry.alert_queue', 'SELECT') AS public_reads_queue,
	has_function_privilege('public', 'telemetry._queue_alert(telemetry.anomalies)', 'EXECUTE') AS public_queues;
-- the hook that was never defined is gone
SELECT count(*) AS hook FROM pg_proc WHERE proname = '_deliver_anomaly';
DROP EXTENSION telemetry;
