-- Who may track, and what a plain role cannot do.
\getenv abs_srcdir PG_ABS_SRCDIR
\set setup :abs_srcdir '/test/track_setup.sql'
\i :setup

CREATE ROLE regress_plain;
SET ROLE regress_plain;
-- tracking is open to PUBLIC (through the SECURITY DEFINER function)
SELECT telemetry_track('t.typed', '1.0.0', '{"s": "from a plain role"}') IS NOT NULL AS tracked;
-- the table itself is not
INSERT INTO telemetry.events (id, event, version, spec, occurred_at)
	VALUES (gen_random_uuid(), 't.typed', '1.0.0', 't@1.0.0', now());
UPDATE telemetry.events SET properties = '{}';
DELETE FROM telemetry.events;
SELECT count(*) FROM telemetry.events;
SELECT count(*) FROM telemetry.events_default;
-- nor the redaction key, secrets, quarantine or catalog tables
SELECT key FROM telemetry.redaction_key;
UPDATE telemetry.redaction_key SET key = '\x00';
SELECT * FROM telemetry.secrets;
SELECT * FROM telemetry.rejected_events;
UPDATE telemetry.event_properties SET redaction = NULL;
-- nor reset the counters
SELECT telemetry_reset_stats();
-- the counters view is readable
SELECT event, stored FROM telemetry.track_stats;
RESET ROLE;

-- the event was stored, as the role that tracked it cannot see
SELECT event, properties FROM telemetry.events;

DROP ROLE regress_plain;
DROP EXTENSION telemetry;
