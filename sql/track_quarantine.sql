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
-- (undeclared properties are dropped, not kept masked: their keys may be the data)
SELECT telemetry_track('t.redact', '1', '{"m": 12345, "oops": "maybe-an-email@example.com"}') AS quarantined;
-- an undeclared key that could not be a property name is not named either
SELECT telemetry_track('t.redact', '1', '{"m": "x", "4111111111111111": "visa", "ann@example.com": 1}') AS quarantined;
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
-- the quarantine keeps nothing tracking would refuse: names and versions
-- longer than 128 bytes (which no event has) are cut there, on a character
-- boundary (issue 10, finding 12)
SET client_min_messages = error;
SELECT telemetry_track(repeat('x', 1000000), repeat('y', 1000000), '{"a": 1}') AS quarantined;
SELECT telemetry_track(repeat('é', 100), NULL, '{"a": 1}') AS quarantined;
RESET client_min_messages;
SELECT octet_length(event) AS event_bytes, octet_length(version) AS version_bytes, length(event) AS event_chars,
	event = repeat(left(event, 1), length(event)) AS whole_characters, octet_length(error) < 400 AS short_error
FROM telemetry.rejected_events WHERE event LIKE 'xxx%' OR event LIKE 'ééé%' ORDER BY id;
RESET telemetry.on_invalid;
-- the default is strict
SHOW telemetry.on_invalid;
SELECT telemetry_track('t.typed', '1.0.0', '{"n": 1}');
SET telemetry.on_invalid = 'ignore';

DROP EXTENSION telemetry;
