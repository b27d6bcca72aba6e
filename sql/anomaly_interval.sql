-- Each spec is checked at its own config.anomalyDetection.checkIntervalMs
-- (issue 14, item 3), never more often than telemetry.anomaly_min_interval
-- (issue 10, finding 15), and at telemetry.anomaly_interval when it sets
-- none.  telemetry._anomaly_job(as_of) is the worker's job run at a chosen
-- time: the test counts the checks of each version, not wall time.
CREATE EXTENSION telemetry;
\set SHOW_CONTEXT never
SELECT telemetry_run_maintenance() IS NOT NULL AS partitions;

-- fast: 1 s; slow: 5 s; plain: none (telemetry.anomaly_interval, 10 s);
-- eager: 100 ms, raised to the 1 s floor
SELECT telemetry_register_spec(jsonb_build_object(
	'meta', jsonb_build_object('key', 'iv.' || name, 'version', '1.0.0'),
	'config', CASE WHEN ms IS NOT NULL THEN jsonb_build_object('anomalyDetection', jsonb_build_object('checkIntervalMs', ms)) END,
	'events', jsonb_build_array(jsonb_build_object(
		'key', 'iv.' || name || '.e', 'version', '1.0.0', 'privacy', 'internal', 'semantics', jsonb_build_object('what', 'w'),
		'properties', jsonb_build_object('ms', jsonb_build_object('type', 'number')),
		'anomalyDetection', jsonb_build_object('thresholds', jsonb_build_array(jsonb_build_object('metric', 'ms', 'max', 100)))))))
FROM (VALUES ('fast', 1000), ('slow', 5000), ('plain', NULL), ('eager', 100)) AS v(name, ms);
SELECT event, check_interval FROM telemetry.anomaly_checks ORDER BY event;

-- Ten seconds of the worker's job, one run a second from t0: each run
-- checks the versions due and says when the next one is due.
CREATE TEMP TABLE t0 AS SELECT date_trunc('second', now()) + interval '1 hour' AS t0;
SELECT k AS second, r ->> 'checked' AS checked, (r ->> 'next_check_at')::timestamptz - t0 AS next_due
FROM t0, generate_series(0, 10) k,
	LATERAL telemetry._anomaly_job(t0 + make_interval(secs => k)) AS r
ORDER BY k;
SELECT event, checks FROM telemetry.anomaly_checks ORDER BY event;

-- The owner raises the floor to 2 s: fast and eager are checked every 2 s,
-- slow stays at 5 s, plain at 10 s.
SET telemetry.anomaly_min_interval = '2s';
SELECT event, check_interval FROM telemetry.anomaly_checks ORDER BY event;
SELECT k AS second, r ->> 'checked' AS checked
FROM t0, generate_series(11, 20) k,
	LATERAL telemetry._anomaly_job(t0 + make_interval(secs => k)) AS r
ORDER BY k;
SELECT event, checks FROM telemetry.anomaly_checks ORDER BY event;
RESET telemetry.anomaly_min_interval;

-- nothing due: the job checks nothing and names the earliest due time
SELECT r ->> 'checked' AS checked, r ->> 'recorded' AS recorded,
	(r ->> 'next_check_at')::timestamptz - t0 AS next_due
FROM t0, LATERAL telemetry._anomaly_job(t0 + interval '20.5 seconds') AS r;

-- a due version's new events are evaluated by the job; the others wait
SELECT telemetry_track('iv.fast.e', '1.0.0', '{"ms": 500}') IS NOT NULL AS tracked;
SELECT telemetry_track('iv.slow.e', '1.0.0', '{"ms": 500}') IS NOT NULL AS tracked;
SELECT r ->> 'checked' AS checked, r ->> 'recorded' AS recorded
FROM t0, LATERAL telemetry._anomaly_job(t0 + interval '21 seconds') AS r;
SELECT event, observed FROM telemetry.anomalies ORDER BY id;
SELECT r ->> 'checked' AS checked, r ->> 'recorded' AS recorded
FROM t0, LATERAL telemetry._anomaly_job(t0 + interval '25 seconds') AS r;
SELECT event, observed FROM telemetry.anomalies ORDER BY id;

-- telemetry_check_anomalies() checks every version, due or not
SELECT telemetry_check_anomalies();
SELECT event, checks FROM telemetry.anomaly_checks ORDER BY event;

-- neither the job nor its state is for everyone
SELECT has_function_privilege('public', 'telemetry._anomaly_job(timestamptz)', 'EXECUTE') AS job_public,
	has_table_privilege('public', 'telemetry.anomaly_state', 'SELECT') AS state_public;

DROP EXTENSION telemetry;
