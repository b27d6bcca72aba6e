#!/usr/bin/env bash
# Benchmark of telemetry_track against the plain INSERT it replaces.
#
# In one run, on a throwaway cluster, with the background worker running and
# the seed's spec delivering to a PostHog host that refuses connections (a
# closed loopback port, listed in telemetry.allowed_destinations):
#   (a) a prepared INSERT of the same final row into a table with the same
#       columns, partitioning and indexes as telemetry.events (bench.events,
#       made LIKE telemetry.events_default, so it has its indexes)
#   (b) telemetry_track of the seed's example event (validate, redact, store)
#   (c) telemetry_track of an event sampled out (rate 0)
#   (d) telemetry_track_batch of 100 such events a call, counted in events/s
#   (a4) (a) into a table that also has the index on xid alone that earlier
#       builds had (the effect of that fourth index: a/a4)
#   (n) SELECT NULL::uuid: the round trip alone, so n/a is the most any
#       call's rate can be over (a)'s (the ceiling of c/a)
# at 1 and 2 clients with pgbench -M prepared, with synchronous_commit = off
# (CPU-bound: the tracking work itself) and on (durable commits), and prints
# the rates and the ratios b/a (target >= 1.0 CPU-bound), c/a (>= 3) and d/b
# (>= 3).  It also reports the CPU time the telemetry worker and launcher
# used during the tracking runs, as a share of all the server's CPU (target
# under 2% while the provider is down), and the private memory of one
# backend over 1,000,000 tracks (target: flat).
#
# The variants run in rounds (ROUNDS, default 3): each round runs every
# variant once, in an order rotated from one round to the next, and each
# figure is the median over the rounds (a ratio: the median of the rounds'
# own ratios), so a ratio compares runs made under the same conditions and
# a change of machine load during the bench does not favour one variant.
#
# Usage: bench/track.sh [seconds per run, default 10]
# Environment: ROUNDS=n; SYNC_MODES="off" or "on" (default both); CLIENTS
# (default "1 2"); SHOW_ROUNDS=1 also prints each round; MEMORY=off skips
# the memory measure.
# With ANOMALY=off the seed's event is registered with anomaly detection
# disabled, which separates the worker's delivery cost from its anomaly
# checks (the seed's per-event threshold reads every new event).
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
SECS=${1:-10}
ROUNDS=${ROUNDS:-3}

bench_setup
DOWN_PORT=$(free_port)		# nothing listens there: the provider is down
cat >"$WORK/bench.conf" <<CONF
fsync = on
synchronous_commit = on
shared_buffers = 256MB
max_wal_size = 4GB
telemetry.allowed_destinations = '127.0.0.1'
CONF
cp "$TELEMETRY_ROOT"/bench/bench-spec.json "$WORK"/
# the seed's spec, with a literal key and the closed port as its host
sed -e 's|"projectApiKey": { "env": "POSTHOG_KEY" }|"projectApiKey": "phc_bench", "host": "http://127.0.0.1:'"$DOWN_PORT"'"|' \
	"$TELEMETRY_ROOT"/examples/sigil.telemetry.json >"$WORK/sigil.telemetry.json"
if [ "${ANOMALY:-on}" = off ]; then
	sed -i -e 's|"enabled": true|"enabled": false|' "$WORK/sigil.telemetry.json"
fi
chown -R postgres "$WORK"
start_cluster "$WORK/data" "$(free_port)" "$WORK/bench.conf"

PSQL="$PGBIN/psql -X -q -v ON_ERROR_STOP=1 -d postgres"
$PSQL <<SQL
CREATE EXTENSION telemetry;
SELECT telemetry_load_spec('$WORK/sigil.telemetry.json');
SELECT telemetry_load_spec('$WORK/bench-spec.json');
SELECT telemetry_run_maintenance();
-- (a)'s table bench.events: the same columns, partitions and indexes as
-- telemetry.events; (a4)'s bench.events4: the same, plus an index on xid
CREATE SCHEMA bench;
DO \$\$
DECLARE
	t text;
	p record;
BEGIN
	FOREACH t IN ARRAY ARRAY['events', 'events4'] LOOP
		EXECUTE format('CREATE TABLE bench.%I (LIKE telemetry.events INCLUDING DEFAULTS) PARTITION BY RANGE (occurred_at)', t);
		EXECUTE format('CREATE TABLE bench.%I (LIKE telemetry.events_default INCLUDING ALL)', t || '_default');
		EXECUTE format('ALTER TABLE bench.%I ATTACH PARTITION bench.%I DEFAULT', t, t || '_default');
		FOR p IN SELECT * FROM telemetry._event_partitions() LOOP
			EXECUTE format('CREATE TABLE bench.%I (LIKE telemetry.events_default INCLUDING ALL)', t || '_' || p.part::regclass::text);
			EXECUTE format('ALTER TABLE bench.%I ATTACH PARTITION bench.%I FOR VALUES FROM (%L) TO (%L)',
				t, t || '_' || p.part::regclass::text, p.lo, p.hi);
		END LOOP;
	END LOOP;
END
\$\$;
CREATE INDEX ON bench.events4 (xid);
SQL
# the worker must be running and serving this database
for _ in $(seq 1 50); do
	[ "$($PSQL -At -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'telemetry worker'")" -ge 1 ] && break
	sleep 0.2
done

cat >"$WORK/a.sql" <<'SQL'
INSERT INTO bench.events (id, event, version, spec, occurred_at, received_at, properties, context, sample_rate, xid) VALUES (gen_random_uuid(), 'sigil.telemetry.workflow_step', '1.0.0', 'sigil.telemetry@1.0.0', now(), clock_timestamp(), '{"step": "verify_email", "userId": "REDACTED", "workflow": "onboarding", "durationMs": 2100}', '{}', 1, pg_current_xact_id());
SQL
sed -e 's/bench\.events /bench.events4 /' "$WORK/a.sql" >"$WORK/a4.sql"
cat >"$WORK/b.sql" <<'SQL'
SELECT telemetry_track('sigil.telemetry.workflow_step', 1, '{"workflow": "onboarding", "step": "verify_email", "durationMs": 2100, "userId": "user-123"}');
SQL
cat >"$WORK/c.sql" <<'SQL'
SELECT telemetry_track('bench.dropped', 1, '{"workflow": "onboarding", "step": "verify_email", "durationMs": 2100, "userId": "user-123"}');
SQL
{
	printf "SELECT count(*) FROM telemetry_track_batch('["
	for i in $(seq 1 100); do
		[ "$i" -gt 1 ] && printf ','
		printf '{"event": "sigil.telemetry.workflow_step", "version": 1, "properties": {"workflow": "onboarding", "step": "verify_email", "durationMs": 2100, "userId": "user-123"}}'
	done
	printf "]');\n"
} >"$WORK/d.sql"
echo 'SELECT NULL::uuid;' >"$WORK/n.sql"
chown postgres "$WORK"/*.sql

tps() {
	PGOPTIONS="-c synchronous_commit=$SYNC" \
		"$PGBIN/pgbench" -n -M prepared -T "$SECS" -c "$2" -j "$2" -f "$WORK/$1.sql" postgres 2>&1 |
		awk '/^tps = /{print $3; exit}'
}

# CPU ticks (user + system) of this cluster's telemetry worker and
# launcher, and of the whole server: the postmaster, its live children, and
# the children it has reaped (backends of finished pgbench runs).  Only this
# cluster's processes count, whatever else runs on the machine.
cpu_ticks() {
	local pm pid total tele=0 t comm
	pm=$(head -1 "$WORK/data/postmaster.pid")
	total=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$pm/stat")
	for pid in $(ps --ppid "$pm" -o pid=); do
		t=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null) || continue
		total=$((total + t))
		comm=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || continue
		case $comm in *"telemetry worker"* | *"telemetry launcher"*) tele=$((tele + t)) ;; esac
	done
	echo "$tele $total"
}

# median of the numbers on stdin, one a line
median() {
	sort -g | awk '{ v[NR] = $1 } END { print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

read -r tele0 total0 <<<"$(cpu_ticks)"
for SYNC in ${SYNC_MODES:-off on}; do
	echo
	if [ "$SYNC" = off ]; then
		echo "CPU-bound (synchronous_commit = off: shows the tracking work itself)"
	else
		echo "durable commits (synchronous_commit = on: each commit waits for its WAL flush)"
	fi
	echo "(median of $ROUNDS rounds; each round runs every variant, in an order rotated per round; ratios are medians of the rounds' ratios)"
	printf '%-8s %11s %11s %11s %13s %11s %7s %7s %7s %7s %7s\n' clients "a insert" "b track" "c sampled" "d batch ev/s" "a4 +xid" "b/a" "c/a" "d/b" "a/a4" "n/a"
	for c in ${CLIENTS:-1 2}; do
		# warm up caches and the compiled spec of each connection
		tps a "$c" >/dev/null
		variants=(a b c d a4 n)
		: >"$WORK/rounds"
		for r in $(seq 1 "$ROUNDS"); do
			declare -A rate=()
			for i in "${!variants[@]}"; do
				v=${variants[$(((i + r) % ${#variants[@]}))]}
				rate[$v]=$(tps "$v" "$c")
			done
			echo "${rate[a]} ${rate[b]} ${rate[c]} ${rate[d]} ${rate[a4]} ${rate[n]}" >>"$WORK/rounds"
		done
		# columns: a b c d(events/s) a4 b/a c/a d/b a/a4 n/a, per round
		awk '{ print $1, $2, $3, $4 * 100, $5, $2 / $1, $3 / $1, $4 * 100 / $2, $1 / $5, $6 / $1 }' "$WORK/rounds" >"$WORK/rounds.all"
		row=()
		for col in $(seq 1 10); do
			row+=("$(awk -v k="$col" '{ print $k }' "$WORK/rounds.all" | median)")
		done
		printf '%-8s %11.0f %11.0f %11.0f %13.0f %11.0f %7.2f %7.2f %7.2f %7.2f %7.2f\n' "$c" "${row[@]}"
		[ -n "${SHOW_ROUNDS:-}" ] && sed 's/^/    round: /' "$WORK/rounds.all"
	done
done
read -r tele1 total1 <<<"$(cpu_ticks)"
echo
awk -v t="$((tele1 - tele0))" -v all="$((total1 - total0))" -v hz="$(getconf CLK_TCK)" \
	'BEGIN { printf "worker and launcher CPU during the runs: %.2f s of %.2f s for the whole server (%.2f%%)\n", t / hz, all / hz, (0 < all ? 100 * t / all : 0) }'
$PSQL -At -c "SELECT 'provider state: ' || provider || ', ' || coalesce(last_error, '') || ', ' || consecutive_failures || ' failures in a row' FROM telemetry.delivery_status"

[ "${MEMORY:-on}" = off ] && exit 0
echo
echo "memory of one backend tracking 1,000,000 events (10 statements of 100,000):"
$PSQL <<'SQL'
CREATE TEMP TABLE mem (label text, private_bytes bigint);
INSERT INTO mem SELECT 'before', sum(total_bytes) FROM pg_backend_memory_contexts;
SELECT count(telemetry_track('sigil.telemetry.workflow_step', 1, '{"workflow": "w", "step": "s", "durationMs": 10, "userId": "u"}')) FROM generate_series(1, 1000) \gset
INSERT INTO mem SELECT 'after 1,000', sum(total_bytes) FROM pg_backend_memory_contexts;
\o /dev/null
SELECT count(telemetry_track('sigil.telemetry.workflow_step', 1, '{"workflow": "w", "step": "s", "durationMs": 10, "userId": "u"}')) FROM generate_series(1, 100000);
SELECT count(telemetry_track('sigil.telemetry.workflow_step', 1, '{"workflow": "w", "step": "s", "durationMs": 10, "userId": "u"}')) FROM generate_series(1, 100000);
SELECT count(telemetry_track('sigil.telemetry.workflow_step', 1, '{"workflow": "w", "step": "s", "durationMs": 10, "userId": "u"}')) FROM generate_series(1, 100000);
SELECT count(telemetry_track('sigil.telemetry.workflow_step', 1, '{"workflow": "w", "step": "s", "durationMs": 10, "userId": "u"}')) FROM generate_series(1, 100000);
SELECT count(telemetry_track('sigil.telemetry.workflow_step', 1, '{"workflow": "w", "step": "s", "durationMs": 10, "userId": "u"}')) FROM generate_series(1, 100000);
SELECT count(telemetry_track('sigil.telemetry.workflow_step', 1, '{"workflow": "w", "step": "s", "durationMs": 10, "userId": "u"}')) FROM generate_series(1, 100000);
SELECT count(telemetry_track('sigil.telemetry.workflow_step', 1, '{"workflow": "w", "step": "s", "durationMs": 10, "userId": "u"}')) FROM generate_series(1, 100000);
SELECT count(telemetry_track('sigil.telemetry.workflow_step', 1, '{"workflow": "w", "step": "s", "durationMs": 10, "userId": "u"}')) FROM generate_series(1, 100000);
SELECT count(telemetry_track('sigil.telemetry.workflow_step', 1, '{"workflow": "w", "step": "s", "durationMs": 10, "userId": "u"}')) FROM generate_series(1, 100000);
SELECT count(telemetry_track('sigil.telemetry.workflow_step', 1, '{"workflow": "w", "step": "s", "durationMs": 10, "userId": "u"}')) FROM generate_series(1, 99000);
\o
INSERT INTO mem SELECT 'after 1,000,000', sum(total_bytes) FROM pg_backend_memory_contexts;
SELECT label, pg_size_pretty(private_bytes) AS private_memory,
	pg_size_pretty(private_bytes - first_value(private_bytes) OVER ()) AS growth
FROM mem;
SQL
