-- Anomaly detection with the seed's example: minimumSample 10, durationMs
-- max 1500, actions alert and trigger_regen.
CREATE EXTENSION telemetry;
\set SHOW_CONTEXT never
\getenv abs_srcdir PG_ABS_SRCDIR
\set sigil :abs_srcdir '/examples/sigil.telemetry.json'
SELECT telemetry_run_maintenance() IS NOT NULL AS partitions;
SELECT telemetry_load_spec(:'sigil');

-- the check and resolve are not for everyone, nor is the table of
-- anomalies; the anomaly views are (they apply the events' privacy)
SELECT has_function_privilege('public', 'telemetry_check_anomalies()', 'EXECUTE') AS check_public,
	has_function_privilege('public', 'telemetry_resolve_anomaly(bigint, text)', 'EXECUTE') AS resolve_public,
	has_table_privilege('public', 'telemetry.anomalies', 'SELECT') AS anomalies_public,
	has_table_privilege('public', 'telemetry.anomaly_history', 'SELECT') AS history_public,
	has_table_privilege('public', 'telemetry.open_anomalies', 'SELECT') AS open_public,
	has_table_privilege('public', 'telemetry.anomaly_summary', 'SELECT') AS summary_public,
	has_table_privilege('public', 'telemetry.anomaly_checks', 'SELECT') AS checks_public,
	has_table_privilege('public', 'telemetry.event_metrics', 'SELECT') AS metrics_public,
	has_table_privilege('public', 'telemetry.regen_requests', 'SELECT') AS regen_public;

-- nothing stored yet: nothing to report
SELECT telemetry_check_anomalies();

-- nine slow events: below minimumSample, no anomaly
SELECT count(telemetry_track('sigil.telemetry.workflow_step', 1,
	jsonb_build_object('workflow', 'w', 'step', 's' || i, 'durationMs', 2000 + i)))
FROM generate_series(1, 9) i;
SELECT telemetry_check_anomalies();
SELECT event, version, stored, last_batch FROM telemetry.anomaly_state;
SELECT count(*) FROM telemetry.anomalies;

-- the tenth gives one
SELECT telemetry_track('sigil.telemetry.workflow_step', 1, '{"workflow":"w","step":"s10","durationMs":2100}') AS tenth \gset
SELECT telemetry_check_anomalies();
SELECT id, event, version, spec, rule, metric, aggregate, bound, threshold, observed, violations, sample_size,
	first_event_id = :'tenth' AS first_is_tenth, last_event_id = :'tenth' AS last_is_tenth,
	actions, status, checks
FROM telemetry.anomalies;
-- and its regen request
SELECT id, spec, event, version, anomaly_id, reason, status FROM telemetry.regen_requests;

-- a check without new events records nothing and reads nothing again
SELECT telemetry_check_anomalies();
SELECT stored, last_batch FROM telemetry.anomaly_state;

-- 1500 exactly is not a violation (strictly above max)
SELECT telemetry_track('sigil.telemetry.workflow_step', 1, '{"workflow":"w","step":"s","durationMs":1500}') IS NOT NULL AS tracked;
SELECT telemetry_check_anomalies();

-- several violations in one check: one record, the count and the worst
-- value; an event without durationMs is skipped
SELECT telemetry_track('sigil.telemetry.workflow_step', 1, '{"workflow":"w","step":"a","durationMs":1600}', '{}', now() - interval '4 seconds') AS v1 \gset
SELECT telemetry_track('sigil.telemetry.workflow_step', 1, '{"workflow":"w","step":"b","durationMs":900}', '{}', now() - interval '3 seconds') IS NOT NULL AS tracked;
SELECT telemetry_track('sigil.telemetry.workflow_step', 1, '{"workflow":"w","step":"c","durationMs":3000}', '{}', now() - interval '2 seconds') AS v2 \gset
SELECT telemetry_track('sigil.telemetry.workflow_step', 1, '{"workflow":"w","step":"d"}', '{}', now() - interval '1 seconds') IS NOT NULL AS tracked;
SELECT telemetry_track('sigil.telemetry.workflow_step', 1, '{"workflow":"w","step":"e","durationMs":1501}', '{}', now()) AS v3 \gset
SELECT telemetry_check_anomalies();
SELECT id, metric, bound, threshold, observed, violations, sample_size,
	first_event_id = :'v1' AS first_ok, last_event_id = :'v3' AS last_ok,
	first_event_at < last_event_at AS ordered
FROM telemetry.anomalies WHERE id > 1;
SELECT id, anomaly_id, status FROM telemetry.regen_requests ORDER BY id;
SELECT stored FROM telemetry.anomaly_state;

-- events of a spec without detection cost the check nothing: after 200
-- of them the check reads no row of the events table; after 200 events of
-- the detected version it reads exactly those, once (one statement counts
-- them, evaluates them and moves the position), and no other row (the
-- read is planned for the position at hand, a custom plan, so that the
-- partitions before the floor are pruned).
-- the example's webhook secret, allowed to the loopback sink it names
SELECT telemetry_set_secret('checkout_webhook', 'whsec_ZXhhbXBsZQ==', ARRAY['127.0.0.1']);
\set shop :abs_srcdir '/examples/shop.checkout.json'
SELECT telemetry_load_spec(:'shop');
SELECT count(telemetry_track('shop.cart_viewed', '2.1.0', jsonb_build_object('items', i % 5, 'cartValue', 1000 * i, 'currency', 'EUR'),
	jsonb_build_object('sessionId', 's' || i), date_trunc('hour', now()) - interval '2 hours' + i * interval '10 seconds'))
	> 0 AS some_kept
FROM generate_series(1, 200) i;
ANALYZE telemetry.events;
-- shop.order_placed has detection but no events yet
SELECT event, version, stored FROM telemetry.anomaly_state ORDER BY event;
-- (counters still pending from earlier statements are flushed first)
SELECT pg_stat_force_next_flush();
BEGIN;
SELECT telemetry_check_anomalies();
SELECT COALESCE(sum(seq_tup_read), 0) AS seq_read, COALESCE(sum(idx_tup_fetch), 0) AS idx_fetched
FROM pg_stat_xact_user_tables WHERE schemaname = 'telemetry' AND relname LIKE 'events%';
COMMIT;
SELECT count(telemetry_track('sigil.telemetry.workflow_step', 1, '{"workflow":"w","step":"f","durationMs":10}'))
FROM generate_series(1, 200);
-- (counters still pending from earlier statements are flushed first)
SELECT pg_stat_force_next_flush();
BEGIN;
SELECT telemetry_check_anomalies();
SELECT COALESCE(sum(seq_tup_read), 0) AS seq_read, COALESCE(sum(idx_tup_fetch), 0) AS idx_fetched
FROM pg_stat_xact_user_tables WHERE schemaname = 'telemetry' AND relname LIKE 'events%';
COMMIT;
SELECT event, version, stored, last_batch FROM telemetry.anomaly_state ORDER BY event;

-- a transaction that rolls back leaves nothing to evaluate
BEGIN;
SELECT telemetry_track('sigil.telemetry.workflow_step', 1, '{"workflow":"w","step":"x","durationMs":99999}') IS NOT NULL AS tracked;
ROLLBACK;
SELECT telemetry_check_anomalies();

-- a number beyond float8 neither breaks the check nor hides the violation
SELECT telemetry_track('sigil.telemetry.workflow_step', 1, '{"workflow":"w","step":"huge","durationMs":1e400}') IS NOT NULL AS tracked;
SELECT telemetry_check_anomalies();
SELECT observed, violations FROM telemetry.anomalies ORDER BY id DESC LIMIT 1;
SELECT telemetry_track('sigil.telemetry.workflow_step', 1, '{"workflow":"w","step":"tiny","durationMs":1e-400}') IS NOT NULL AS tracked;
SELECT telemetry_check_anomalies();

-- views, resolution
SELECT id, observed FROM telemetry.open_anomalies ORDER BY id;
SELECT event, version, metric, open, last_24h, last_detected_at IS NOT NULL AS has_last, worst_high, worst_low
FROM telemetry.anomaly_summary;
SELECT telemetry_resolve_anomaly(1, 'known slow step');
SELECT telemetry_resolve_anomaly(1);
SELECT telemetry_resolve_anomaly(424242);
SELECT telemetry_resolve_anomaly(2, repeat('x', 10001));
SELECT id, status, resolved_by = session_user AS by_me, resolved_at IS NOT NULL AS resolved, note
FROM telemetry.anomalies WHERE id = 1;
SELECT id FROM telemetry.open_anomalies ORDER BY id;
SELECT open, last_24h FROM telemetry.anomaly_summary;

-- hourly metrics of the stored events: cart views were tracked two hours
-- ago, sampled at 0.25 (each stored row stands for four events)
SELECT event, version, hour = date_trunc('hour', now(), 'UTC') - interval '2 hours' AS two_hours_ago,
	stored > 0 AND stored < 200 AS sampled, estimated = 4 * stored AS weighted,
	metrics ? 'items' AND metrics ? 'cartValue' AND NOT metrics ? 'currency' AS numeric_only,
	(metrics -> 'items' ->> 'max')::float8 <= 4 AS items_max
FROM telemetry.event_metrics WHERE event = 'shop.cart_viewed';
SELECT count(*) AS hours_outside
FROM telemetry_event_metrics(date_trunc('hour', now(), 'UTC') - interval '1 hour', 'infinity', 'shop.cart_viewed');
SELECT count(*) AS hours, sum(stored) = (SELECT count(*) FROM telemetry.events WHERE event = 'shop.cart_viewed') AS all_counted
FROM telemetry_event_metrics(now() - interval '3 hours', now(), 'shop.cart_viewed');

-- the tables are dumped with the extension's configuration
SELECT c.relname FROM pg_extension x, unnest(x.extconfig) t(oid) JOIN pg_class c ON c.oid = t.oid
WHERE x.extname = 'telemetry' AND (c.relname LIKE 'anomal%' OR c.relname LIKE 'regen%')
ORDER BY 1;

-- history trimming (telemetry.history_retention_days, via maintenance)
-- (maintenance's step for each table, as of 29 days on: nothing is older
-- than the 30-day cutoff yet; as of 31 days on: everything is)
SELECT t, telemetry._history_step(t, now() + interval '29 days') ->> 'history_deleted' AS deleted
FROM unnest('{telemetry.anomalies, telemetry.regen_requests}'::regclass[]) t;
SELECT t, telemetry._history_step(t, now() + interval '31 days') ->> 'history_deleted' AS deleted
FROM unnest('{telemetry.anomalies, telemetry.regen_requests}'::regclass[]) t;
SELECT count(*) FROM telemetry.anomalies;
SELECT count(*) FROM telemetry.regen_requests;

DROP EXTENSION telemetry;
