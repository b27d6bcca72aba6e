#!/usr/bin/env bash
# Removing one day of 1,000,000 events: the extension's retention (a whole
# partition dropped) against a plain DELETE of the same number of rows, in
# one run on one throwaway cluster.  Also: 1,000,000 short-retention rows
# removed from a partition that must stay (bounded batches through the
# index, one transaction a batch, as the worker runs them).
#
# Usage: bench/retention.sh [ROWS]   (default 1000000; run as root)
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"

ROWS=${1:-1000000}
bench_setup
chown -R postgres "$WORK"
cat >"$WORK/extra.conf" <<CONF
telemetry.database = 'postgres'
telemetry.enabled = off
shared_buffers = '512MB'
max_wal_size = '4GB'
CONF
start_cluster "$WORK/data" "$(free_port)" "$WORK/extra.conf"

psql_() { as_pg "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d postgres "$@"; }
# timed LABEL SQL: run SQL, print seconds and WAL written
timed() {
	local label=$1 sql=$2 t0 t1 l0 l1
	psql_ -c 'CHECKPOINT' >/dev/null
	l0=$(psql_ -At -c 'SELECT pg_current_wal_lsn()')
	t0=$(date +%s.%N)
	psql_ -c "$sql" >/dev/null
	t1=$(date +%s.%N)
	l1=$(psql_ -At -c 'SELECT pg_current_wal_lsn()')
	printf '%-58s %8.3f s  %10s WAL\n' "$label" "$(echo "$t1 - $t0" | bc)" \
		"$(psql_ -At -c "SELECT pg_size_pretty(pg_wal_lsn_diff('$l1', '$l0'))")"
}
# load DAY EVENT N: N events of one UTC day
load() {
	psql_ -c "INSERT INTO telemetry.events (id, event, version, spec, occurred_at, properties)
		SELECT gen_random_uuid(), '$2', '1.0.0', 'bench', '$1'::timestamptz + (i % 86400) * interval '1 second',
			jsonb_build_object('n', i, 'path', '/p/' || (i % 100))
		FROM generate_series(1, $3) i"
}

psql_ -c 'CREATE EXTENSION telemetry' >/dev/null
psql_ -c "SELECT telemetry_register_spec('{\"meta\": {\"key\": \"bench\", \"version\": \"1.0.0\"},
	\"events\": [{\"key\": \"page.view\", \"version\": \"1.0.0\", \"privacy\": \"internal\", \"properties\": {},
	\"semantics\": {\"what\": \"a page view\"}, \"retention\": {\"days\": 3}}]}')" >/dev/null
psql_ -c "SELECT telemetry_run_maintenance('2020-01-01')" >/dev/null

log "loading 2 x $ROWS events (2020-01-01, 2020-01-02)"
load 2020-01-01 order.placed "$ROWS"
load 2020-01-02 order.placed "$ROWS"
psql_ -c 'VACUUM ANALYZE telemetry.events'
psql_ -At -c "SELECT 'in events_default: ' || count(*) FROM telemetry.events_default"

echo "rows per day: $ROWS (telemetry.default_retention_days = 30)"
# as of 2020-02-01, 2020-01-01 is past 30 days' retention, 2020-01-02 is not
timed "retention: telemetry_run_maintenance (drops 2020-01-01)" \
	"SELECT telemetry_run_maintenance('2020-02-01')"
psql_ -At -c "SELECT count(*) AS left_on_20200101 FROM telemetry.events
	WHERE occurred_at >= '2020-01-01' AND occurred_at < '2020-01-02'" | sed 's/^/  rows left on 2020-01-01: /'
timed "plain DELETE of the same number of rows (2020-01-02)" \
	"DELETE FROM telemetry.events WHERE occurred_at >= '2020-01-02' AND occurred_at < '2020-01-03'"
timed "  ... and the VACUUM that DELETE needs to free the space" \
	"VACUUM telemetry.events_p20200102"
psql_ -c 'DROP TABLE telemetry.events_p20200102'
psql_ -c "SELECT telemetry._ensure_partition('2020-01-10')" >/dev/null

log "loading $ROWS short-retention events plus one long-retention event (2020-01-10)"
load 2020-01-10 page.view "$ROWS"
load 2020-01-10 order.placed 1
psql_ -c 'VACUUM ANALYZE telemetry.events'
# as of 2020-01-15, page.view (3 days) of 2020-01-10 is expired, order.placed is not
timed "retention: batched removal, a transaction per 10000 rows" \
	"DO \$\$ DECLARE r jsonb; BEGIN
		LOOP
			r := telemetry._maintenance_step('retention', 'telemetry.events_p20200110', '2020-01-15');
			COMMIT;
			EXIT WHEN NOT coalesce((r->>'more')::boolean, false);
		END LOOP; END \$\$"
psql_ -At -c "SELECT event || ': ' || count(*) FROM telemetry.events_p20200110 GROUP BY event" | sed 's/^/  left: /'
