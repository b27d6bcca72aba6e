-- telemetry.on_invalid = quarantine: invalid events are kept aside, redacted,
-- and never abort the caller's transaction.
\getenv abs_srcdir PG_ABS_SRCDIR
\set setup :abs_srcdir '/test/track_setup.sql'
\i :setup

SET telemetry.on_invalid = quarantine;
BEGIN;
CREATE TEMP TABLE work (x int);
INSERT INTO work VALUES (1);
-- wrong type of a pii property, an undeclared key, a missing required one
SELECT telemetry_track('t.redact', '1', '{"m": 12345, "oops": "maybe-an-email@example.com"}') AS quarantined;
SELECT telemetry_track('t.typed', '1.0.0', '{"n": 1}') AS quarantined;
SELECT telemetry_track('no.such.event', NULL, '{"email": "x@example.com"}') AS quarantined;
SELECT telemetry_track('t.all', NULL, '{}', '{"userId": "u-9", "ip": "10.9.9.9"}', now() + interval '3 days') AS quarantined;
INSERT INTO work VALUES (2);
COMMIT;
SELECT count(*) AS callers_work_committed FROM work;
SELECT event, version, properties, context - 'userId' AS context,
	context ->> 'userId' LIKE 'hmac-sha256:%' AS user_hashed, sqlstate, error, role = current_user AS by_me
FROM telemetry.rejected_events ORDER BY id;
SELECT count(*) AS stored FROM telemetry.events;
SELECT event, rejected FROM telemetry.track_stats WHERE rejected > 0 ORDER BY 1;
-- valid events are still stored in quarantine mode
SELECT telemetry_track('t.typed', '1.0.0', '{"s": "ok"}') IS NOT NULL AS stored;
RESET telemetry.on_invalid;
-- the default is strict
SHOW telemetry.on_invalid;
SELECT telemetry_track('t.typed', '1.0.0', '{"n": 1}');
SET telemetry.on_invalid = 'ignore';

DROP EXTENSION telemetry;
