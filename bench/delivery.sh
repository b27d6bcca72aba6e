#!/usr/bin/env bash
# Benchmark of provider delivery to a loopback HTTP sink (t/lib/HttpSink.pm).
#
# In one run, on a throwaway cluster, with a PostHog provider pointed at the
# sink (every request gzip'd, recorded to disk by the sink):
#   (a) events/s delivered with telemetry.batch_size = 100 (target >= 20,000)
#   (b) events/s delivered with telemetry.batch_size = 1
#   (c) private memory (RssAnon) of the delivering process over a large
#       backlog: sampled while it drains, min / max reported (should be flat)
#   (d) posthog-node (npm) sending the same events to the same sink: events/s
#       and how many of the events it was given actually arrived (its default
#       in-memory queue holds 1000 events and drops the rest)
#   (e) posthog-node again with maxQueueSize raised to the number of events
#   (f) latency, from the tracking commit to the arrival at the sink, at a
#       steady 2,000 and 10,000 events/s of tracking for LATENCY_SECONDS
#       each: telemetry (pgbench at a fixed rate calling
#       telemetry_track_batch with TRACK_BATCH events a transaction,
#       delivered with batch 100), then posthog-node with its defaults and
#       with its queue raised, capturing at the same rates; p50, p99, max.
#       Each event carries trackedAt (clock_timestamp(), or Date.now() with
#       sub-millisecond precision for posthog-node) in its properties, read
#       just before the commit of its single-statement transaction; the
#       sink stamps each request when it has read it.  The load starts once
#       the worker runs (its first delivery job done), as it always does in
#       a server that tracks.
# Delivery is driven by the background worker when it runs in this build
# (telemetry.enabled toggled around each run), else by a procedure calling
# telemetry_deliver() and committing after each pass (the same pass code,
# one transaction a pass).
#
# Usage: bench/delivery.sh [events for (a) and (d), default 50000]
#        env: N1 (events for (b), default 3000), BACKLOG (events for (c), default 300000),
#             PARTS ("throughput latency" by default: which parts to run),
#             LATENCY_SECONDS (per rate and system, default 15), DRAIN_SECONDS (how long
#             each system may take after that to deliver what it has, default 30; what
#             arrives later counts as not arrived), TRACK_BATCH (default 10),
#             POSTHOG_NODE (npm version spec, default 5: the current major; "none"
#             leaves out the posthog-node runs, (d), (e) and those of (f))
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
N=${1:-50000}
N1=${N1:-3000}
BACKLOG=${BACKLOG:-300000}
PARTS=${PARTS:-throughput latency}
LATENCY_SECONDS=${LATENCY_SECONDS:-15}
DRAIN_SECONDS=${DRAIN_SECONDS:-30}
TRACK_BATCH=${TRACK_BATCH:-10}
POSTHOG_NODE=${POSTHOG_NODE:-5}
want() { case " $PARTS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

bench_setup
# on exit, the sink goes too (before bench_setup's cluster and directory)
SINK_PID=
cleanup() {
	[ -n "$SINK_PID" ] && kill "$SINK_PID" 2>/dev/null && wait "$SINK_PID" 2>/dev/null
	stop_cluster "$WORK/data"
	rm -rf "$WORK"
}
trap cleanup EXIT

# the sink
mkdir -p "$WORK/sink"
perl "$TELEMETRY_ROOT/bench/delivery_sink.pl" "$WORK/sink" "$WORK/sink.port" &
SINK_PID=$!
for _ in $(seq 50); do [ -s "$WORK/sink.port" ] && break; sleep 0.1; done
SINK="http://127.0.0.1:$(cat "$WORK/sink.port")"
count_events() { perl "$TELEMETRY_ROOT/bench/delivery_sink.pl" count "$WORK/sink" "$1" | cut -d' ' -f1; }
# seconds from the first request to a path prefix to the last one
span() { perl "$TELEMETRY_ROOT/bench/delivery_sink.pl" count "$WORK/sink" "$1" | cut -d' ' -f4; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { if (s > 0) print n / s; else print 0 }'; }

cat >"$WORK/bench.conf" <<CONF
shared_buffers = 256MB
telemetry.max_parallel_requests = ${PARALLEL:-4}
max_wal_size = 4GB
telemetry.database = 'postgres'
telemetry.enabled = off
# the sink is on loopback: a destination only a superuser's list allows
telemetry.allowed_destinations = '127.0.0.1'
CONF
chown -R postgres "$WORK"
start_cluster "$WORK/data" "$(free_port)" "$WORK/bench.conf"
PSQL="$PGBIN/psql -X -q -At -v ON_ERROR_STOP=1 -d postgres"

$PSQL <<SQL
CREATE EXTENSION telemetry;
SELECT telemetry_run_maintenance();
SELECT telemetry_register_spec(jsonb_build_object(
	'meta', jsonb_build_object('key', 'bench', 'version', '1.0.0'),
	'config', jsonb_build_object('providers', jsonb_build_array(
		jsonb_build_object('type', 'posthog', 'name', 'a', 'config', jsonb_build_object('projectApiKey', 'k', 'host', '$SINK/a')),
		jsonb_build_object('type', 'posthog', 'name', 'b', 'config', jsonb_build_object('projectApiKey', 'k', 'host', '$SINK/b')),
		jsonb_build_object('type', 'posthog', 'name', 'c', 'config', jsonb_build_object('projectApiKey', 'k', 'host', '$SINK/c')))),
	'events', jsonb_build_array(jsonb_build_object('key', 'bench.step', 'version', '1.0.0',
		'semantics', jsonb_build_object('what', 'a workflow step'), 'privacy', 'internal',
		'properties', jsonb_build_object('workflow', jsonb_build_object('type', 'string'),
			'step', jsonb_build_object('type', 'string'), 'durationMs', jsonb_build_object('type', 'number'))))));
-- providers are switched on one at a time, one per measurement
UPDATE telemetry.providers SET enabled = false WHERE spec_key = 'bench';
CREATE PROCEDURE bench_drain() LANGUAGE plpgsql AS \$\$
DECLARE n integer;
BEGIN
	-- as the worker does for its own bookkeeping transactions
	PERFORM set_config('synchronous_commit', 'off', false);
	LOOP
		n := telemetry_deliver();
		COMMIT;
		EXIT WHEN n = 0;
	END LOOP;
END \$\$;
SQL

# the launcher starts a worker only while telemetry.enabled is on: switch it
# on (no provider is enabled yet) and wait up to 10 s for one
$PSQL -c "ALTER SYSTEM SET telemetry.enabled = on" -c "SELECT pg_reload_conf()" >/dev/null
MODE=procedure
for _ in $(seq 100); do
	if [ "$($PSQL -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'telemetry worker'")" -gt 0 ]; then
		MODE=worker
		break
	fi
	sleep 0.1
done
$PSQL -c "ALTER SYSTEM SET telemetry.enabled = off" -c "SELECT pg_reload_conf()" >/dev/null
log "delivery driven by: $MODE"

load() { # load N events for the bench spec
	$PSQL -c "INSERT INTO telemetry.events (id, event, version, spec, occurred_at, properties, context)
		SELECT gen_random_uuid(), 'bench.step', '1.0.0', 'bench', now(),
			jsonb_build_object('workflow', 'onboarding', 'step', 'verify_email', 'durationMs', g % 5000),
			jsonb_build_object('userId', 'user-' || (g % 1000), 'sessionId', 'sess-' || (g % 5000))
		FROM generate_series(1, $1) g"
}
# events delivered to a provider so far (cheap: the status view counts the backlog)
delivered() { $PSQL -c "SELECT coalesce(max(delivered), 0) FROM telemetry.delivery_state WHERE provider = '$1'"; }

# drain PROVIDER BATCH EVENTS: deliver EVENTS to one provider; prints seconds
drain() {
	local prov=$1 batch=$2 n=$3 t0 t1
	$PSQL -c "ALTER SYSTEM SET telemetry.batch_size = $batch" -c "SELECT pg_reload_conf()" >/dev/null
	$PSQL -c "UPDATE telemetry.providers SET enabled = (name = '$prov') WHERE spec_key = 'bench'"
	t0=$(date +%s.%N)
	if [ $MODE = worker ]; then
		$PSQL -c "ALTER SYSTEM SET telemetry.enabled = on" -c "SELECT pg_reload_conf()" >/dev/null
		while [ "$(delivered "$prov")" -lt "$n" ]; do sleep 0.05; done
		t1=$(date +%s.%N)
		$PSQL -c "ALTER SYSTEM SET telemetry.enabled = off" -c "SELECT pg_reload_conf()" >/dev/null
	else
		$PSQL -c "SET application_name = 'bench_drain'" -c "CALL bench_drain()"
		t1=$(date +%s.%N)
	fi
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}

# posthog-node, the app-side peer (installed once, for (d), (e) and (f))
node_setup() {
	[ -f "$WORK/node/send.js" ] && return 0
	mkdir -p "$WORK/node"
	(cd "$WORK/node" && npm init -y >/dev/null && npm install --silent --no-audit --no-fund "posthog-node@$POSTHOG_NODE" >/dev/null) ||
		die "npm install posthog-node failed"
	PH_VERSION=$(cd "$WORK/node" && node -p "JSON.parse(require('fs').readFileSync('node_modules/posthog-node/package.json')).version")
	cat >"$WORK/node/send.js" <<'JS'
const { PostHog } = require('posthog-node');
const n = parseInt(process.argv[3], 10);
const opts = { host: process.argv[2], flushAt: 100, flushInterval: 100 };
if (process.argv[4]) opts.maxQueueSize = parseInt(process.argv[4], 10);
const client = new PostHog('k', opts);
(async () => {
	const t0 = process.hrtime.bigint();
	for (let g = 1; g <= n; g++) {
		client.capture({ distinctId: 'user-' + (g % 1000), event: 'bench.step',
			properties: { workflow: 'onboarding', step: 'verify_email', durationMs: g % 5000,
				version: '1.0.0', spec: 'bench' } });
	}
	await client.shutdown(60000);
	const secs = Number(process.hrtime.bigint() - t0) / 1e9;
	console.log(secs.toFixed(3));
})();
JS
	cat >"$WORK/node/latency.js" <<'JS'
// Capture at a steady rate (events/s) for a number of seconds, each event
// with properties.trackedAt = when it was captured (unix seconds); then
// shut down, flushing what is queued for at most a drain time (seconds).
// Prints the number captured.
const { PostHog } = require('posthog-node');
const { performance } = require('perf_hooks');
const [host, rate, secs, queue, drain] = process.argv.slice(2).map((v, i) => (i ? parseInt(v, 10) : v));
const opts = { host };
if (queue) opts.maxQueueSize = queue;
const client = new PostHog('k', opts);
const now = () => (performance.timeOrigin + performance.now()) / 1000;
const t0 = now();
let sent = 0;
const total = rate * secs;
const timer = setInterval(() => {
	const due = Math.min(total, Math.floor((now() - t0) * rate));
	for (; sent < due; sent++)
		client.capture({ distinctId: 'user-' + (sent % 1000), event: 'bench.step',
			properties: { workflow: 'onboarding', step: 'verify_email', durationMs: sent % 5000,
				version: '1.0.0', spec: 'bench', trackedAt: now() } });
	if (sent >= total) {
		clearInterval(timer);
		// what is still queued after the drain time counts as not arrived
		client.shutdown(drain * 1000).then(() => { console.log(sent); process.exit(0); });
	}
}, 2);
JS
}

if want throughput; then
# (a) batch 100
load "$N"
secs_a=$(drain a 100 "$N")
got_a=$(count_events /a/)

# (b) batch 1 (on the same N events: only the first N1 are timed)
$PSQL -c "UPDATE telemetry.delivery_state SET cursor_xid = '0', cursor_id = '00000000-0000-0000-0000-000000000000' WHERE provider = 'b'" >/dev/null
$PSQL -c "TRUNCATE telemetry.events" -c "TRUNCATE telemetry.delivery_history"
load "$N1"
secs_b=$(drain b 1 "$N1")
got_b=$(count_events /b/)

# (c) memory over a large backlog
$PSQL -c "TRUNCATE telemetry.events" -c "TRUNCATE telemetry.delivery_history"
load "$BACKLOG"
rm -f "$WORK/rss"
touch "$WORK/rss"	# a drain faster than the first sample leaves it empty
(
	while sleep 0.25; do
		if [ $MODE = worker ]; then
			pid=$($PSQL -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'telemetry worker'" 2>/dev/null)
		else
			pid=$($PSQL -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'bench_drain'" 2>/dev/null)
		fi
		[ -n "$pid" ] && awk '/^RssAnon/{print $2}' "/proc/$pid/status" 2>/dev/null >>"$WORK/rss"
	done
) &
SAMPLER=$!
secs_c=$(drain c 100 "$BACKLOG")
kill $SAMPLER 2>/dev/null || true
wait $SAMPLER 2>/dev/null || true
got_c=$(count_events /c/)
rss_min=$(sort -n "$WORK/rss" | head -1)
rss_max=$(sort -n "$WORK/rss" | tail -1)
rss_first=$(head -1 "$WORK/rss")
rss_last=$(tail -1 "$WORK/rss")

if [ "$POSTHOG_NODE" != none ]; then
# (d) posthog-node, the app-side peer, same events, same sink
node_setup
secs_d=$(cd "$WORK/node" && node send.js "$SINK/node" "$N")
got_d=$(count_events /node/)
# (e) the same, with its in-memory queue raised so that it drops nothing
secs_e=$(cd "$WORK/node" && node send.js "$SINK/nodeq" "$N" "$N")
got_e=$(count_events /nodeq/)
fi

fi

# (f) latency at steady tracking rates
if want latency; then
	$PSQL -c "UPDATE telemetry.providers SET enabled = false WHERE spec_key = 'bench'" >/dev/null
	$PSQL -c "ALTER SYSTEM SET telemetry.batch_size = 100" -c "SELECT pg_reload_conf()" >/dev/null
	declare -A LAT
	DRAINER=
	for r in 2000 10000; do
		key=lat$r
		cat >"$WORK/track_$r.sql" <<SQL
SELECT count(*) FROM telemetry_track_batch((SELECT jsonb_agg(jsonb_build_object('event', '$key.step',
	'properties', jsonb_build_object('workflow', 'onboarding', 'step', 'verify_email', 'durationMs', g,
		'trackedAt', extract(epoch FROM clock_timestamp())),
	'context', jsonb_build_object('userId', 'user-' || (g % 1000))))
	FROM generate_series(1, $TRACK_BATCH) g));
SQL
		chown postgres "$WORK/track_$r.sql"
		$PSQL >/dev/null <<SQL
SELECT telemetry_register_spec(jsonb_build_object(
	'meta', jsonb_build_object('key', '$key', 'version', '1.0.0'),
	'config', jsonb_build_object('providers', jsonb_build_array(
		jsonb_build_object('type', 'posthog', 'config', jsonb_build_object('projectApiKey', 'k', 'host', '$SINK/$key')))),
	'events', jsonb_build_array(jsonb_build_object('key', '$key.step', 'version', '1.0.0',
		'semantics', jsonb_build_object('what', 'a workflow step'), 'privacy', 'internal',
		'properties', jsonb_build_object('workflow', jsonb_build_object('type', 'string'),
			'step', jsonb_build_object('type', 'string'), 'durationMs', jsonb_build_object('type', 'number'),
			'trackedAt', jsonb_build_object('type', 'number'))))));
SQL
		if [ $MODE = worker ]; then
			# a steady state: the worker is up and has run its first
			# delivery job (its start, maintenance included, is not timed)
			since=$($PSQL -c "SELECT clock_timestamp()")
			$PSQL -c "ALTER SYSTEM SET telemetry.enabled = on" -c "SELECT pg_reload_conf()" >/dev/null
			for _ in $(seq 200); do
				[ "$($PSQL -c "SELECT count(*) FROM telemetry.worker_status
					WHERE job = 'delivery' AND pid IS NOT NULL AND last_run > '$since'")" -gt 0 ] && break
				sleep 0.05
			done
		else
			(while :; do $PSQL -c "CALL bench_drain()" >/dev/null 2>&1; sleep 0.01; done) &
			DRAINER=$!
		fi
		tx=$((r / TRACK_BATCH))
		as_pg "$PGBIN/pgbench" -n -h "$PGHOST" -p "$PGPORT" -U postgres -f "$WORK/track_$r.sql" \
			-R "$tx" -T "$LATENCY_SECONDS" -c 4 -j 2 postgres >"$WORK/pgbench_$r.log" 2>&1 ||
			{ cat "$WORK/pgbench_$r.log" >&2; die "pgbench failed"; }
		tracked=$($PSQL -c "SELECT count(*) FROM telemetry.events WHERE spec = '$key'")
		# wait (at most DRAIN_SECONDS) until everything tracked has arrived
		for _ in $(seq $((DRAIN_SECONDS * 20))); do
			[ "$($PSQL -c "SELECT coalesce(max(delivered), 0) FROM telemetry.delivery_state WHERE spec_key = '$key'")" -ge "$tracked" ] && break
			sleep 0.05
		done
		if [ $MODE = worker ]; then
			$PSQL -c "ALTER SYSTEM SET telemetry.enabled = off" -c "SELECT pg_reload_conf()" >/dev/null
		else
			kill "$DRAINER" 2>/dev/null; wait "$DRAINER" 2>/dev/null || true
		fi
		LAT[t$r]="$tracked $(perl "$TELEMETRY_ROOT/bench/delivery_sink.pl" latency "$WORK/sink" "/$key/")"
		$PSQL -c "TRUNCATE telemetry.events" -c "TRUNCATE telemetry.delivery_history"
	done
	[ "$POSTHOG_NODE" = none ] || node_setup
	for r in 2000 10000; do
		[ "$POSTHOG_NODE" = none ] && break
		for q in 0 $((r * LATENCY_SECONDS)); do
			path=/ph$r-q$q
			given=$(cd "$WORK/node" && node latency.js "$SINK$path" "$r" "$LATENCY_SECONDS" "$q" "$DRAIN_SECONDS")
			LAT[n$r-q$q]="$given $(perl "$TELEMETRY_ROOT/bench/delivery_sink.pl" latency "$WORK/sink" "$path/")"
		done
	done
fi

echo
echo "delivery benchmark ($MODE, loopback sink recording every request; $(nproc) cores)"
if want throughput; then
	echo "events/s: over the whole run (from the start signal), and between the first and the last request the sink saw"
	printf '%-44s %10s %10s %12s %14s\n' run events seconds events/s "events/s sink"
	row() { printf '%-44s %10s %10.2f %12.0f %14.0f\n' "$1" "$2" "$3" "$(rate "$2" "$3")" "$(rate "$2" "$(span "$4")")"; }
	row "(a) telemetry, PostHog batch 100" "$got_a" "$secs_a" /a/
	row "(b) telemetry, PostHog batch 1" "$got_b" "$secs_b" /b/
	row "(c) telemetry, backlog, batch 100" "$got_c" "$secs_c" /c/
	if [ "$POSTHOG_NODE" != none ]; then
		row "(d) posthog-node $PH_VERSION, flushAt 100 (of $N given)" "$got_d" "$secs_d" /node/
		row "(e) posthog-node, maxQueueSize $N" "$got_e" "$secs_e" /nodeq/
	fi
	echo "(c) delivering process RssAnon over a $BACKLOG-event backlog: first ${rss_first} kB, last ${rss_last} kB, min ${rss_min} kB, max ${rss_max} kB ($(wc -l <"$WORK/rss") samples)"
fi
if want latency; then
	echo
	echo "(f) latency from tracking (commit) to arrival at the sink, ms, at a steady rate for ${LATENCY_SECONDS} s"
	echo "    telemetry: pgbench -R, telemetry_track_batch of $TRACK_BATCH events a transaction, PostHog provider, batch 100"
	echo "    (tracked: events tracked or captured; arrived: events that reached the sink within"
	echo "    ${DRAIN_SECONDS} s after the last was tracked; percentiles over the arrived events)"
	printf '%-44s %8s %8s %8s %8s %8s %8s\n' run rate/s tracked arrived p50 p99 max
	lrow() { set -- "$1" "$2" $3; printf '%-44s %8s %8s %8s %8s %8s %8s\n' "$1" "$2" "$3" "$4" "$5" "$6" "$7"; }
	for r in 2000 10000; do
		lrow "telemetry" "$r" "${LAT[t$r]}"
		[ "$POSTHOG_NODE" = none ] && continue
		lrow "posthog-node $PH_VERSION, defaults" "$r" "${LAT[n$r-q0]}"
		lrow "posthog-node, maxQueueSize $((r * LATENCY_SECONDS))" "$r" "${LAT[n$r-q$((r * LATENCY_SECONDS))]}"
	done
fi
