-- telemetry_track_batch: one request's events in one call.
\getenv abs_srcdir PG_ABS_SRCDIR
\set setup :abs_srcdir '/test/track_setup.sql'
\i :setup
SET timezone = 'UTC';

-- mixed events and versions; one id per item, in order (NULL when not stored)
SELECT i, id IS NOT NULL AS stored FROM telemetry_track_batch('[
  {"event": "t.typed", "version": "1.0.0", "properties": {"s": "a", "n": 1}},
  {"event": "t.typed", "version": "1.1.0", "properties": {"s": "b", "extra": "x"}},
  {"event": "t.typed", "version": "1.0", "properties": {"s": "c"}, "context": {"userId": "u-1", "ip": "10.0.0.1"},
   "occurred_at": "2026-11-30 12:00:00+00"},
  {"event": "t.none", "properties": {}}
]') WITH ORDINALITY AS b(id, i) ORDER BY i;
SELECT properties ->> 's' AS s, event, version, properties, context ->> 'userId' LIKE 'hmac-sha256:%' AS hashed,
	context ? 'ip' AS ip_kept
FROM telemetry.events ORDER BY 1;
-- the integer version form of the seed, as in telemetry_track
SELECT count(*) AS stored FROM telemetry_track_batch('[{"event": "t.typed", "version": 1, "properties": {"s": "int"}}]') id
WHERE id IS NOT NULL;

-- empty array: nothing
SELECT count(*) FROM telemetry_track_batch('[]');

-- bad input: SQLSTATE and message
\set VERBOSITY sqlstate
SELECT telemetry_track_batch(NULL);
\set VERBOSITY default
SELECT telemetry_track_batch('{"event": "t.typed"}');
SELECT telemetry_track_batch('[1]');
SELECT telemetry_track_batch('[{"properties": {}}]');
SELECT telemetry_track_batch('[{"event": "t.typed", "propertes": {}}]');
SELECT telemetry_track_batch('[{"event": "t.typed", "properties": []}]');
SELECT telemetry_track_batch('[{"event": "t.typed", "properties": {"s": "x"}, "occurred_at": "yesterday-ish"}]');
-- an invalid item fails the whole call, naming its index; nothing is stored
SELECT count(*) AS before FROM telemetry.events \gset
SELECT telemetry_track_batch('[{"event": "t.typed", "properties": {"s": "ok"}},
	{"event": "t.typed", "version": "1.0.0", "properties": {"s": "ok", "n": "not a number"}}]');
SELECT telemetry_track_batch('[{"event": "t.typed", "properties": {"s": "ok"}}, {"event": "no.such"}]');
SELECT count(*) - :before AS stored_after_errors FROM telemetry.events;
-- with quarantine, the invalid item is quarantined and the others stored
SET telemetry.on_invalid = quarantine;
SELECT id IS NOT NULL AS stored FROM telemetry_track_batch('[{"event": "t.typed", "properties": {"s": "good"}},
	{"event": "t.typed", "version": "1.0.0", "properties": {"s": "bad", "n": "not a number"}},
	{"event": "t.typed", "properties": {"s": "good too"}}]') id;
RESET telemetry.on_invalid;
SELECT sqlstate, error FROM telemetry.rejected_events;
SELECT count(*) - :before AS stored_with_quarantine FROM telemetry.events;

-- limits
SET telemetry.max_batch_events = 2;
SELECT telemetry_track_batch('[{"event": "t.typed", "properties": {"s": "1"}}, {"event": "t.typed", "properties": {"s": "2"}},
	{"event": "t.typed", "properties": {"s": "3"}}]');
RESET telemetry.max_batch_events;
SET telemetry.max_batch_bytes = 1024;
SELECT telemetry_track_batch(jsonb_build_array(jsonb_build_object('event', 't.typed', 'properties', jsonb_build_object('s', repeat('x', 2000)))));
RESET telemetry.max_batch_bytes;
CREATE ROLE batch_user;
SET ROLE batch_user;
SET telemetry.max_batch_events = 100000;
RESET ROLE;
DROP ROLE batch_user;

-- a batch inside a rolled-back transaction leaves nothing
SELECT count(*) AS before FROM telemetry.events \gset
BEGIN;
SELECT count(*) FROM telemetry_track_batch('[{"event": "t.typed", "properties": {"s": "rolled back"}}]');
ROLLBACK;
SELECT count(*) - :before AS after_rollback FROM telemetry.events;

-- many rows across partitions, with late copies, through multi-row inserts
SELECT count(*) AS stored FROM telemetry_track_batch((
	SELECT jsonb_agg(jsonb_build_object('event', 't.typed', 'version', '1.0.0', 'properties', jsonb_build_object('s', 'many', 'n', g),
		'occurred_at', now() - make_interval(days => g % 5)))
	FROM generate_series(1, 700) g)) id WHERE id IS NOT NULL;
SELECT count(*) AS rows, count(DISTINCT tableoid) AS partitions FROM telemetry.events WHERE properties ->> 's' = 'many';
SELECT count(*) AS late_copies FROM telemetry.late_events WHERE properties ->> 's' = 'many';
SET enable_seqscan = off;
SELECT count(*) AS indexed FROM telemetry.events WHERE spec = 't' AND xid > '0' AND properties ->> 's' = 'many';
SELECT count(*) AS indexed FROM telemetry.events WHERE (event, version, occurred_at) >= ('t.typed', '1.0.0', '-infinity') AND properties ->> 's' = 'many';
RESET enable_seqscan;

DROP EXTENSION telemetry;
