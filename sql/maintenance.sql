-- Partition upkeep and retention, evaluated with as_of (the worker of the
-- regression instance serves another database, so nothing here races it).
-- (a test that ran before may have left the extension installed)
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS telemetry;
RESET client_min_messages;
CREATE EXTENSION telemetry;
SET timezone = 'UTC';
SET datestyle = 'ISO';
\set SHOW_CONTEXT never

-- page.view keeps 3 days, audit.login 5 days and is archived, order.placed
-- uses its spec's default of 10 days; misc.ping has neither and uses
-- telemetry.default_retention_days (30), like events no longer in the catalog.
SELECT telemetry_register_spec('{
  "meta": {"key": "shop", "version": "1.0.0"},
  "config": {"defaultRetentionDays": 10},
  "events": [
    {"key": "page.view", "version": "1.0.0", "privacy": "internal", "properties": {}, "semantics": {"what": "a page was shown"}, "retention": {"days": 3}},
    {"key": "order.placed", "version": "1.0.0", "privacy": "internal", "properties": {}, "semantics": {"what": "an order was placed"}},
    {"key": "audit.login", "version": "1.0.0", "privacy": "internal", "properties": {}, "semantics": {"what": "someone logged in"},
     "retention": {"days": 5, "policy": "archive"}}
  ]}');
SELECT telemetry_register_spec('{
  "meta": {"key": "misc", "version": "1.0.0"},
  "events": [{"key": "misc.ping", "version": "1.0.0", "privacy": "internal", "properties": {}, "semantics": {"what": "a ping"}}]}');

-- a run's result, one key a line
CREATE FUNCTION pg_temp.run(as_of timestamptz) RETURNS TABLE(key text, value jsonb)
	LANGUAGE sql AS $$ SELECT * FROM jsonb_each(telemetry_run_maintenance(as_of)) ORDER BY 1 $$;

-- Premake counts from as_of: its UTC day and telemetry.premake_days (7) more.
SELECT * FROM pg_temp.run('2020-03-01 23:30+00');
-- nothing left to do as of the same time
SELECT * FROM pg_temp.run('2020-03-01 23:30+00');
SHOW telemetry.premake_days;

-- Partitions made by maintenance are not extension members, so pg_dump
-- dumps them, with their rows.
SELECT count(*) AS member_partitions
FROM pg_depend d JOIN pg_inherits i ON i.inhrelid = d.objid
WHERE d.refclassid = 'pg_extension'::regclass AND d.classid = 'pg_class'::regclass
  AND i.inhparent = 'telemetry.events'::regclass AND d.objid <> 'telemetry.events_default'::regclass;

CREATE FUNCTION pg_temp.ev(event text, at timestamptz, n integer DEFAULT 1) RETURNS void
	LANGUAGE sql AS $$
	INSERT INTO telemetry.events (id, event, version, spec, occurred_at)
	SELECT gen_random_uuid(), event, '1.0.0', 'test', at FROM generate_series(1, n)
$$;
-- 2020-03-01: all of it expires as of 2020-03-20: the partition is dropped whole
SELECT pg_temp.ev('page.view', '2020-03-01 10:00+00', 3), pg_temp.ev('order.placed', '2020-03-01 11:00+00', 2);
-- 2020-03-02: page.view expires, misc.ping (30 days) keeps the partition
SELECT pg_temp.ev('page.view', '2020-03-02 10:00+00', 2), pg_temp.ev('misc.ping', '2020-03-02 10:00+00');
-- 2020-03-03: archive rows are moved, then the emptied partition is dropped
SELECT pg_temp.ev('audit.login', '2020-03-03 08:00+00', 2), pg_temp.ev('order.placed', '2020-03-03 09:00+00');
-- no partitions yet for these days: they wait in events_default, and
-- maintenance gives them partitions (back-dated and late events)
SELECT pg_temp.ev('order.placed', '2020-03-09 23:59:59.999+00'), pg_temp.ev('misc.ping', '2020-03-09 12:00+00');
SELECT pg_temp.ev('order.placed', '2020-03-10 00:00+00');
SELECT pg_temp.ev('page.view', '2020-03-16 23:59:59+00'), pg_temp.ev('page.view', '2020-03-17 00:00+00');
SELECT pg_temp.ev('audit.login', '2020-03-14 12:00+00'), pg_temp.ev('audit.login', '2020-03-15 00:00+00');
-- an event whose spec is gone: telemetry.default_retention_days (30)
SELECT pg_temp.ev('gone.event', '2020-02-18 23:00+00'), pg_temp.ev('gone.event', '2020-02-19 01:00+00');
SELECT (occurred_at AT TIME ZONE 'UTC')::date AS day, count(*) FROM telemetry.events_default GROUP BY 1 ORDER BY 1;

-- As of 2020-03-20 (any time of that UTC day), an event is expired when its
-- UTC day is more than its retention days before 2020-03-20.  Retention
-- runs first, then the days waiting in events_default get their partitions;
-- their expired rows are deleted (or archived) as they are drained, so one
-- run leaves nothing expired anywhere, and a day whose rows all expired
-- gets no partition.
SELECT * FROM pg_temp.run('2020-03-20 00:00:01+00');
SELECT count(*) AS left_in_default FROM telemetry.events_default;
-- nothing was left for a second run
SELECT * FROM pg_temp.run('2020-03-20 23:59:59+00');
SELECT tableoid::regclass AS part, event, occurred_at
FROM telemetry.events WHERE occurred_at < '2020-03-20' ORDER BY occurred_at, event;
SELECT event, occurred_at, archived_at IS NOT NULL AS archived
FROM telemetry_archive.events ORDER BY occurred_at;
-- archived rows are out of the live table
SELECT count(*) FROM telemetry.events WHERE event = 'audit.login';

-- Idempotent: another run as of the same day changes nothing.
SELECT * FROM pg_temp.run('2020-03-20 12:00+00');

-- A partition for today or a future day is never dropped, whatever as_of says.
SELECT pg_temp.ev('page.view', now() - interval '1 second');
SELECT telemetry_run_maintenance(now() + interval '400 days') -> 'dropped' @> to_jsonb(telemetry._partition_name((now() AT TIME ZONE 'UTC')::date)) AS dropped_today;
SELECT count(*) FROM telemetry.events WHERE event = 'page.view' AND occurred_at > now() - interval '1 hour';
SELECT count(*) > 0 AS future_partitions_kept FROM telemetry._event_partitions() WHERE hi > now() + interval '1 day';

-- Batches: short-retention rows inside a partition that stays are removed
-- at most telemetry._maintenance_batch_size() (10000) rows a step; the
-- worker commits each step, telemetry_run_maintenance loops in one.
SELECT * FROM pg_temp.run('2020-04-01');
SELECT pg_temp.ev('page.view', '2020-04-01 10:00+00', 10001), pg_temp.ev('misc.ping', '2020-04-01 10:00+00');
SELECT telemetry._maintenance_step('retention', 'telemetry.events_p20200401', '2020-04-05');
SELECT telemetry._maintenance_step('retention', 'telemetry.events_p20200401', '2020-04-05');
SELECT event, count(*) FROM telemetry.events_p20200401 GROUP BY 1 ORDER BY 1;

-- Back-dated events for days more than 31 days before as_of share one
-- partition per UTC month (cut where daily partitions begin), so
-- back-dating cannot multiply partitions.
SELECT telemetry_register_spec('{
  "meta": {"key": "audit", "version": "1.0.0"},
  "events": [{"key": "audit.keep", "version": "1.0.0", "privacy": "internal", "properties": {},
              "semantics": {"what": "kept for ten years"}, "retention": {"days": 3650}}]}');
SELECT pg_temp.ev('audit.keep', d) FROM unnest(ARRAY['2019-11-03 10:00+00', '2019-11-20 10:00+00',
	'2019-11-30 23:00+00', '2019-12-01 00:00+00', '2020-03-10 10:00+00']::timestamptz[]) d;
SELECT * FROM pg_temp.run('2020-04-02') WHERE key IN ('created', 'deleted');
SELECT tableoid::regclass AS part, occurred_at FROM telemetry.events
WHERE event = 'audit.keep' ORDER BY occurred_at;
SELECT part, lo, hi FROM telemetry._event_partitions() WHERE lo < '2020-03-01' ORDER BY lo;
-- a back-dated day in a month that already has daily partitions gets the gap before them
SELECT pg_temp.ev('audit.keep', '2020-03-02 10:00+00');
SELECT * FROM pg_temp.run('2020-05-20') WHERE key = 'created';
SELECT part, lo, hi FROM telemetry._event_partitions() WHERE lo >= '2020-03-01' AND lo < '2020-03-12' ORDER BY lo;

-- History tables are trimmed by telemetry.history_retention_days (30), to the day.
SELECT * FROM telemetry.history_tables WHERE table_name = 'rejected_events';
INSERT INTO telemetry.rejected_events (event, rejected_at, sqlstate, error) VALUES
	('x', '2020-02-18 23:59:59+00', '22023', 'old'),
	('x', '2020-02-19 00:00:00+00', '22023', 'kept');
SELECT telemetry_run_maintenance('2020-03-20 12:00+00') -> 'history_deleted' AS history_deleted;
SELECT error FROM telemetry.rejected_events;
-- a table of another role is never trimmed, even when listed: its triggers
-- would run as the extension's owner
CREATE ROLE history_stranger;
CREATE TABLE public.stranger_log (at timestamptz);
ALTER TABLE public.stranger_log OWNER TO history_stranger;
INSERT INTO public.stranger_log VALUES ('2000-01-01');
INSERT INTO telemetry.history_tables VALUES ('public', 'stranger_log', 'at');
SELECT telemetry_run_maintenance('2020-03-20 12:00+00') -> 'history_deleted' AS history_deleted;
SELECT count(*) AS kept FROM public.stranger_log;
DELETE FROM telemetry.history_tables WHERE table_name = 'stranger_log';
DROP TABLE public.stranger_log;
DROP ROLE history_stranger;

-- Bad input and privileges.
\set VERBOSITY sqlstate
SELECT telemetry_run_maintenance(NULL);
SELECT telemetry_run_maintenance('infinity');
SELECT telemetry_run_maintenance('-infinity');
SELECT telemetry._maintenance_step('bogus', 'x', now());
\set VERBOSITY default
SELECT telemetry_run_maintenance('infinity');
CREATE ROLE maintenance_nobody;
SET ROLE maintenance_nobody;
SELECT telemetry_run_maintenance();
RESET ROLE;
-- a grantee may run maintenance now, but not as of another time: a run
-- as of a far future would drop partitions still within their retention
CREATE ROLE maintenance_operator;
GRANT EXECUTE ON FUNCTION telemetry_run_maintenance(timestamptz) TO maintenance_operator;
SET ROLE maintenance_operator;
SELECT telemetry_run_maintenance() ? 'created' AS ran;
SELECT telemetry_run_maintenance(now() + interval '23 hours') ? 'created' AS ran;
SELECT telemetry_run_maintenance('2200-01-01');
SELECT telemetry_run_maintenance(now() - interval '2 days');
SELECT telemetry_run_maintenance('infinity');
RESET ROLE;
DROP OWNED BY maintenance_operator;
DROP ROLE maintenance_operator;
DROP ROLE maintenance_nobody;

-- The worker's status: one row per job.
SELECT job FROM telemetry.worker_status ORDER BY job;

-- DROP EXTENSION removes the partitions made by maintenance, the archive
-- schema and its rows.
DROP EXTENSION telemetry;
SELECT count(*) FROM pg_class WHERE relname LIKE 'events_p2%';
SELECT to_regnamespace('telemetry_archive') IS NULL AS archive_gone;
