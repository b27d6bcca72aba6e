-- Red-team review (issue 10 follow-up): the anomaly views hide observed
-- values of events that are not public from roles other than the owner and
-- the reader, but show which thresholds fired.  A spec admin who declares
-- 64 graded thresholds on a pii event's number (max 10000, 20000, ...)
-- learns each event's value to within one step from anomaly_history:
-- here 180000 < amount <= 190000 for a salary of 183250.75.
-- Expected: a role that may not see the values cannot tell which of an
-- event's thresholds fired either.
CREATE EXTENSION telemetry;
CREATE ROLE regress_rt_nobody;
SELECT telemetry_register_spec(jsonb_build_object('meta', jsonb_build_object('key', 'hr', 'version', '1.0.0'),
	'events', jsonb_build_array(jsonb_build_object('key', 'hr.salary', 'version', '1.0.0',
		'semantics', jsonb_build_object('what', 'salary paid'), 'privacy', 'pii',
		'properties', jsonb_build_object('amount', jsonb_build_object('type', 'number')),
		'anomalyDetection', jsonb_build_object('thresholds',
			(SELECT jsonb_agg(jsonb_build_object('metric', 'amount', 'max', i * 10000)) FROM generate_series(1, 64) i))))));
SELECT telemetry_track('hr.salary', NULL, '{"amount": 183250.75}') IS NOT NULL AS stored;
SELECT telemetry_check_anomalies() > 0 AS detected;
SET ROLE regress_rt_nobody;
SELECT max(threshold) IS NULL AS thresholds_hidden, max(observed) IS NULL AS values_hidden
FROM telemetry.anomaly_history WHERE event = 'hr.salary';
SELECT count(*) AS rows_seen FROM telemetry.anomaly_history WHERE event = 'hr.salary';
RESET ROLE;
-- Any role may LISTEN: the 18 anomalies of the check make one notice
-- (identical payloads of a transaction are sent once), with no rule
SELECT count(*) AS anomalies, count(DISTINCT telemetry._anomaly_notice(a)) AS notices,
	min(telemetry._anomaly_notice(a)::text) AS notice
FROM telemetry.anomalies a WHERE event = 'hr.salary';
DROP EXTENSION telemetry;
DROP ROLE regress_rt_nobody;
