#!/usr/bin/env bash
# The TypeScript examples (examples/ts/*.telemetry.ts) register to the same
# catalog as the JSON examples (examples/*.json and examples/ts/*.json): each
# set is loaded with push-specs into its own database, and the databases'
# normalized spec documents, event catalogs and event definitions compared.
source "$(dirname "$0")/lib.sh"

# The catalog of a database, independent of the field-name generation a spec
# was written in: each spec's document normalized by the validator, the event
# catalog without registration times, and every event's definition.
catalog() {
	q "$1" "
		SELECT 'spec ' || s.spec || ' ' || telemetry._validate_spec(
			telemetry_spec(split_part(s.spec, '@', 1), split_part(s.spec, '@', 2)))::text
		FROM (SELECT DISTINCT spec FROM telemetry.event_catalog) AS s ORDER BY s.spec;
		SELECT 'catalog ' || concat_ws(' | ', event, version, spec, privacy, retention_days, retention_policy,
			sampling_rate, anomaly_detection, properties)
		FROM telemetry.event_catalog ORDER BY event, version;
		SELECT 'event ' || event || '@' || version || ' ' || telemetry_event_def(event, version)::text
		FROM telemetry.event_catalog ORDER BY event, version"
}

new_db examples_json
new_db examples_ts
json=("$ROOT"/examples/*.json "$ROOT"/examples/ts/*.json)
ts=("$ROOT"/examples/ts/*.telemetry.ts)
is "${#ts[@]}" 4 'four TypeScript examples'

push -d examples_json "${json[@]}"
is "$rc" 0 'the JSON examples load'
[ "$rc" -eq 0 ] || echo "$err" | sed 's/^/# /'
push -d examples_ts "${ts[@]}"
is "$rc" 0 'the TypeScript examples load'
[ "$rc" -eq 0 ] || echo "$err" | sed 's/^/# /'
like "$out" 'sigil\.keyed\.telemetry\.ts: sigil\.telemetry@1\.0\.0: new \(registered\)$' 'the newer field names register the seed example'
like "$out" 'examples/ts/sigil\.telemetry\.ts: sigil\.telemetry@1\.0\.0: unchanged \(already registered\)$' \
	'the older field names (name, integer versions) are the same spec'

catalog examples_json >"$T/json.catalog"
catalog examples_ts >"$T/ts.catalog"
is "$(grep -c '^spec ' "$T/json.catalog")" 3 'three specs in the JSON catalog'
is "$(grep -c '^event ' "$T/json.catalog")" 9 'nine events in the JSON catalog'
if diff -u "$T/json.catalog" "$T/ts.catalog" >"$T/diff"; then
	pass 'the TypeScript examples give the same catalog as the JSON ones'
else
	fail 'the TypeScript examples give the same catalog as the JSON ones'
	sed 's/^/# /' "$T/diff"
fi

# specs written in the same generation are the same documents
for s in shop.checkout support.desk; do
	is "$(q examples_ts "SELECT md5(telemetry_spec('$s')::text)")" "$(q examples_json "SELECT md5(telemetry_spec('$s')::text)")" \
		"$s: the converted document is the JSON example's"
done

# the reference spec uses every field the validator accepts
# walk(DOC): every (path, key, value) of a document; a member of properties,
# context or headers is written "*", an array element "[]"
walk="WITH RECURSIVE d(path, k, v) AS (SELECT '', NULL::text, telemetry_spec('support.desk')
	UNION ALL
	SELECT d.path || x.seg, x.k, x.v FROM d, LATERAL (
		SELECT '.' || CASE WHEN d.path ~ '(properties|context|headers)\$' THEN '*' ELSE e.key END, e.key, e.value
		FROM jsonb_each(CASE jsonb_typeof(d.v) WHEN 'object' THEN d.v END) AS e
		UNION ALL
		SELECT '[]', d.k || '[]', a.value
		FROM jsonb_array_elements(CASE jsonb_typeof(d.v) WHEN 'array' THEN d.v END) AS a) AS x(seg, k, v))"
keys=$(q examples_json "$walk SELECT string_agg(DISTINCT path, ' ' ORDER BY path) FROM d WHERE path <> ''")
for k in .meta.key .meta.version .meta.title .meta.description .meta.domain .meta.owners .meta.tags .meta.stability \
	.config.defaultRetentionDays .config.defaultSamplingRate .config.context.*.description \
	.config.providers[].name .config.providers[].alerts .config.providers[].config.host .config.providers[].config.apiKey \
	.config.providers[].config.projectApiKey.env .config.providers[].config.writeKey.secret \
	.config.providers[].config.headers.*.secret .config.providers[].config.headers.*.env \
	.config.providers[].config.serviceName .config.providers[].config.endpoint .config.providers[].config.url \
	.config.anomalyDetection.enabled .config.anomalyDetection.checkIntervalMs \
	.events[].key .events[].name .events[].version .events[].description .events[].tags .events[].providers \
	.events[].semantics.what .events[].semantics.who .events[].semantics.why \
	.events[].properties.*.required .events[].properties.*.pii .events[].properties.*.redact \
	.events[].properties.*.redaction .events[].properties.*.description \
	.events[].retention.days .events[].retention.policy \
	.events[].sampling.rate .events[].sampling.by .events[].sampling.conditions \
	.events[].anomalyDetection.enabled .events[].anomalyDetection.minimumSample \
	.events[].anomalyDetection.thresholds[].metric .events[].anomalyDetection.thresholds[].min \
	.events[].anomalyDetection.thresholds[].max .events[].anomalyDetection.thresholds[].aggregate \
	.events[].anomalyDetection.thresholds[].window .events[].anomalyDetection.actions; do
	case " $keys " in
	*" $k "*) ;;
	*) missing="${missing:-} $k" ;;
	esac
done
is "${missing:-}" '' 'support.desk uses every field of the spec format'
for v in "privacy: public internal pii sensitive" "type: string number boolean timestamp json" \
	"redaction: mask hash drop" "policy: delete archive" "aggregate: avg p50 p95 p99 min max count" \
	"actions[]: alert log trigger_regen" "type: posthog segment webhook opentelemetry slack internal"; do
	field=${v%%:*}
	got=$(q examples_json "$walk SELECT string_agg(DISTINCT v #>> '{}', ' ') FROM d
		WHERE k = '$field' AND jsonb_typeof(v) = 'string'")
	for want in ${v#*:}; do
		case " $got " in
		*" $want "*) ;;
		*) fail "support.desk: $field $want is not used"; continue 2 ;;
		esac
	done
	pass "support.desk uses every $field value"
done

done_testing
