-- telemetry_track: sampling, expiry and future timestamps.
\getenv abs_srcdir PG_ABS_SRCDIR
\set setup :abs_srcdir '/test/track_setup.sql'
\i :setup

-- rate 1 keeps every event, rate 0 none, 0.25 about a quarter; the rate is stored
SELECT count(telemetry_track('t.all')) AS kept_of_10000 FROM generate_series(1, 10000);
SELECT count(telemetry_track('t.none')) AS kept_of_10000 FROM generate_series(1, 10000);
SELECT n BETWEEN 2240 AND 2760 AS quarter_within_6_sigma
FROM (SELECT count(telemetry_track('t.quarter')) AS n FROM generate_series(1, 10000)) s;
SELECT event, sample_rate, count(*) > 0 AS stored FROM telemetry.events GROUP BY 1, 2 ORDER BY 1;
SELECT event, stored + sampled_out AS calls, stored > 0 AS some_stored, sampled_out > 0 AS some_sampled_out
FROM telemetry.track_stats WHERE event IN ('t.all', 't.none', 't.quarter') ORDER BY 1;
-- estimated totals re-weight by the stored rate
SELECT sum(1 / sample_rate) / 10000 BETWEEN 0.896 AND 1.104 AS estimate_within_6_sigma FROM telemetry.events WHERE event = 't.quarter';

-- sampling.by: the decision is a function of the context value, the same for
-- every call and every event at that rate
CREATE TEMP TABLE decisions AS
SELECT g AS tenant,
	telemetry_track('t.byuser', '1', '{}', jsonb_build_object('tenant', g)) IS NOT NULL AS first,
	telemetry_track('t.byuser', '1', '{}', jsonb_build_object('tenant', g)) IS NOT NULL AS again,
	telemetry_track('t.byuser2', '1', '{}', jsonb_build_object('tenant', g)) IS NOT NULL AS other_event
FROM generate_series(1, 1000) g;
SELECT count(*) FILTER (WHERE first <> again) AS changed_between_calls,
	count(*) FILTER (WHERE first <> other_event) AS changed_between_events,
	count(*) FILTER (WHERE first) BETWEEN 168 AND 332 AS quarter_of_tenants_within_6_sigma
FROM decisions;
-- without the key, sampling falls back to random
SELECT n BETWEEN 2240 AND 2760 AS random_without_key
FROM (SELECT count(telemetry_track('t.byuser')) AS n FROM generate_series(1, 10000)) s;

-- occurred_at: older than the event's retention is not stored (NULL, counted
-- as expired); up to one day ahead is fine; further ahead is an error
SELECT telemetry_track('t.short', NULL, '{}', '{}', now() - interval '2 days') IS NOT NULL AS within_retention;
SELECT telemetry_track('t.short', NULL, '{}', '{}', now() - interval '4 days') IS NULL AS expired;
-- to the day, as maintenance expires: the UTC day 3 days back is kept from its first instant
SELECT telemetry_track('t.short', NULL, '{}', '{}',
	((now() AT TIME ZONE 'UTC')::date - 3)::timestamp AT TIME ZONE 'UTC') IS NOT NULL AS first_kept_instant;
SELECT telemetry_track('t.short', NULL, '{}', '{}',
	((now() AT TIME ZONE 'UTC')::date - 3)::timestamp AT TIME ZONE 'UTC' - interval '1 microsecond') IS NULL AS last_expired_instant;
SELECT telemetry_track('t.all', NULL, '{}', '{}', now() - interval '29 days') IS NOT NULL AS default_retention_30_days;
SELECT telemetry_track('t.all', NULL, '{}', '{}', now() - interval '31 days') IS NULL AS expired_by_default;
SELECT telemetry_track('t.all', NULL, '{}', '{}', now() + interval '23 hours') IS NOT NULL AS near_future_ok;
SELECT telemetry_track('t.all', NULL, '{}', '{}', now() + interval '25 hours');
SELECT event, expired FROM telemetry.track_stats WHERE expired > 0 ORDER BY 1;
-- back-dated events beyond the premade partitions still find a home
SELECT tableoid::regclass AS partition FROM telemetry.events
WHERE event = 't.all' AND occurred_at < now() - interval '28 days';

DROP EXTENSION telemetry;
