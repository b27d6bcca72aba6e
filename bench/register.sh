#!/usr/bin/env bash
# Benchmark of spec registration (telemetry_register_spec) against the plain
# INSERT of the rows it stores.
#
# In one run, on a throwaway cluster:
#   (a) a generated spec of 1000 events with 34 properties each, just under
#       the 1 MB limit: registered (new events), registered again (identical:
#       a no-op), registered as a new spec version that lists the same 1000
#       events unchanged, unregistered (1000 tombstones), registered again
#       (each event compared with its tombstone), unregistered;
#   (b) a spec of 10 small events: registered, unregistered;
#   (c) the same 34,000 property rows (and 1,000 event rows) inserted into
#       plain tables shaped like telemetry.event_properties and
#       telemetry.event_defs, from the same document, in one statement each.
# Each is run REPEAT times (default 5) in its own transaction; the median is
# printed.  Between runs the catalog tables are vacuumed (untimed), as the
# plain tables are truncated.  Target: the 1 MB spec registers in well under
# a second.
#
# Usage: bench/register.sh [repeat, default 5]
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
REPEAT=${1:-5}

bench_setup
cat >"$WORK/bench.conf" <<CONF
telemetry.enabled = off
shared_buffers = 256MB
CONF
chown -R postgres "$WORK"
start_cluster "$WORK/data" "$(free_port)" "$WORK/bench.conf"

PSQL="$PGBIN/psql -X -q -v ON_ERROR_STOP=1 -d postgres"
$PSQL <<'SQL'
CREATE EXTENSION telemetry;
-- the generated specs: properties of every type, one required, a hashed
-- context, sampling conditions on every tenth event; semantics.what is
-- padded so the big one comes just under 1 MB as JSON text
CREATE FUNCTION bench_spec(key text, version text, events integer, props integer, pad integer) RETURNS jsonb
LANGUAGE sql AS $$
	SELECT jsonb_build_object(
		'meta', jsonb_build_object('key', key, 'version', version),
		'config', jsonb_build_object('context', '{"userId": {"type": "string", "redaction": "hash"}}'::jsonb),
		'events', (SELECT jsonb_agg(jsonb_build_object(
			'key', key || '.e' || e, 'version', '1.0.0', 'privacy', 'public',
			'semantics', jsonb_build_object('what', left(repeat('w', pad), pad)),
			'properties', (SELECT jsonb_object_agg('p' || p, CASE WHEN p = 1 THEN '{"type": "number", "required": true}'::jsonb
				ELSE jsonb_build_object('type', (ARRAY['json', 'number', 'string', 'json', 'boolean', 'json'])[1 + p % 6]) END)
				FROM generate_series(1, props) p))
			|| CASE WHEN e % 10 = 0 THEN '{"sampling": {"rate": 0.1, "conditions": ["p1 > 9"]}}'::jsonb ELSE '{}' END
			ORDER BY e)
			FROM generate_series(1, events) e))
$$;
CREATE TABLE plain_properties (LIKE telemetry.event_properties INCLUDING DEFAULTS);
ALTER TABLE plain_properties ADD PRIMARY KEY (event, version, scope, name);
CREATE TABLE plain_defs (event text, version text, spec_key text, privacy text, what text, definition jsonb,
	PRIMARY KEY (event, version));
SQL

# the largest padding that keeps the big spec under 1 MB
pad=$($PSQL -At -c "SELECT max(pad) FROM generate_series(1, 100) pad
	WHERE octet_length(bench_spec('bench.big', '1.0.0', 1000, 34, pad)::text) <= 1048576")
size=$($PSQL -At -c "SELECT octet_length(bench_spec('bench.big', '1.0.0', 1000, 34, $pad)::text)")
$PSQL -c "CREATE TABLE docs AS SELECT bench_spec('bench.big', '1.0.0', 1000, 34, $pad) AS big,
	bench_spec('bench.big', '1.1.0', 1000, 34, $pad) AS big2, bench_spec('bench.small', '1.0.0', 10, 5, 10) AS small"

# ms STATEMENT: the server-side time of one statement in its own transaction
ms() {
	$PSQL -c '\timing on' -c "$1" | awk '/^Time: /{print $2; exit}'
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

declare -A t
for i in $(seq 1 "$REPEAT"); do
	t[reg]+="$(ms "SELECT telemetry_register_spec(big) FROM docs") "
	t[same]+="$(ms "SELECT telemetry_register_spec(big) FROM docs") "
	t[next]+="$(ms "SELECT telemetry_register_spec(big2) FROM docs") "
	t[unreg2]+="$(ms "SELECT telemetry_unregister_spec('bench.big', '1.1.0')") "
	t[unreg]+="$(ms "SELECT telemetry_unregister_spec('bench.big', '1.0.0')") "
	t[revive]+="$(ms "SELECT telemetry_register_spec(big) FROM docs") "
	$PSQL -c "SELECT telemetry_unregister_spec('bench.big', '1.0.0')" >/dev/null
	# the next run registers new event versions again, into a catalog
	# without the dead rows of this one (as the plain tables below are
	# truncated): otherwise each new row's key meets its dead twin in the
	# unique index, a cost of this loop and not of registering
	$PSQL -c "DELETE FROM telemetry.event_tombstones" >/dev/null
	$PSQL -c "VACUUM telemetry.specs, telemetry.event_defs, telemetry.spec_events, telemetry.event_properties,
		telemetry.event_tombstones, telemetry.anomaly_rules, telemetry.providers" >/dev/null
	t[small]+="$(ms "SELECT telemetry_register_spec(small) FROM docs") "
	$PSQL -c "SELECT telemetry_unregister_spec('bench.small', '1.0.0')" >/dev/null
	t[plain]+="$(ms "WITH d AS (SELECT e FROM docs, jsonb_array_elements(big -> 'events') e),
		defs AS (INSERT INTO plain_defs SELECT e ->> 'key', e ->> 'version', 'bench.big', e ->> 'privacy',
			e #>> '{semantics,what}', e FROM d)
		INSERT INTO plain_properties (event, version, scope, name, ordinal, type, required, pii, redact, redaction, description)
		SELECT e ->> 'key', e ->> 'version', 'property', p.key, 0, p.value ->> 'type', COALESCE((p.value ->> 'required')::boolean, false),
			false, false, NULL, NULL
		FROM d, jsonb_each(e -> 'properties') p") "
	$PSQL -c "TRUNCATE plain_properties, plain_defs" >/dev/null
done

echo
echo "spec registration, median of $REPEAT runs (ms; the big spec is $size bytes of JSON, 1000 events x 34 properties)"
printf '  %-58s %10s\n' \
	"register the 1 MB spec (1000 new event versions)" "$(echo ${t[reg]} | tr ' ' '\n' | median)" \
	"register it again (identical: no-op)" "$(echo ${t[same]} | tr ' ' '\n' | median)" \
	"register 1.1.0 listing the same 1000 events unchanged" "$(echo ${t[next]} | tr ' ' '\n' | median)" \
	"unregister 1.1.0 (events stay, listed by 1.0.0)" "$(echo ${t[unreg2]} | tr ' ' '\n' | median)" \
	"unregister 1.0.0 (1000 events removed, 1000 tombstones)" "$(echo ${t[unreg]} | tr ' ' '\n' | median)" \
	"register 1.0.0 again (1000 tombstoned events compared)" "$(echo ${t[revive]} | tr ' ' '\n' | median)" \
	"register a spec of 10 small events" "$(echo ${t[small]} | tr ' ' '\n' | median)" \
	"plain INSERT of the same 34,000 property + 1000 event rows" "$(echo ${t[plain]} | tr ' ' '\n' | median)"
