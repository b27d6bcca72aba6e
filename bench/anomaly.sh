#!/usr/bin/env bash
# Time telemetry_check_anomalies() on a table of 1,000,000 events (900,000 of
# an event without detection, 100,000 of the seed's detected event), after
# 10,000 and after 100,000 new events of the detected event, and after
# 100,000 new events of the event without detection.  A check reads at most
# telemetry.anomaly_batch_size (10,000) new events of a version: a backlog
# is timed as the checks that work it off, one batch each.
#
# Usage: bench/anomaly.sh        (as root; builds and uses a private install)
# Env: ROWS (default 1000000); BENCH_SQL=file runs that file with psql on the
# cluster at the end (for EXPLAIN and the like).
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"

ROWS=${ROWS:-1000000}
bench_setup
cat >"$WORK/extra.conf" <<CONF
shared_buffers = '256MB'
max_wal_size = '4GB'
# the worker idles in a database without the extension: the bench runs the checks
telemetry.database = 'postgres'
# the examples name {"env": ...} variables
telemetry.allowed_env = 'POSTHOG_KEY, SEGMENT_WRITE_KEY'
# shop.checkout's providers point at a local sink
telemetry.allowed_destinations = '127.0.0.1'
CONF
start_cluster "$WORK/data" "$(free_port)" "$WORK/extra.conf"

psql_q() { as_pg env PGHOST="$PGHOST" PGPORT="$PGPORT" "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d bench "$@"; }
as_pg env PGHOST="$PGHOST" PGPORT="$PGPORT" "$PGBIN/createdb" bench
cp "$TELEMETRY_ROOT"/examples/*.json "$WORK/" && chown postgres "$WORK"/*.json

psql_q <<SQL
CREATE EXTENSION telemetry;
SELECT telemetry_run_maintenance() IS NOT NULL AS maintenance;
SELECT telemetry_load_spec('$WORK/sigil.telemetry.json');
SELECT telemetry_set_secret('checkout_webhook', 'whsec_YmVuY2g=', ARRAY['127.0.0.1']);
SELECT telemetry_load_spec('$WORK/shop.checkout.json');
-- one transaction each: 90% events without detection, 10% the seed's event
INSERT INTO telemetry.events (id, event, version, spec, occurred_at, properties)
SELECT gen_random_uuid(), 'shop.cart_viewed', '2.1.0', 'shop.checkout@2.1.0', now() - (i % 3600) * interval '1 second',
	jsonb_build_object('items', i % 7, 'cartValue', i % 10000, 'currency', 'EUR')
FROM generate_series(1, $ROWS * 9 / 10) i;
INSERT INTO telemetry.events (id, event, version, spec, occurred_at, properties)
SELECT gen_random_uuid(), 'sigil.telemetry.workflow_step', '1.0.0', 'sigil.telemetry@1.0.0', now() - (i % 3600) * interval '1 second',
	jsonb_build_object('workflow', 'w', 'step', 's' || (i % 10), 'durationMs', i % 1400)
FROM generate_series(1, $ROWS / 10) i;
VACUUM ANALYZE telemetry.events;
SQL

# All in one session, like the worker's: plans are cached after the first
# checks, so the figures are the steady-state cost of a check.
check_sql() {
	cat <<SQL
DO \$\$
DECLARE t timestamptz := clock_timestamp(); n integer;
BEGIN
	n := telemetry_check_anomalies();
	RAISE NOTICE '%: % ms (% anomaly records)', '$1', round((extract(epoch FROM clock_timestamp() - t) * 1000)::numeric, 1), n;
END
\$\$;
SQL
}
# Checks until the detected version's last batch is not full (a backlog
# worked off one batch a check, as the worker does it).
drain_sql() {
	cat <<SQL
DO \$\$
DECLARE t timestamptz := clock_timestamp(); n integer := 0; r integer := 0;
BEGIN
	LOOP
		r := r + telemetry_check_anomalies();
		n := n + 1;
		EXIT WHEN (SELECT last_batch FROM telemetry.anomaly_state WHERE event = 'sigil.telemetry.workflow_step')
			< current_setting('telemetry.anomaly_batch_size')::bigint;
	END LOOP;
	RAISE NOTICE '%: % ms in % checks (% anomaly records)', '$1', round((extract(epoch FROM clock_timestamp() - t) * 1000)::numeric, 1), n, r;
END
\$\$;
SQL
}
insert_sql() {	# insert_sql N detected|other
	local ev="'sigil.telemetry.workflow_step', '1.0.0', 'sigil.telemetry@1.0.0'"
	local props="jsonb_build_object('workflow', 'w', 'step', 's', 'durationMs', CASE WHEN i % 1000 = 0 THEN 2000 + i % 7 ELSE i % 1400 END)"
	if [ "$2" = other ]; then
		ev="'shop.cart_viewed', '2.1.0', 'shop.checkout@2.1.0'"
		props="jsonb_build_object('items', 1, 'cartValue', i, 'currency', 'EUR')"
	fi
	cat <<SQL
SELECT clock_timestamp() AS t0 \\gset
INSERT INTO telemetry.events (id, event, version, spec, occurred_at, properties)
SELECT gen_random_uuid(), $ev, now(), $props FROM generate_series(1, $1) i;
SELECT format('insert of $1 rows: %s ms', round((extract(epoch FROM clock_timestamp() - :'t0') * 1000)::numeric, 1)) AS msg \\gset
\\echo :msg
SQL
}

[ "$ROWS" -gt 0 ] && echo "table: $(psql_q -Atc 'SELECT count(*) FROM telemetry.events') events"
{
	check_sql "first check (one batch of the $((ROWS / 10)) stored events of the detected version)"
	drain_sql "the rest of the stored events of the detected version"
	for i in 1 2 3 4 5 6; do check_sql "check with no new events ($i)"; done
	insert_sql 10000 detected
	check_sql "after 10,000 new events of the detected event"
	insert_sql 100000 detected
	check_sql "after 100,000 new events of the detected event (one batch)"
	drain_sql "the rest of the 100,000"
	insert_sql 100000 other
	check_sql "after 100,000 new events of an event without detection"
	check_sql "check with no new events"
} | psql_q 2>&1 | sed 's/^NOTICE:  //'
psql_q -Atc "SELECT 'anomaly records: ' || count(*) || ', violations: ' || sum(violations) FROM telemetry.anomalies"
if [ -n "${BENCH_SQL:-}" ]; then
	cp "$BENCH_SQL" "$WORK/extra.sql" && chown postgres "$WORK/extra.sql"
	psql_q -f "$WORK/extra.sql"
fi
