-- One event version's failing check never stops the others (issue 10,
-- findings 14 and 16): each version is checked in its own subtransaction; a
-- failure is recorded against that version (failures, last_sqlstate,
-- last_error, retry_at), reported as a WARNING, and retried after a backoff
-- that doubles, while the other versions' anomalies are still detected in
-- the same run.  Its position does not move, so once the cause is gone its
-- events are evaluated, none skipped.
CREATE EXTENSION telemetry;
\set SHOW_CONTEXT never
SELECT telemetry_run_maintenance() IS NOT NULL AS partitions;
SELECT telemetry_register_spec('{
  "meta": {"key": "fail.spec", "version": "1.0.0"},
  "config": {"anomalyDetection": {"enabled": true, "checkIntervalMs": 2000}},
  "events": [
    {"key": "fail.bad", "version": "1.0.0", "semantics": {"what": "w"}, "privacy": "internal",
     "properties": {"ms": {"type": "number"}},
     "anomalyDetection": {"enabled": true, "thresholds": [{"metric": "ms", "max": 100}]}},
    {"key": "fail.good", "version": "1.0.0", "semantics": {"what": "w"}, "privacy": "internal",
     "properties": {"ms": {"type": "number"}},
     "anomalyDetection": {"enabled": true, "thresholds": [{"metric": "ms", "max": 100}]}}
  ]
}');

-- The owner makes every anomaly record of fail.bad fail (a check
-- constraint), so its checks fail at run time.
ALTER TABLE telemetry.anomalies ADD CONSTRAINT regress_no_bad CHECK (event <> 'fail.bad');
SELECT count(telemetry_track('fail.bad', '1.0.0', '{"ms": 500}')) FROM generate_series(1, 3);
SELECT count(telemetry_track('fail.good', '1.0.0', '{"ms": 700}')) FROM generate_series(1, 2);

-- The worker's job at chosen times (t0 + n seconds): fail.bad fails and is
-- recorded; fail.good's anomaly is recorded in the same run.
CREATE TEMP TABLE t0 AS SELECT date_trunc('second', now()) + interval '1 hour' AS t0;
CREATE FUNCTION pg_temp.job(secs integer) RETURNS jsonb LANGUAGE sql AS $$
	SELECT telemetry._anomaly_job(t0 + make_interval(secs => secs)) - 'next_check_at' FROM t0
$$;
CREATE FUNCTION pg_temp.state() RETURNS TABLE (event text, checks bigint, stored bigint, failures integer,
	last_sqlstate text, last_error text, last_error_at interval, retry_at interval, next_check_at interval)
	LANGUAGE sql AS $$
	SELECT s.event, s.checks, s.stored, s.failures, s.last_sqlstate, s.last_error,
		s.last_error_at - t0, s.retry_at - t0, s.next_check_at - t0
	FROM telemetry.anomaly_state s, t0 ORDER BY s.event
$$;
SELECT pg_temp.job(0);
SELECT * FROM pg_temp.state();
SELECT event, observed, violations, sample_size FROM telemetry.anomalies ORDER BY id;

-- backing off: not retried before retry_at (2 s, the spec's interval) ...
SELECT pg_temp.job(1);
SELECT event, checks, failures FROM pg_temp.state();
-- ... then retried, and the next wait is twice as long (4 s), then 8 s
SELECT pg_temp.job(2);
SELECT * FROM pg_temp.state();
SELECT pg_temp.job(5);
SELECT event, checks, failures FROM pg_temp.state();
SELECT pg_temp.job(6);
SELECT event, checks, failures, retry_at, next_check_at FROM pg_temp.state();

-- the worker learns when to come back: the earliest due time, the failing
-- version's retry included
SELECT (telemetry._anomaly_job(t0 + interval '7 seconds') ->> 'next_check_at')::timestamptz - t0 AS next_check_at
FROM t0;
SELECT event, checks, failures, retry_at, next_check_at FROM pg_temp.state();

-- telemetry_check_anomalies() checks every version, backing off or not,
-- for operators; the failure is reported to its caller too
SELECT telemetry_check_anomalies();
SELECT event, checks, failures, last_sqlstate FROM pg_temp.state();

-- everyone sees that a version fails and its SQLSTATE; the text of the
-- error only the owner and the reader (it may quote data)
CREATE ROLE regress_fail_nobody;
SET ROLE regress_fail_nobody;
SELECT event, failures, last_sqlstate, last_error FROM telemetry.anomaly_checks ORDER BY event;
RESET ROLE;
DROP ROLE regress_fail_nobody;

-- the cause is gone: at its retry time the version is checked, its three
-- events (the position never moved) give one anomaly, and it is healthy
-- again; the last error stays for the record
ALTER TABLE telemetry.anomalies DROP CONSTRAINT regress_no_bad;
SELECT pg_temp.job(100);
SELECT event, checks, stored, failures, retry_at, last_sqlstate, last_error IS NOT NULL AS error_kept
FROM pg_temp.state();
SELECT event, observed, violations, sample_size FROM telemetry.anomalies ORDER BY id;

-- the backoff is capped at an hour (or the interval, when longer)
ALTER TABLE telemetry.anomalies ADD CONSTRAINT regress_no_bad CHECK (event <> 'fail.bad') NOT VALID;
SELECT telemetry_track('fail.bad', '1.0.0', '{"ms": 900}') IS NOT NULL AS tracked;
UPDATE telemetry.anomaly_state SET failures = 30 WHERE event = 'fail.bad';
SELECT pg_temp.job(200);
SELECT event, failures, retry_at - last_error_at AS backoff FROM pg_temp.state() WHERE event = 'fail.bad';
ALTER TABLE telemetry.anomalies DROP CONSTRAINT regress_no_bad;

-- as_of must be a finite time
SELECT telemetry._anomaly_job('infinity');
SELECT telemetry._anomaly_job(NULL);

DROP EXTENSION telemetry;
