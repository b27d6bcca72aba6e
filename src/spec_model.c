/*
 * spec_model.c
 *		The spec vocabulary: enumerations, field names and key rules.
 *
 * Everything that reads or writes a spec takes its words from here:
 * validation (spec_validate.c) for its checks and messages, the catalog's
 * CHECK constraints through telemetry._vocabulary(), and the compiler of
 * the per-backend cache (spec_cache.c), which refuses a catalog value that
 * is not in the vocabulary instead of guessing.
 */
#include "telemetry.h"
#include "spec_model.h"
#include "spec_provider.h"

#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(telemetry_vocabulary);

#define ENUM(what, names, values) \
	{what, names, values, lengthof(names)}

static const char *const prop_type_names[] = {"string", "number", "boolean", "timestamp", "json"};
static const int prop_type_values[] = {PROP_STRING, PROP_NUMBER, PROP_BOOLEAN, PROP_TIMESTAMP, PROP_JSON};
const SpecEnum spec_prop_types = ENUM("type", prop_type_names, prop_type_values);

/* messages list the modes in the seed's order, not by strength */
static const char *const redaction_names[] = {"mask", "hash", "drop"};
static const int redaction_values[] = {REDACT_MASK, REDACT_HASH, REDACT_DROP};
const SpecEnum spec_redactions = ENUM("redaction", redaction_names, redaction_values);

static const char *const privacy_names[] = {"public", "internal", "pii", "sensitive"};
static const int privacy_values[] = {PRIVACY_PUBLIC, PRIVACY_INTERNAL, PRIVACY_PII, PRIVACY_SENSITIVE};
const SpecEnum spec_privacies = ENUM("privacy", privacy_names, privacy_values);

static const char *const stability_names[] = {"experimental", "beta", "stable", "deprecated"};
static const int stability_values[] = {STABILITY_EXPERIMENTAL, STABILITY_BETA, STABILITY_STABLE, STABILITY_DEPRECATED};
const SpecEnum spec_stabilities = ENUM("stability", stability_names, stability_values);

static const char *const policy_names[] = {"delete", "archive"};
static const int policy_values[] = {POLICY_DELETE, POLICY_ARCHIVE};
const SpecEnum spec_policies = ENUM("policy", policy_names, policy_values);

static const char *const action_names[] = {"alert", "log", "trigger_regen"};
static const int action_values[] = {ACTION_ALERT, ACTION_LOG, ACTION_TRIGGER_REGEN};
const SpecEnum spec_actions = ENUM("action", action_names, action_values);

static const char *const aggregate_names[] = {"avg", "p50", "p95", "p99", "min", "max", "count"};
static const int aggregate_values[] = {AGG_AVG, AGG_P50, AGG_P95, AGG_P99, AGG_MIN, AGG_MAX, AGG_COUNT};
const SpecEnum spec_aggregates = ENUM("aggregate", aggregate_names, aggregate_values);

/* field names, NULL-terminated, in the order "allowed: ..." lists them */
const char *const spec_top_keys[] = {"meta", "config", "events", NULL};
const char *const spec_meta_keys[] = {"key", "name", "version", "title", "description", "domain",
"owners", "tags", "stability", NULL};
const char *const spec_config_keys[] = {"defaultRetentionDays", "defaultSamplingRate", "providers",
"anomalyDetection", "context", NULL};
const char *const spec_config_anomaly_keys[] = {"enabled", "checkIntervalMs", NULL};
const char *const spec_event_keys[] = {"key", "name", "version", "semantics", "privacy", "properties",
"retention", "sampling", "anomalyDetection", "tags", "description", "providers", NULL};
const char *const spec_semantics_keys[] = {"what", "who", "why", NULL};
const char *const spec_property_keys[] = {"type", "required", "pii", "redact", "redaction", "description", NULL};
const char *const spec_retention_keys[] = {"days", "policy", NULL};
const char *const spec_sampling_keys[] = {"rate", "conditions", "by", NULL};
const char *const spec_anomaly_keys[] = {"enabled", "minimumSample", "thresholds", "actions", NULL};
const char *const spec_threshold_keys[] = {"metric", "min", "max", "aggregate", "window", NULL};
const char *const spec_provider_keys[] = {"type", "name", "config", "alerts", NULL};

/* The value of a name of the enumeration, or -1 when it has none. */
int
spec_enum_parse(const SpecEnum *e, const char *s, int len)
{
	for (int i = 0; i < e->n; i++)
		if ((int) strlen(e->names[i]) == len && memcmp(e->names[i], s, len) == 0)
			return e->values[i];
	return -1;
}

/* The name of a value of the enumeration. */
const char *
spec_enum_name(const SpecEnum *e, int value)
{
	for (int i = 0; i < e->n; i++)
		if (e->values[i] == value)
			return e->names[i];
	elog(ERROR, "telemetry: %d is not a %s", value, e->what);
	return NULL;				/* keep the compiler quiet */
}

/* "a, b, c": the names, for "(allowed: ...)". */
char *
spec_enum_allowed(const SpecEnum *e)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; i < e->n; i++)
		appendStringInfo(&buf, "%s%s", i > 0 ? ", " : "", e->names[i]);
	return buf.data;
}

/* Characters (not bytes) of a string in the database encoding. */
int
spec_chars(const char *s, int len)
{
	return pg_mbstrlen_with_len(s, len);
}

/*
 * A key or name: letters, digits, "_", "-", ".", starting with a letter
 * (ASCII only).  The length (128 characters) is checked apart, with its own
 * message.
 */
bool
spec_key_valid(const char *s, int len)
{
	if (len <= 0 || !((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z')))
		return false;
	for (int i = 1; i < len; i++)
	{
		char		c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			  c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

/* A text[] of the names of an enumeration. */
static Datum
enum_array(const SpecEnum *e)
{
	Datum	   *elems = palloc(sizeof(Datum) * e->n);

	for (int i = 0; i < e->n; i++)
		elems[i] = CStringGetTextDatum(e->names[i]);
	return PointerGetDatum(construct_array(elems, e->n, TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * SQL: telemetry._vocabulary(kind text) RETURNS text[]
 *
 * The names of one enumeration of the vocabulary, for the catalog's CHECK
 * constraints (constant-folded once per statement): 'property type',
 * 'redaction', 'privacy', 'stability', 'retention policy', 'action',
 * 'aggregate', 'provider type'.
 */
Datum
telemetry_vocabulary(PG_FUNCTION_ARGS)
{
	char	   *kind = text_to_cstring(PG_GETARG_TEXT_PP(0));

	if (strcmp(kind, "property type") == 0)
		return enum_array(&spec_prop_types);
	if (strcmp(kind, "redaction") == 0)
		return enum_array(&spec_redactions);
	if (strcmp(kind, "privacy") == 0)
		return enum_array(&spec_privacies);
	if (strcmp(kind, "stability") == 0)
		return enum_array(&spec_stabilities);
	if (strcmp(kind, "retention policy") == 0)
		return enum_array(&spec_policies);
	if (strcmp(kind, "action") == 0)
		return enum_array(&spec_actions);
	if (strcmp(kind, "aggregate") == 0)
		return enum_array(&spec_aggregates);
	if (strcmp(kind, "provider type") == 0)
	{
		int			n = spec_provider_type_count();
		Datum	   *elems = palloc(sizeof(Datum) * n);

		for (int i = 0; i < n; i++)
			elems[i] = CStringGetTextDatum(spec_provider_type(i)->type);
		return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown telemetry vocabulary \"%s\"", kind)));
	PG_RETURN_NULL();
}
