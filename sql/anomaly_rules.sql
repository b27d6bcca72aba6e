-- Anomaly thresholds beyond the seed: the log action, min bounds and
-- aggregates over a window ending at the check.
CREATE EXTENSION telemetry;
\set SHOW_CONTEXT never
SELECT telemetry_run_maintenance() IS NOT NULL AS partitions;
SELECT telemetry_register_spec('{
  "meta": {"key": "anom.test", "version": "1.0.0"},
  "events": [{
    "key": "anom.job", "version": "1.0.0",
    "semantics": {"what": "A batch job ran"}, "privacy": "internal",
    "properties": {"ms": {"type": "number"}, "rows": {"type": "number"}},
    "anomalyDetection": {
      "enabled": true, "minimumSample": 3,
      "thresholds": [
        {"metric": "rows", "min": 1},
        {"metric": "ms", "aggregate": "p95", "window": "5 minutes", "max": 1000},
        {"aggregate": "count", "window": "10 minutes", "min": 2}
      ],
      "actions": ["log"]
    }
  }]
}');

-- A: three slow events 20 minutes ago.  Per event, rows 5 is fine.  The
-- p95 window (5 minutes) holds no value, so it stays quiet despite the slow
-- values; the count over 10 minutes is 0 < 2 and fires (log: a WARNING).
SELECT count(telemetry_track('anom.job', '1.0.0', '{"ms": 5000, "rows": 5}', '{}', now() - interval '20 minutes'))
FROM generate_series(1, 3);
SELECT telemetry_check_anomalies();
SELECT id, rule, metric, aggregate, "window", bound, threshold, observed, violations, sample_size, checks, status
FROM telemetry.anomalies ORDER BY id;

-- B: two fast events now with rows 0: one record for the two rows
-- violations (worst 0); p95 = 100 is quiet; the count is back to 2, so the
-- open count anomaly is resolved
SELECT count(telemetry_track('anom.job', '1.0.0', '{"ms": 100, "rows": 0}')) FROM generate_series(1, 2);
SELECT telemetry_check_anomalies();
SELECT id, rule, metric, aggregate, bound, threshold, observed, violations, sample_size, checks, status, note IS NOT NULL AS noted
FROM telemetry.anomalies ORDER BY id;

-- C: three slow events now: p95 over the last 5 minutes is 5000 > 1000;
-- rows 1 is not below min 1
SELECT count(telemetry_track('anom.job', '1.0.0', '{"ms": 5000, "rows": 1}')) FROM generate_series(1, 3);
SELECT telemetry_check_anomalies();
SELECT id, rule, metric, aggregate, bound, threshold, observed, violations, sample_size, checks, status
FROM telemetry.anomalies WHERE id > 2 ORDER BY id;

-- D: still violated at the next check: the open record is updated, no new
-- record and no repeated action
SELECT telemetry_check_anomalies();
SELECT id, observed, violations, checks, last_detected_at >= detected_at AS later, status
FROM telemetry.anomalies WHERE id > 2 ORDER BY id;

-- E: sixty fast events bring p95 back within the threshold: resolved
SELECT count(telemetry_track('anom.job', '1.0.0', '{"ms": 100, "rows": 3}')) FROM generate_series(1, 60);
SELECT telemetry_check_anomalies();
SELECT id, rule, status, resolved_by, note LIKE 'cleared: back within the threshold%' AS cleared
FROM telemetry.anomalies ORDER BY id;
SELECT count(*) FROM telemetry.open_anomalies;

-- the count threshold counts estimated events; the summary has a NULL metric for it
SELECT event, version, metric, open, last_24h, worst_high, worst_low
FROM telemetry.anomaly_summary ORDER BY metric NULLS FIRST;

-- a spec with detection switched off in its config is never checked
SELECT telemetry_register_spec('{
  "meta": {"key": "anom.off", "version": "1.0.0"},
  "config": {"anomalyDetection": {"enabled": false}},
  "events": [{
    "key": "anom.off_job", "version": "1.0.0",
    "semantics": {"what": "A job"}, "privacy": "internal",
    "properties": {"ms": {"type": "number"}},
    "anomalyDetection": {"enabled": true, "minimumSample": 1,
      "thresholds": [{"metric": "ms", "max": 1}], "actions": ["log"]}
  }]
}');
SELECT telemetry_track('anom.off_job', '1.0.0', '{"ms": 50}') IS NOT NULL AS tracked;
SELECT telemetry_check_anomalies();
SELECT event FROM telemetry.anomaly_state ORDER BY event;

DROP EXTENSION telemetry;
