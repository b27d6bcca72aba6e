-- Red-team review (issue 10 follow-up): a value of a timestamp property
-- must be checked without raising PostgreSQL's own errors.  Today a string
-- whose time zone part is not a known zone ("1984-03-02 Alice.Smith/SSN-...")
-- makes DecodeDateTime raise 'time zone "alice.smith/ssn-..." not
-- recognized': part of a pii value in the message, the statement with the
-- raw value in the server log (no errhidestmt), and the transaction aborted
-- even with telemetry.on_invalid = quarantine.  Expected: the extension's
-- own "must be a timestamp" error, and a quarantined event in quarantine.
CREATE EXTENSION telemetry;
\set SHOW_CONTEXT never
SELECT telemetry_register_spec('{"meta": {"key": "rt", "version": "1.0.0"},
	"events": [{"key": "rt.born", "version": "1.0.0", "semantics": {"what": "x"}, "privacy": "internal",
		"properties": {"born": {"type": "timestamp", "pii": true}}}]}');
SELECT telemetry_track('rt.born', NULL, '{"born": "1984-03-02 Alice.Smith/SSN-078-05-1120"}');
SET telemetry.on_invalid = quarantine;
SELECT telemetry_track('rt.born', NULL, '{"born": "1984-03-02 Alice.Smith/SSN-078-05-1120"}') IS NULL AS quarantined;
SELECT event, properties, sqlstate, error FROM telemetry.rejected_events;
-- the same rule for occurred_at in a batch: the item's error, not PostgreSQL's
RESET telemetry.on_invalid;
SELECT count(*) FROM telemetry_track_batch('[{"event": "rt.born", "occurred_at": "2024-01-01 12:00 No/Such_Zone"}]');
DROP EXTENSION telemetry;
