-- telemetry_track stores rows straight into their partition where the table
-- allows it (insert.c), else with an INSERT through the executor: both give
-- the same rows.
\getenv abs_srcdir PG_ABS_SRCDIR
\set setup :abs_srcdir '/test/track_setup.sql'
\i :setup
SET timezone = 'UTC';

SHOW telemetry.insert_path;
CREATE FUNCTION pg_temp.track_some(tag text) RETURNS bigint LANGUAGE sql AS $$
	SELECT count(telemetry_track('t.typed', '1.0.0', jsonb_build_object('s', tag, 'n', i), '{"userId": "u-1", "ip": "10.0.0.1"}',
		CASE WHEN i % 3 = 0 THEN now() - interval '3 days' WHEN i % 3 = 1 THEN now() ELSE now() - interval '10 days' END))
	FROM generate_series(1, 6) i
$$;
SELECT pg_temp.track_some('direct');
SET telemetry.insert_path = executor;
SELECT pg_temp.track_some('executor');
RESET telemetry.insert_path;
-- the same rows, partitions and late copies either way (the rows 10 days
-- back wait in events_default: partitions are made from today on)
SELECT properties ->> 's' AS path, (properties ->> 'n')::int AS n,
	tableoid = 'telemetry.events_default'::regclass AS in_default,
	context ->> 'userId' LIKE 'hmac-sha256:%' AS hashed, NOT context ? 'ip' AS dropped,
	telemetry._is_late(occurred_at, received_at) AS late
FROM telemetry.events ORDER BY 1, 2;
SELECT properties ->> 's' AS path, count(*) AS late_copies FROM telemetry.late_events GROUP BY 1 ORDER BY 1;
-- index entries exist for rows of both paths
SET enable_seqscan = off;
SELECT count(*) AS by_delivery_index FROM telemetry.events WHERE spec = 't' AND xid > '0';
RESET enable_seqscan;

-- only a superuser chooses the path
CREATE ROLE path_chooser;
SET ROLE path_chooser;
SET telemetry.insert_path = executor;
RESET ROLE;
DROP ROLE path_chooser;

-- A table the direct path is not equivalent for (here: the owner put a
-- trigger on the default partition) is written through the executor, so
-- the trigger fires.
CREATE TABLE pg_temp.fired (n int);
CREATE FUNCTION pg_temp.count_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO pg_temp.fired VALUES (1); RETURN NEW; END $$;
CREATE TRIGGER count_row AFTER INSERT ON telemetry.events_default FOR EACH ROW EXECUTE FUNCTION pg_temp.count_row();
SELECT telemetry_track('t.typed', '1.0.0', '{"s": "old"}', '{}', now() - interval '10 days') IS NOT NULL AS stored;
SELECT count(*) AS trigger_fired FROM pg_temp.fired;
DROP TRIGGER count_row ON telemetry.events_default;

-- The direct path keeps each relation's index list and compiled index
-- expressions and predicates across calls: an index made, or dropped,
-- between two calls is written, or left alone, from the next call on
-- (btree indexes keep their compiled state, others are set up per call).
SELECT telemetry_track('t.typed', '1.0.0', '{"s": "before", "n": 1001}', '{}', now() - interval '10 days') IS NOT NULL AS stored;
CREATE INDEX path_expr_idx ON telemetry.events_default ((properties ->> 's')) WHERE sample_rate > 0.5;
CREATE INDEX path_hash_idx ON telemetry.events_default USING hash ((properties ->> 'n'));
SELECT telemetry_track('t.typed', '1.0.0', '{"s": "after", "n": 1002}', '{}', now() - interval '10 days') IS NOT NULL AS stored;
SET enable_seqscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM telemetry.events_default WHERE properties ->> 's' = 'after' AND sample_rate > 0.5;
SELECT count(*) AS by_expression_index FROM telemetry.events_default WHERE properties ->> 's' = 'after' AND sample_rate > 0.5;
EXPLAIN (COSTS OFF) SELECT count(*) FROM telemetry.events_default WHERE properties ->> 'n' = '1002';
SELECT count(*) AS by_hash_index FROM telemetry.events_default WHERE properties ->> 'n' = '1002';
RESET enable_seqscan;
RESET enable_bitmapscan;
DROP INDEX telemetry.path_expr_idx, telemetry.path_hash_idx;
SELECT telemetry_track('t.typed', '1.0.0', '{"s": "dropped", "n": 1003}', '{}', now() - interval '10 days') IS NOT NULL AS stored;
SELECT count(*) AS default_rows FROM telemetry.events_default WHERE properties ->> 's' IN ('before', 'after', 'dropped');

DROP EXTENSION telemetry;
