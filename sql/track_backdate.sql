-- Back-dated events: bounded for roles other than the owner, and late ones
-- copied to telemetry.late_events, where readers after a cursor find them.
\getenv abs_srcdir PG_ABS_SRCDIR
\set setup :abs_srcdir '/test/track_setup.sql'
\i :setup
SET timezone = 'UTC';

-- an event dated now is not late: no copy
SELECT telemetry_track('t.typed', '1.0.0', '{"s": "now"}') IS NOT NULL AS stored;
SELECT count(*) AS copies FROM telemetry.late_events;

-- the owner back-dates as far as the event's retention (30 days here) allows
SELECT telemetry_track('t.typed', '1.0.0', '{"s": "owner"}', '{}', now() - interval '20 days') AS id \gset
SELECT e.id = :'id' AS same_id, l.properties, l.xid = e.xid AS same_xid,
	telemetry._is_late(l.occurred_at, l.received_at) AS late
FROM telemetry.late_events l JOIN telemetry.events e USING (id);
-- beyond the retention it is expired, as before (NULL, nothing stored)
SELECT telemetry_track('t.typed', '1.0.0', '{"s": "old"}', '{}', now() - interval '40 days') IS NULL AS expired;

-- other roles: at most telemetry.max_backdate_days (7) days back
SHOW telemetry.max_backdate_days;
CREATE ROLE backdater;
SET ROLE backdater;
SELECT telemetry_track('t.typed', '1.0.0', '{"s": "3 days"}', '{}', now() - interval '3 days') IS NOT NULL AS stored;
\set VERBOSITY sqlstate
SELECT telemetry_track('t.typed', '1.0.0', '{"s": "10 days"}', '{}', now() - interval '10 days');
\set VERBOSITY default
SELECT telemetry_track('t.typed', '1.0.0', '{"s": "10 days"}', '{}', now() - interval '10 days');
-- the limit is the start of the UTC day 7 days ago, as for retention
SELECT telemetry_track('t.typed', '1.0.0', '{"s": "edge"}', '{}',
	((now() AT TIME ZONE 'UTC')::date - 7)::timestamp AT TIME ZONE 'UTC') IS NOT NULL AS edge_stored;
SELECT telemetry_track('t.typed', '1.0.0', '{"s": "edge"}', '{}',
	((now() AT TIME ZONE 'UTC')::date - 7)::timestamp AT TIME ZONE 'UTC' - interval '1 microsecond');
-- quarantine instead of an error
SET telemetry.on_invalid = quarantine;
SELECT telemetry_track('t.typed', '1.0.0', '{"s": "10 days"}', '{}', now() - interval '10 days') IS NULL AS quarantined;
RESET telemetry.on_invalid;
-- only a superuser changes the limit
SET telemetry.max_backdate_days = 100;
RESET ROLE;
SELECT sqlstate, error FROM telemetry.rejected_events;
SELECT l.properties ->> 's' AS copied FROM telemetry.late_events l ORDER BY l.received_at;

-- the limit is the superuser's to set; 0 means today only
SET telemetry.max_backdate_days = 0;
SET ROLE backdater;
\set VERBOSITY sqlstate
SELECT telemetry_track('t.typed', '1.0.0', '{"s": "yesterday"}', '{}', now() - interval '1 day');
\set VERBOSITY default
RESET ROLE;
RESET telemetry.max_backdate_days;

-- The xid clock that readers bound their scans with: an event of a
-- transaction whose id is at or above a sample's next_xid was received
-- after the sample's time.
SELECT at, next_xid FROM telemetry._xid_clock() \gset clock_
SELECT telemetry_track('t.typed', '1.0.0', '{"s": "clock"}') AS id \gset
SELECT xid >= :'clock_next_xid' AS later_xid, received_at >= :'clock_at' AS later_received
FROM telemetry.events WHERE id = :'id';

DROP ROLE backdater;
DROP EXTENSION telemetry;
