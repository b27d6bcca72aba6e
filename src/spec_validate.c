/*
 * spec_validate.c
 *		Validation and normalization of a spec document.
 *
 * spec_validate() checks a whole document before anything is stored and
 * returns it as a SpecDoc: every value checked against the vocabulary
 * (spec_model.c), defaults applied, and the normalized form of the spec and
 * of each event as jsonb.  Two documents are the same spec when their
 * normalized forms are equal (the other generation of field names, an
 * integer version N for N.0.0, other whitespace or key order), and an event
 * version is the same when its normalized definitions are.
 *
 * Every problem is SQLSTATE 22023 with a message that starts with the JSON
 * path of the field, e.g. "events[0].properties.ms.type: unknown type
 * "integer" (allowed: ...)"; values are quoted only where they are not
 * secret, and cut to a readable length.  Providers are checked by
 * spec_provider.c (their config keys come from the delivery code's
 * descriptors), with the policy checks (secrets, environment variables,
 * destinations, SQLSTATE 42501) when asked for.
 */
#include "telemetry.h"
#include "spec_model.h"
#include "spec_validate.h"
#include "event_check.h"
#include "spec_provider.h"
#include "sample_condition.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/fmgrprotos.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

PG_FUNCTION_INFO_V1(telemetry_validate_spec);

/* ---------------------------------------------------------------------
 * Messages
 * ---------------------------------------------------------------------
 */

/*
 * The catalog's validation error: SQLSTATE 22023, "<json path>: <problem>",
 * with the statement hidden (it may hold secrets).
 */
void
spec_invalid(const char *path, const char *fmt,...)
{
	va_list		args;
	char	   *problem;

	va_start(args, fmt);
	problem = telemetry_vformat(fmt, args);
	va_end(args);
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s: %s", path ? path : "spec", problem),
			 errhidestmt(true)));
}

/* The first `chars` characters of s[0..len) followed by "...", or all of it. */
static char *
cut(const char *s, int len, int limit, int keep)
{
	if (spec_chars(s, len) > limit)
	{
		int			n = pg_mbcharcliplen(s, len, keep);

		return psprintf("%.*s...", n, s);
	}
	return pnstrdup(s, len);
}

/* A value quoted for a message, cut to 64 characters. */
char *
spec_quote(const char *s, int len)
{
	return psprintf("\"%s\"", cut(s, len, 64, 61));
}

/* A text for a message, cut to 64 characters. */
char *
sj_short(const char *s)
{
	return cut(s, strlen(s), 64, 61);
}

/* A member name appended to a path, cut so hostile names keep messages short. */
char *
spec_member(const char *path, const char *name, int len)
{
	return psprintf("%s.%s", path, cut(name, len, 128, 61));
}

/* path.key for the spec's own field names. */
char *
sj_path(const char *path, const char *key)
{
	return psprintf("%s.%s", path, key);
}

/* path[i] */
char *
sj_index(const char *path, int i)
{
	return psprintf("%s[%d]", path, i);
}

/* ---------------------------------------------------------------------
 * JSON checks
 * ---------------------------------------------------------------------
 */

/*
 * The JSON type name used in messages: the tracking checks' name
 * (jsonb_value_type_name), and "nothing" for an absent value.
 */
const char *
sj_type(const JsonbValue *v)
{
	return v == NULL ? "nothing" : jsonb_value_type_name(v);
}

bool
sj_is(const JsonbValue *v, const char *type)
{
	return v != NULL && strcmp(sj_type(v), type) == 0;
}

/* Absent or JSON null: an optional section given as null counts as absent. */
bool
sj_absent(const JsonbValue *v)
{
	return v == NULL || v->type == jbvNull;
}

/* A member of an object (into buf), or NULL. */
JsonbValue *
sj_get(const JsonbValue *obj, const char *key, JsonbValue *buf)
{
	if (obj == NULL || obj->type != jbvBinary || !JsonContainerIsObject(obj->val.binary.data))
		return NULL;
	return getKeyJsonValueFromContainer(obj->val.binary.data, key, strlen(key), buf);
}

/* Elements of an array, members of an object. */
int
sj_count(const JsonbValue *v)
{
	if (v == NULL || v->type != jbvBinary)
		return 0;
	return JsonContainerSize(v->val.binary.data);
}

/* A string value as a C string. */
char *
sj_text(const JsonbValue *v)
{
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/* Check that v is present and of JSON type `type`. */
void
sj_expect(const JsonbValue *v, const char *type, const char *path)
{
	if (sj_absent(v))
		spec_invalid(path, "required %s is missing", type);
	if (!sj_is(v, type))
		spec_invalid(path, "must be %s %s, got %s",
					 (strcmp(type, "object") == 0 || strcmp(type, "array") == 0) ? "an" : "a",
					 type, sj_type(v));
}

static bool
key_listed(const char *const *allowed, const char *k, int len)
{
	for (int i = 0; allowed[i] != NULL; i++)
		if ((int) strlen(allowed[i]) == len && memcmp(allowed[i], k, len) == 0)
			return true;
	return false;
}

/*
 * Check that an object has only the allowed keys.  The unknown key named is
 * the first in byte order, whatever the database's collation.
 */
void
sj_allowed_keys(const JsonbValue *obj, const char *const *allowed, const char *path)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	const char *bad = NULL;
	int			badlen = 0;
	StringInfoData buf;

	if (obj == NULL || obj->type != jbvBinary || !JsonContainerIsObject(obj->val.binary.data))
		return;
	it = JsonbIteratorInit(obj->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok != WJB_KEY || key_listed(allowed, v.val.string.val, v.val.string.len))
			continue;
		if (bad == NULL)
		{
			bad = v.val.string.val;
			badlen = v.val.string.len;
		}
		else
		{
			int			c = memcmp(v.val.string.val, bad, Min(badlen, v.val.string.len));

			if (c < 0 || (c == 0 && v.val.string.len < badlen))
			{
				bad = v.val.string.val;
				badlen = v.val.string.len;
			}
		}
	}
	if (bad == NULL)
		return;
	initStringInfo(&buf);
	for (int i = 0; allowed[i] != NULL; i++)
		appendStringInfo(&buf, "%s%s", i > 0 ? ", " : "", allowed[i]);
	if (buf.len == 0)
		spec_invalid(path, "unknown key %s (no keys allowed here)", spec_quote(bad, badlen));
	spec_invalid(path, "unknown key %s (allowed: %s)", spec_quote(bad, badlen), buf.data);
}

/* An optional string member: NULL when absent, error when not a string. */
char *
sj_opt_text(const JsonbValue *obj, const char *key, const char *path, int maxchars)
{
	JsonbValue	buf;
	JsonbValue *v = sj_get(obj, key, &buf);

	if (sj_absent(v))
		return NULL;
	if (v->type != jbvString)
		sj_expect(v, "string", sj_path(path, key));
	if (v->val.string.len > maxchars && spec_chars(v->val.string.val, v->val.string.len) > maxchars)
		spec_invalid(sj_path(path, key), "longer than %d characters", maxchars);
	return sj_text(v);
}

/* An optional boolean member. */
bool
sj_opt_bool(const JsonbValue *obj, const char *key, const char *path, bool dflt)
{
	JsonbValue	buf;
	JsonbValue *v = sj_get(obj, key, &buf);

	if (sj_absent(v))
		return dflt;
	if (v->type != jbvBool)
		sj_expect(v, "boolean", sj_path(path, key));
	return v->val.boolean;
}

static Numeric
numeric_from(const char *s)
{
	return DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(s),
											   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
}

static char *
numeric_text(Numeric n)
{
	return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(n)));
}

static int
numeric_compare(Numeric a, Numeric b)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(a), NumericGetDatum(b)));
}

/*
 * An optional number member within [lo, hi] (given as numeric literals);
 * integral when asked.  NULL when absent.
 */
Numeric
sj_opt_number(const JsonbValue *obj, const char *key, const char *path,
			  const char *lo, const char *hi, bool integral)
{
	JsonbValue	buf;
	JsonbValue *v = sj_get(obj, key, &buf);
	Numeric		n;
	Numeric		nlo;
	Numeric		nhi;

	if (sj_absent(v))
		return NULL;
	if (v->type != jbvNumeric)
		sj_expect(v, "number", sj_path(path, key));
	nlo = numeric_from(lo);
	nhi = numeric_from(hi);
	n = v->val.numeric;
	if (integral)
	{
		Numeric		t = DatumGetNumeric(DirectFunctionCall2(numeric_trunc, NumericGetDatum(n),
															Int32GetDatum(0)));

		if (numeric_compare(n, t) != 0)
			spec_invalid(sj_path(path, key), "must be an integer, got %s", sj_short(numeric_text(n)));
	}
	if (numeric_compare(n, nlo) < 0 || numeric_compare(n, nhi) > 0)
		spec_invalid(sj_path(path, key), "must be between %s and %s, got %s",
					 numeric_text(nlo), numeric_text(nhi), sj_short(numeric_text(n)));
	return n;
}

/* A key or name: letters, digits, "_", "-", ".", starting with a letter, 128 at most. */
void
sj_check_key(const char *s, int len, const char *path)
{
	if (len > SPEC_MAX_KEY_CHARS && spec_chars(s, len) > SPEC_MAX_KEY_CHARS)
		spec_invalid(path, "longer than %d characters", SPEC_MAX_KEY_CHARS);
	if (!spec_key_valid(s, len))
		spec_invalid(path, "invalid key %s: use letters, digits, \"_\", \"-\" and \".\", starting with a letter",
					 spec_quote(s, len));
}

/* An optional array of strings (100 at most, each 256 characters at most). */
static char **
opt_text_array(const JsonbValue *obj, const char *key, const char *path, int *n)
{
	JsonbValue	buf;
	JsonbValue *v = sj_get(obj, key, &buf);
	char	   *p = sj_path(path, key);
	char	  **result;
	int			count;

	*n = 0;
	if (sj_absent(v))
		return NULL;
	sj_expect(v, "array", p);
	count = sj_count(v);
	if (count > SPEC_MAX_ITEMS)
		spec_invalid(p, "more than %d items", SPEC_MAX_ITEMS);
	result = palloc(sizeof(char *) * (count + 1));
	for (int i = 0; i < count; i++)
	{
		JsonbValue *e = getIthJsonbValueFromContainer(v->val.binary.data, i);

		if (e->type != jbvString)
			sj_expect(e, "string", sj_index(p, i));
		if (e->val.string.len > SPEC_MAX_ITEM_CHARS &&
			spec_chars(e->val.string.val, e->val.string.len) > SPEC_MAX_ITEM_CHARS)
			spec_invalid(sj_index(p, i), "longer than %d characters", SPEC_MAX_ITEM_CHARS);
		result[i] = sj_text(e);
	}
	*n = count;
	return result;
}

/* An optional object member: NULL when absent or null, error when not an object. */
static JsonbValue *
opt_object(const JsonbValue *obj, const char *key, const char *path, JsonbValue *buf)
{
	JsonbValue *v = sj_get(obj, key, buf);

	if (sj_absent(v))
		return NULL;
	sj_expect(v, "object", path);
	return v;
}

/* meta.key / events[].key with the older "name" as an alias. */
static char *
key_or_name(const JsonbValue *obj, const char *path)
{
	char	   *k = sj_opt_text(obj, "key", path, SPEC_MAX_NAME_CHARS);
	char	   *n = sj_opt_text(obj, "name", path, SPEC_MAX_NAME_CHARS);
	char	   *result = k ? k : n;

	if (k == NULL && n == NULL)
		spec_invalid(sj_path(path, "key"), "required string is missing");
	if (k != NULL && n != NULL && strcmp(k, n) != 0)
		spec_invalid(sj_path(path, "name"), "differs from %s.key", path);
	sj_check_key(result, strlen(result), sj_path(path, k ? "key" : "name"));
	return result;
}

/* A version: a semver string, or an integer N meaning N.0.0 (the seed's older form). */
static char *
check_version(const JsonbValue *v, const char *path)
{
	char	   *s;

	if (sj_absent(v))
		spec_invalid(path, "required version is missing");
	if (v->type == jbvNumeric)
	{
		Numeric		n = v->val.numeric;
		Numeric		t = DatumGetNumeric(DirectFunctionCall2(numeric_trunc, NumericGetDatum(n),
															Int32GetDatum(0)));

		if (numeric_compare(n, t) != 0 || numeric_compare(n, numeric_from("0")) < 0 ||
			numeric_compare(n, numeric_from("2147483647")) > 0)
			spec_invalid(path, "a numeric version must be a non-negative integer, got %s",
						 sj_short(numeric_text(n)));
		return psprintf("%s.0.0", numeric_text(t));
	}
	if (v->type != jbvString)
		spec_invalid(path, "must be a string, got %s", sj_type(v));
	s = sj_text(v);
	if (!semver_is_valid(s))
		spec_invalid(path, "invalid semantic version %s (expected MAJOR.MINOR.PATCH, as in 1.2.3 or 1.2.3-beta.1)",
					 spec_quote(s, strlen(s)));
	return s;
}

/* An enumeration value, or the error naming the allowed ones. */
static int
check_enum(const SpecEnum *e, const char *s, const char *path)
{
	int			value = spec_enum_parse(e, s, strlen(s));

	if (value < 0)
		spec_invalid(path, "unknown %s %s (allowed: %s)", e->what, spec_quote(s, strlen(s)),
					 spec_enum_allowed(e));
	return value;
}

/* ---------------------------------------------------------------------
 * Building the normalized form
 * ---------------------------------------------------------------------
 */

static void
put_key(JsonbParseState **st, const char *key)
{
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	pushJsonbValue(st, WJB_KEY, &k);
}

static void
put_scalar(JsonbParseState **st, JsonbIteratorToken tok, JsonbValue *v)
{
	pushJsonbValue(st, tok, v);
}

static void
put_text(JsonbParseState **st, const char *key, const char *s)
{
	JsonbValue	v;

	if (s == NULL)
		v.type = jbvNull;
	else
	{
		v.type = jbvString;
		v.val.string.val = (char *) s;
		v.val.string.len = strlen(s);
	}
	if (key)
		put_key(st, key);
	put_scalar(st, key ? WJB_VALUE : WJB_ELEM, &v);
}

static void
put_bool(JsonbParseState **st, const char *key, bool b)
{
	JsonbValue	v;

	v.type = jbvBool;
	v.val.boolean = b;
	put_key(st, key);
	put_scalar(st, WJB_VALUE, &v);
}

static void
put_number(JsonbParseState **st, const char *key, Numeric n)
{
	JsonbValue	v;

	if (n == NULL)
		v.type = jbvNull;
	else
	{
		v.type = jbvNumeric;
		v.val.numeric = n;
	}
	put_key(st, key);
	put_scalar(st, WJB_VALUE, &v);
}

static void
put_int(JsonbParseState **st, const char *key, int i)
{
	put_number(st, key, DatumGetNumeric(DirectFunctionCall1(int4_numeric, Int32GetDatum(i))));
}

static void
put_text_array(JsonbParseState **st, const char *key, char **items, int n)
{
	put_key(st, key);
	pushJsonbValue(st, WJB_BEGIN_ARRAY, NULL);
	for (int i = 0; i < n; i++)
		put_text(st, NULL, items[i]);
	pushJsonbValue(st, WJB_END_ARRAY, NULL);
}

/* A JsonbValue (a container or a scalar) as a Jsonb datum. */
Jsonb *
sj_to_jsonb(const JsonbValue *v)
{
	if (v->type == jbvBinary)
	{
		JsonbParseState *st = NULL;
		JsonbValue *r;

		/* pushing a binary value as an array element unpacks it */
		pushJsonbValue(&st, WJB_BEGIN_ARRAY, NULL);
		pushJsonbValue(&st, WJB_ELEM, (JsonbValue *) v);
		r = pushJsonbValue(&st, WJB_END_ARRAY, NULL);
		return JsonbValueToJsonb(r->val.array.elems);
	}
	return JsonbValueToJsonb((JsonbValue *) v);
}

/* Push an array of normalized properties. */
static void
put_properties(JsonbParseState **st, const char *key, const SpecProperty *props, int n)
{
	put_key(st, key);
	pushJsonbValue(st, WJB_BEGIN_ARRAY, NULL);
	for (int i = 0; i < n; i++)
	{
		const SpecProperty *p = &props[i];

		pushJsonbValue(st, WJB_BEGIN_OBJECT, NULL);
		put_text(st, "name", p->name);
		put_int(st, "ordinal", i);
		put_text(st, "type", spec_enum_name(&spec_prop_types, p->type));
		put_bool(st, "required", p->required);
		put_bool(st, "pii", p->pii);
		put_bool(st, "redact", p->redact);
		put_text(st, "redaction", p->redaction == REDACT_NONE ? NULL :
				 spec_enum_name(&spec_redactions, p->redaction));
		put_text(st, "description", p->description);
		pushJsonbValue(st, WJB_END_OBJECT, NULL);
	}
	pushJsonbValue(st, WJB_END_ARRAY, NULL);
}

/* ---------------------------------------------------------------------
 * The parts of a spec
 * ---------------------------------------------------------------------
 */

typedef struct NamedValue
{
	const char *name;
	int			len;
	JsonbValue	value;
} NamedValue;

static int
named_cmp(const void *a, const void *b)
{
	const NamedValue *x = a;
	const NamedValue *y = b;
	int			c = memcmp(x->name, y->name, Min(x->len, y->len));

	if (c != 0)
		return c;
	return (x->len > y->len) - (x->len < y->len);
}

/*
 * Validate an object of property definitions; return them sorted by name
 * (bytes).  The effective redaction: "redaction" as written, else mask for
 * pii, redact, or every property of a sensitive event.
 */
static SpecProperty *
validate_properties(const JsonbValue *obj, const char *path, bool sensitive, int *count)
{
	NamedValue *items;
	SpecProperty *props;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			n = 0;

	sj_expect(obj, "object", path);
	if (sj_count(obj) > SPEC_MAX_PROPERTIES)
		spec_invalid(path, "more than %d properties", SPEC_MAX_PROPERTIES);
	items = palloc(sizeof(NamedValue) * (sj_count(obj) + 1));
	it = JsonbIteratorInit(obj->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			items[n].name = v.val.string.val;
			items[n].len = v.val.string.len;
		}
		else if (tok == WJB_VALUE)
			items[n++].value = v;
	}
	qsort(items, n, sizeof(NamedValue), named_cmp);

	props = palloc0(sizeof(SpecProperty) * (n + 1));
	for (int i = 0; i < n; i++)
	{
		SpecProperty *p = &props[i];
		const JsonbValue *pv = &items[i].value;
		char	   *pp = spec_member(path, items[i].name, items[i].len);
		char	   *type;
		char	   *redaction;

		sj_check_key(items[i].name, items[i].len, pp);
		sj_expect(pv, "object", pp);
		sj_allowed_keys(pv, spec_property_keys, pp);
		p->name = pnstrdup(items[i].name, items[i].len);
		type = sj_opt_text(pv, "type", pp, SPEC_MAX_NAME_CHARS);
		if (type == NULL)
			spec_invalid(sj_path(pp, "type"), "required string is missing");
		p->type = check_enum(&spec_prop_types, type, sj_path(pp, "type"));
		p->pii = sj_opt_bool(pv, "pii", pp, false);
		p->redact = sj_opt_bool(pv, "redact", pp, false);
		redaction = sj_opt_text(pv, "redaction", pp, SPEC_MAX_NAME_CHARS);
		p->redaction_given = redaction != NULL;
		if (redaction != NULL)
			p->redaction = check_enum(&spec_redactions, redaction, sj_path(pp, "redaction"));
		else if (p->pii || p->redact || sensitive)
			p->redaction = REDACT_MASK;
		else
			p->redaction = REDACT_NONE;
		p->required = sj_opt_bool(pv, "required", pp, false);
		p->description = sj_opt_text(pv, "description", pp, SPEC_MAX_TEXT_CHARS);
	}
	*count = n;
	return props;
}

/* A declared property by name, or NULL. */
const SpecProperty *
spec_find_property(const SpecProperty *props, int n, const char *name, int len)
{
	for (int i = 0; i < n; i++)
		if ((int) strlen(props[i].name) == len && memcmp(props[i].name, name, len) == 0)
			return &props[i];
	return NULL;
}

/*
 * Run fn(arg) in a subtransaction and return true, or return false when it
 * raised an error of class 22 (data exception), or also of class 42 with
 * access_errors: how a check asks "would this value pass?" without failing
 * its statement.  Any other error (a cancel, out of memory) is raised again.
 */
bool
spec_try(void (*fn) (void *arg), void *arg, bool access_errors)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	bool		ok = true;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		fn(arg);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		int			category;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
		category = ERRCODE_TO_CATEGORY(edata->sqlerrcode);
		if (category != ERRCODE_DATA_EXCEPTION &&
			!(access_errors && category == ERRCODE_SYNTAX_ERROR_OR_ACCESS_RULE_VIOLATION))
			ReThrowError(edata);
		FlushErrorState();
		ok = false;
	}
	PG_END_TRY();
	return ok;
}

typedef struct IntervalParse
{
	const char *text;
	Datum		result;
} IntervalParse;

static void
interval_parse(void *arg)
{
	IntervalParse *p = arg;

	p->result = DirectFunctionCall3(interval_in, CStringGetDatum(p->text),
									ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
}

/* Parse an interval, or return false when the text is not one. */
static bool
parse_interval(const char *s, Datum *result)
{
	IntervalParse p = {s, (Datum) 0};

	if (!spec_try(interval_parse, &p, false))
		return false;
	*result = p.result;
	return true;
}

/*
 * Why an aggregate's window is refused, or NULL: the anomaly checks' own
 * rule (telemetry._window_problem) with the owner's bound
 * (telemetry._anomaly_max_window()), so registration and every check agree.
 */
static char *
window_problem(Datum interval)
{
	Oid			types[1] = {INTERVALOID};
	Datum		values[1] = {interval};
	char	   *problem = NULL;
	MemoryContext caller = CurrentMemoryContext;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("SELECT telemetry._window_problem($1, telemetry._anomaly_max_window())",
							  1, types, values, NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "telemetry: could not check an anomaly window");
	problem = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	if (problem != NULL)
		problem = MemoryContextStrdup(caller, problem);
	SPI_finish();
	return problem;
}

/* Validate one anomaly threshold of an event; push its normalized form. */
static void
validate_threshold(JsonbParseState **st, const JsonbValue *t, const char *path,
				   const SpecProperty *props, int nprops, bool sensitive)
{
	char	   *metric;
	Numeric		lo;
	Numeric		hi;
	char	   *agg;
	char	   *win;

	sj_expect(t, "object", path);
	sj_allowed_keys(t, spec_threshold_keys, path);
	metric = sj_opt_text(t, "metric", path, SPEC_MAX_NAME_CHARS);
	lo = sj_opt_number(t, "min", path, "-1e300", "1e300", false);
	hi = sj_opt_number(t, "max", path, "-1e300", "1e300", false);
	agg = sj_opt_text(t, "aggregate", path, SPEC_MAX_NAME_CHARS);
	win = sj_opt_text(t, "window", path, SPEC_MAX_WINDOW_CHARS);
	if (lo == NULL && hi == NULL)
		spec_invalid(path, "a threshold needs min, max or both");
	if (lo != NULL && hi != NULL && numeric_compare(lo, hi) > 0)
		spec_invalid(path, "min %s is greater than max %s", sj_short(numeric_text(lo)), sj_short(numeric_text(hi)));
	if (agg != NULL)
		(void) check_enum(&spec_aggregates, agg, sj_path(path, "aggregate"));
	if (agg == NULL && win != NULL)
		spec_invalid(sj_path(path, "window"), "a window needs an aggregate");
	if (agg != NULL)
	{
		Datum		w = (Datum) 0;
		char	   *problem;

		if (win == NULL)
			spec_invalid(sj_path(path, "window"), "required with an aggregate (for example \"5 minutes\")");
		if (!parse_interval(win, &w))
			spec_invalid(sj_path(path, "window"), "invalid interval %s", spec_quote(win, strlen(win)));
		problem = window_problem(w);
		if (problem != NULL)
			spec_invalid(sj_path(path, "window"), "%s", problem);
	}
	if (metric == NULL && (agg == NULL || strcmp(agg, "count") != 0))
		spec_invalid(sj_path(path, "metric"), "required string is missing");
	if (metric != NULL)
	{
		const SpecProperty *p = spec_find_property(props, nprops, metric, strlen(metric));
		char	   *q = spec_quote(metric, strlen(metric));

		if (p == NULL)
			spec_invalid(sj_path(path, "metric"), "property %s is not declared", q);
		if (p->type != PROP_NUMBER)
			spec_invalid(sj_path(path, "metric"), "property %s is a %s, not a number", q,
						 spec_enum_name(&spec_prop_types, p->type));
		if (sensitive)
			spec_invalid(sj_path(path, "metric"), "the event is sensitive, so every property is redacted and cannot be measured");
		if (p->redaction != REDACT_NONE)
			spec_invalid(sj_path(path, "metric"), "property %s is redacted (pii, redact or redaction) and cannot be measured", q);
	}
	pushJsonbValue(st, WJB_BEGIN_OBJECT, NULL);
	put_text(st, "metric", metric);
	put_number(st, "min", lo);
	put_number(st, "max", hi);
	put_text(st, "aggregate", agg);
	put_text(st, "window", win);
	pushJsonbValue(st, WJB_END_OBJECT, NULL);
}

/* Validate one event; fill in ev (its normalized definition included). */
static void
validate_event(SpecEvent *ev, const JsonbValue *evv, const char *ep)
{
	JsonbValue	bsem,
				bret,
				bsmp,
				bad,
				b2;
	JsonbValue *sem;
	JsonbValue *ret;
	JsonbValue *smp;
	JsonbValue *ad;
	JsonbValue *v;
	char	   *privacy;
	char	   *who;
	char	   *why;
	char	   *description;
	char	  **tags;
	int			ntags;
	char	   *policy;
	Numeric		days;
	char	  **conds = NULL;
	int			nconds = 0;
	char	   *by;
	Numeric		rate;
	bool		sensitive;
	JsonbParseState *st = NULL;
	JsonbParseState *tst = NULL;
	JsonbValue *thresholds = NULL;
	char	   *acts[8];		/* each action once */
	int			nacts = 0;
	Numeric		minimum;

	/* semantics */
	sem = sj_get(evv, "semantics", &bsem);
	sj_expect(sem, "object", sj_path(ep, "semantics"));
	sj_allowed_keys(sem, spec_semantics_keys, sj_path(ep, "semantics"));
	if (sj_opt_text(sem, "what", sj_path(ep, "semantics"), SPEC_MAX_TEXT_CHARS) == NULL)
		spec_invalid(sj_path(sj_path(ep, "semantics"), "what"), "required string is missing");

	/* privacy and properties */
	privacy = sj_opt_text(evv, "privacy", ep, SPEC_MAX_NAME_CHARS);
	if (privacy == NULL)
		spec_invalid(sj_path(ep, "privacy"), "required string is missing");
	ev->privacy = check_enum(&spec_privacies, privacy, sj_path(ep, "privacy"));
	sensitive = ev->privacy == PRIVACY_SENSITIVE;
	v = sj_get(evv, "properties", &b2);
	ev->props = validate_properties(v, sj_path(ep, "properties"), sensitive, &ev->nprops);

	who = sj_opt_text(sem, "who", sj_path(ep, "semantics"), SPEC_MAX_TEXT_CHARS);
	why = sj_opt_text(sem, "why", sj_path(ep, "semantics"), SPEC_MAX_TEXT_CHARS);
	tags = opt_text_array(evv, "tags", ep, &ntags);
	description = sj_opt_text(evv, "description", ep, SPEC_MAX_TEXT_CHARS);

	/* retention */
	ret = opt_object(evv, "retention", sj_path(ep, "retention"), &bret);
	sj_allowed_keys(ret, spec_retention_keys, sj_path(ep, "retention"));
	policy = sj_opt_text(ret, "policy", sj_path(ep, "retention"), SPEC_MAX_NAME_CHARS);
	if (policy == NULL)
		policy = "delete";
	(void) check_enum(&spec_policies, policy, sj_path(sj_path(ep, "retention"), "policy"));
	days = sj_opt_number(ret, "days", sj_path(ep, "retention"), "1", "36500", true);

	/* sampling */
	smp = opt_object(evv, "sampling", sj_path(ep, "sampling"), &bsmp);
	sj_allowed_keys(smp, spec_sampling_keys, sj_path(ep, "sampling"));
	conds = opt_text_array(smp, "conditions", sj_path(ep, "sampling"), &nconds);
	for (int i = 0; i < nconds; i++)
	{
		SampleCondition c;
		char	   *cp = sj_index(sj_path(sj_path(ep, "sampling"), "conditions"), i);
		char	   *problem = sample_condition_parse(conds[i], strlen(conds[i]), &c);

		if (problem != NULL)
			spec_invalid(cp, "cannot parse %s: %s", spec_quote(conds[i], strlen(conds[i])), problem);
		problem = sample_condition_check(&c, spec_find_property(ev->props, ev->nprops, c.property, c.proplen),
										 sensitive);
		if (problem != NULL)
			spec_invalid(cp, "%s", problem);
		conds[i] = sample_condition_text(&c);
	}
	ev->conditions = conds;
	ev->nconditions = nconds;
	by = sj_opt_text(smp, "by", sj_path(ep, "sampling"), SPEC_MAX_NAME_CHARS);
	if (by != NULL)
		sj_check_key(by, strlen(by), sj_path(sj_path(ep, "sampling"), "by"));
	rate = sj_opt_number(smp, "rate", sj_path(ep, "sampling"), "0", "1", false);

	/* anomaly detection */
	ad = opt_object(evv, "anomalyDetection", sj_path(ep, "anomalyDetection"), &bad);
	sj_allowed_keys(ad, spec_anomaly_keys, sj_path(ep, "anomalyDetection"));
	pushJsonbValue(&tst, WJB_BEGIN_ARRAY, NULL);
	v = sj_get(ad, "thresholds", &b2);
	if (!sj_absent(v))
	{
		char	   *tp = sj_path(sj_path(ep, "anomalyDetection"), "thresholds");

		sj_expect(v, "array", tp);
		if (sj_count(v) > SPEC_MAX_THRESHOLDS)
			spec_invalid(tp, "more than %d thresholds", SPEC_MAX_THRESHOLDS);
		for (int j = 0; j < sj_count(v); j++)
			validate_threshold(&tst, getIthJsonbValueFromContainer(v->val.binary.data, j),
							   sj_index(tp, j), ev->props, ev->nprops, sensitive);
	}
	thresholds = pushJsonbValue(&tst, WJB_END_ARRAY, NULL);
	v = sj_get(ad, "actions", &b2);
	if (!sj_absent(v))
	{
		char	   *apath = sj_path(sj_path(ep, "anomalyDetection"), "actions");

		sj_expect(v, "array", apath);
		for (int j = 0; j < sj_count(v); j++)
		{
			JsonbValue *a = getIthJsonbValueFromContainer(v->val.binary.data, j);
			char	   *name;
			bool		seen = false;

			sj_expect(a, "string", sj_index(apath, j));
			name = sj_text(a);
			(void) check_enum(&spec_actions, name, sj_index(apath, j));
			for (int k = 0; k < nacts; k++)
				seen |= strcmp(acts[k], name) == 0;
			if (!seen)
				acts[nacts++] = name;
		}
	}
	ev->anomaly_enabled = sj_opt_bool(ad, "enabled", sj_path(ep, "anomalyDetection"), true) &&
		ad != NULL && sj_count(ad) > 0;
	minimum = sj_opt_number(ad, "minimumSample", sj_path(ep, "anomalyDetection"), "1", "2147483647", true);
	if (minimum == NULL)
		minimum = numeric_from("1");
	if (ev->anomaly_enabled && thresholds->val.array.nElems == 0)
		spec_invalid(sj_path(sj_path(ep, "anomalyDetection"), "thresholds"),
					 "enabled anomaly detection needs at least one threshold");

	/* the normalized definition */
	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	put_text(&st, "key", ev->key);
	put_text(&st, "version", ev->version);
	put_text(&st, "privacy", privacy);
	{
		JsonbValue	wb;
		JsonbValue *w = sj_get(sem, "what", &wb);

		put_key(&st, "what");
		pushJsonbValue(&st, WJB_VALUE, w);
	}
	put_text(&st, "who", who);
	put_text(&st, "why", why);
	put_text_array(&st, "tags", tags, ntags);
	put_text(&st, "description", description);
	put_properties(&st, "properties", ev->props, ev->nprops);
	put_number(&st, "retentionDays", days);
	put_text(&st, "retentionPolicy", policy);
	put_number(&st, "samplingRate", rate);
	put_text(&st, "samplingBy", by);
	if (nconds > 0)
		put_text_array(&st, "samplingConditions", conds, nconds);
	put_bool(&st, "anomalyEnabled", ev->anomaly_enabled);
	put_number(&st, "minimumSample", minimum);
	put_key(&st, "thresholds");
	pushJsonbValue(&st, WJB_BEGIN_ARRAY, NULL);
	for (int j = 0; j < thresholds->val.array.nElems; j++)
	{
		JsonbValue *t = &thresholds->val.array.elems[j];

		/* each threshold is an in-memory object: push its pairs */
		pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
		for (int k = 0; k < t->val.object.nPairs; k++)
		{
			pushJsonbValue(&st, WJB_KEY, &t->val.object.pairs[k].key);
			pushJsonbValue(&st, WJB_VALUE, &t->val.object.pairs[k].value);
		}
		pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	}
	pushJsonbValue(&st, WJB_END_ARRAY, NULL);
	put_text_array(&st, "actions", acts, nacts);
	ev->definition = JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL));
}

/* The length of a string as escape_json() writes it, quotes included. */
static Size
escaped_length(const char *s, int len)
{
	Size		n = 2;

	for (int i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t' || c == '"' || c == '\\')
			n += 2;
		else if (c < ' ')
			n += 6;
		else
			n += 1;
	}
	return n;
}

/* The length of a scalar as JsonbToCString() writes it. */
static Size
scalar_length(const JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			return 4;
		case jbvBool:
			return v->val.boolean ? 4 : 5;
		case jbvString:
			return escaped_length(v->val.string.val, v->val.string.len);
		case jbvNumeric:
			{
				char	   *t = numeric_text(v->val.numeric);
				Size		n = strlen(t);

				pfree(t);
				return n;
			}
		default:
			return 0;
	}
}

/*
 * The length of a jsonb document as JSON text (as JsonbToCString() writes
 * it, ", " and ": " separators), without writing it: the spec size limit
 * is on that text.
 */
static Size
jsonb_text_length(JsonbContainer *root)
{
	JsonbIterator *it = JsonbIteratorInit(root);
	JsonbValue	v;
	JsonbIteratorToken tok;
	Size		n = 0;
	int			depth = 0;
	int			size = 32;
	bool	   *first = palloc(sizeof(bool) * size);
	bool		raw = false;

	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		switch (tok)
		{
			case WJB_BEGIN_ARRAY:
			case WJB_BEGIN_OBJECT:
				if (depth > 0 && !first[depth - 1])
					n += 2;
				if (depth > 0)
					first[depth - 1] = false;
				if (tok == WJB_BEGIN_ARRAY && v.val.array.rawScalar)
					raw = true;
				else
					n += 1;
				if (depth + 1 >= size)
					first = repalloc(first, sizeof(bool) * (size *= 2));
				first[depth++] = true;
				break;
			case WJB_END_ARRAY:
			case WJB_END_OBJECT:
				depth--;
				if (!(tok == WJB_END_ARRAY && raw && depth == 0))
					n += 1;
				break;
			case WJB_KEY:
				if (!first[depth - 1])
					n += 2;
				first[depth - 1] = false;
				n += escaped_length(v.val.string.val, v.val.string.len) + 2;
				/* the value follows the key: no separator before it */
				first[depth - 1] = true;
				break;
			case WJB_VALUE:
				n += scalar_length(&v);
				first[depth - 1] = false;
				break;
			case WJB_ELEM:
				if (!first[depth - 1])
					n += 2;
				first[depth - 1] = false;
				n += scalar_length(&v);
				break;
			default:
				break;
		}
	}
	pfree(first);
	return n;
}

/* The root of a jsonb datum as a value (a scalar root unwrapped). */
static void
root_value(Jsonb *jb, JsonbValue *v)
{
	if (JB_ROOT_IS_SCALAR(jb))
	{
		if (!JsonbExtractScalar(&jb->root, v))
			elog(ERROR, "telemetry: could not read a scalar document");
		return;
	}
	v->type = jbvBinary;
	v->val.binary.data = &jb->root;
	v->val.binary.len = VARSIZE(jb) - VARHDRSZ;
}

/*
 * Routing: each name an event's "providers" lists must be a provider of
 * this spec (named as in the catalog: its name, else its type), else 22023
 * at the path of the name.
 */
static void
check_routes(SpecDoc *doc)
{
	for (int i = 0; i < doc->nevents; i++)
	{
		SpecEvent  *ev = &doc->events[i];

		for (int j = 0; ev->routes != NULL && j < ev->nroutes; j++)
		{
			bool		found = false;

			for (int k = 0; k < doc->nproviders && !found; k++)
				found = strcmp(doc->providers[k].ename, ev->routes[j]) == 0;
			if (!found)
				spec_invalid(sj_index(sj_path(ev->path, "providers"), j),
							 "provider %s is not one of this spec's providers (config.providers)",
							 spec_quote(ev->routes[j], strlen(ev->routes[j])));
		}
	}
}

/*
 * The events' routing in the normalized spec, {"key@version": [names]},
 * only when an event has one (the normalized form of a spec without
 * routing stays what it was).  Part of the spec version, not of the event
 * definitions: another spec version may route the same event otherwise.
 */
static void
put_routing(JsonbParseState **st, SpecDoc *doc)
{
	bool		any = false;

	for (int i = 0; i < doc->nevents; i++)
		any |= doc->events[i].routes != NULL;
	if (!any)
		return;
	put_key(st, "routing");
	pushJsonbValue(st, WJB_BEGIN_OBJECT, NULL);
	for (int i = 0; i < doc->nevents; i++)
	{
		SpecEvent  *ev = &doc->events[i];

		if (ev->routes == NULL)
			continue;
		put_key(st, psprintf("%s@%s", ev->key, ev->version));
		pushJsonbValue(st, WJB_BEGIN_ARRAY, NULL);
		for (int j = 0; j < ev->nroutes; j++)
			put_text(st, NULL, ev->routes[j]);
		pushJsonbValue(st, WJB_END_ARRAY, NULL);
	}
	pushJsonbValue(st, WJB_END_OBJECT, NULL);
}

/*
 * Validate a whole spec document; return it checked and normalized.  With
 * SPEC_CHECK_POLICY the providers' secrets, environment variables and
 * destinations are checked too (42501), as registration does.
 */
SpecDoc *
spec_validate(Jsonb *spec, SpecCheckLevel level)
{
	SpecDoc    *doc = palloc0(sizeof(SpecDoc));
	JsonbValue	root;
	JsonbValue	b1,
				b2;
	JsonbValue *meta;
	JsonbValue *cfg;
	JsonbValue *v;
	JsonbValue *events;
	char	   *title;
	char	   *description;
	char	   *domain;
	char	  **owners;
	int			nowners;
	char	  **tags;
	int			ntags;
	char	   *stability;
	Numeric		retention;
	Numeric		rate;
	Numeric		interval;
	JsonbParseState *st = NULL;
	HTAB	   *seen;
	HASHCTL		ctl;
	MemoryContext scratch;

	if (spec == NULL)
		spec_invalid("spec", "must not be null");
	root_value(spec, &root);
	sj_expect(&root, "object", "spec");
	{
		/* the limit is on the document as JSON text */
		Size		len = jsonb_text_length(&spec->root);

		if (len > SPEC_MAX_BYTES)
			spec_invalid("spec", "larger than 1 MB (%zu bytes)", len);
	}
	sj_allowed_keys(&root, spec_top_keys, "spec");

	/* meta */
	meta = sj_get(&root, "meta", &b1);
	sj_expect(meta, "object", "meta");
	sj_allowed_keys(meta, spec_meta_keys, "meta");
	doc->key = key_or_name(meta, "meta");
	doc->version = check_version(sj_get(meta, "version", &b2), "meta.version");
	title = sj_opt_text(meta, "title", "meta", SPEC_MAX_NAME_CHARS);
	description = sj_opt_text(meta, "description", "meta", SPEC_MAX_TEXT_CHARS);
	domain = sj_opt_text(meta, "domain", "meta", SPEC_MAX_NAME_CHARS);
	owners = opt_text_array(meta, "owners", "meta", &nowners);
	tags = opt_text_array(meta, "tags", "meta", &ntags);
	stability = sj_opt_text(meta, "stability", "meta", SPEC_MAX_NAME_CHARS);
	doc->stability = stability ? check_enum(&spec_stabilities, stability, "meta.stability") : -1;

	/* config */
	cfg = opt_object(&root, "config", "config", &b1);
	sj_allowed_keys(cfg, spec_config_keys, "config");
	retention = sj_opt_number(cfg, "defaultRetentionDays", "config", "1", "36500", true);
	rate = sj_opt_number(cfg, "defaultSamplingRate", "config", "0", "1", false);
	v = sj_get(cfg, "providers", &b2);
	if (!sj_absent(v))
	{
		sj_expect(v, "array", "config.providers");
		if (sj_count(v) > SPEC_MAX_PROVIDERS)
			spec_invalid("config.providers", "more than %d providers", SPEC_MAX_PROVIDERS);
		doc->nproviders = sj_count(v);
		doc->providers = palloc0(sizeof(SpecProvider) * (doc->nproviders + 1));
		for (int i = 0; i < doc->nproviders; i++)
			spec_validate_provider(&doc->providers[i], getIthJsonbValueFromContainer(v->val.binary.data, i),
								   sj_index("config.providers", i), level);
	}
	{
		JsonbValue	b3;
		JsonbValue *ad = opt_object(cfg, "anomalyDetection", "config.anomalyDetection", &b3);

		sj_allowed_keys(ad, spec_config_anomaly_keys, "config.anomalyDetection");
		doc->anomaly_enabled = sj_opt_bool(ad, "enabled", "config.anomalyDetection", true);
		interval = sj_opt_number(ad, "checkIntervalMs", "config.anomalyDetection", "100", "86400000", true);
	}
	v = sj_get(cfg, "context", &b2);
	if (!sj_absent(v))
		doc->context = validate_properties(v, "config.context", false, &doc->ncontext);

	/* events */
	events = sj_get(&root, "events", &b1);
	sj_expect(events, "array", "events");
	if (sj_count(events) == 0)
		spec_invalid("events", "a spec needs at least one event");
	if (sj_count(events) > SPEC_MAX_EVENTS)
		spec_invalid("events", "more than %d events", SPEC_MAX_EVENTS);
	doc->nevents = sj_count(events);
	doc->events = palloc0(sizeof(SpecEvent) * doc->nevents);
	scratch = AllocSetContextCreate(CurrentMemoryContext, "telemetry spec event", ALLOCSET_DEFAULT_SIZES);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = 2 * (SPEC_MAX_KEY_CHARS * MAX_MULTIBYTE_CHAR_LEN) + 2;
	ctl.entrysize = ctl.keysize;
	ctl.hcxt = CurrentMemoryContext;
	seen = hash_create("telemetry spec events", doc->nevents, &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	for (int i = 0; i < doc->nevents; i++)
	{
		SpecEvent  *ev = &doc->events[i];
		SpecEvent	work = {0};
		JsonbValue *evv;
		char	   *ep;
		char	   *kv;
		bool		found;
		MemoryContext parent = MemoryContextSwitchTo(scratch);

		/*
		 * Each event is checked in a context reset after it: only its
		 * normalized definition and identity are kept, so a large spec
		 * reuses the same memory instead of touching new pages.
		 */
		evv = getIthJsonbValueFromContainer(events->val.binary.data, i);
		ep = sj_index("events", i);
		sj_expect(evv, "object", ep);
		sj_allowed_keys(evv, spec_event_keys, ep);
		work.path = ep;
		work.key = key_or_name(evv, ep);
		work.version = check_version(sj_get(evv, "version", &b2), sj_path(ep, "version"));
		kv = psprintf("%s@%s", work.key, work.version);
		(void) hash_search(seen, kv, HASH_ENTER, &found);
		if (found)
			spec_invalid(ep, "event %s is defined twice in this spec", spec_quote(kv, strlen(kv)));
		validate_event(&work, evv, ep);
		work.routes = opt_text_array(evv, "providers", ep, &work.nroutes);

		MemoryContextSwitchTo(parent);
		ev->path = pstrdup(work.path);
		ev->key = pstrdup(work.key);
		ev->version = pstrdup(work.version);
		ev->privacy = work.privacy;
		ev->anomaly_enabled = work.anomaly_enabled;
		ev->nprops = work.nprops;
		ev->props = palloc(sizeof(SpecProperty) * (work.nprops + 1));
		for (int j = 0; j < work.nprops; j++)
		{
			ev->props[j] = work.props[j];
			ev->props[j].name = pstrdup(work.props[j].name);
			if (work.props[j].description)
				ev->props[j].description = pstrdup(work.props[j].description);
		}
		ev->definition = palloc(VARSIZE(work.definition));
		memcpy(ev->definition, work.definition, VARSIZE(work.definition));
		ev->nroutes = work.nroutes;
		ev->routes = NULL;
		if (work.routes != NULL)
		{
			ev->routes = palloc(sizeof(char *) * (work.nroutes + 1));
			for (int j = 0; j < work.nroutes; j++)
				ev->routes[j] = pstrdup(work.routes[j]);
		}
		MemoryContextReset(scratch);
	}
	MemoryContextDelete(scratch);
	hash_destroy(seen);
	spec_name_providers(doc);
	check_routes(doc);

	/* the normalized spec */
	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	put_text(&st, "key", doc->key);
	put_text(&st, "version", doc->version);
	put_text(&st, "title", title);
	put_text(&st, "description", description);
	put_text(&st, "domain", domain);
	put_text_array(&st, "owners", owners, nowners);
	put_text_array(&st, "tags", tags, ntags);
	put_text(&st, "stability", stability);
	put_number(&st, "defaultRetentionDays", retention);
	put_number(&st, "defaultSamplingRate", rate);
	put_bool(&st, "anomalyEnabled", doc->anomaly_enabled);
	put_number(&st, "checkIntervalMs", interval);
	put_key(&st, "providers");
	pushJsonbValue(&st, WJB_BEGIN_ARRAY, NULL);
	for (int i = 0; i < doc->nproviders; i++)
	{
		SpecProvider *p = &doc->providers[i];
		JsonbValue	cv;

		pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
		put_text(&st, "type", p->type);
		put_text(&st, "name", p->name);
		put_key(&st, "config");
		root_value(p->config, &cv);
		pushJsonbValue(&st, WJB_VALUE, &cv);
		/* only when off, so specs without it keep their normalized form */
		if (!p->alerts)
			put_bool(&st, "alerts", false);
		pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	}
	pushJsonbValue(&st, WJB_END_ARRAY, NULL);
	put_properties(&st, "context", doc->context, doc->ncontext);
	put_routing(&st, doc);
	doc->normalized = JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL));
	return doc;
}

/*
 * The whole normalized spec: its own fields (doc->normalized) with
 * "events", the array of the events' normalized definitions.
 */
Jsonb *
spec_normalized_full(SpecDoc *doc)
{
	JsonbParseState *st = NULL;
	JsonbIterator *it = JsonbIteratorInit(&doc->normalized->root);
	JsonbValue	v;
	JsonbIteratorToken tok;
	JsonbValue *result = NULL;

	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_END_OBJECT)
		{
			put_key(&st, "events");
			pushJsonbValue(&st, WJB_BEGIN_ARRAY, NULL);
			for (int i = 0; i < doc->nevents; i++)
			{
				JsonbValue	ev;

				root_value(doc->events[i].definition, &ev);
				pushJsonbValue(&st, WJB_ELEM, &ev);
			}
			pushJsonbValue(&st, WJB_END_ARRAY, NULL);
			result = pushJsonbValue(&st, WJB_END_OBJECT, NULL);
		}
		else
			pushJsonbValue(&st, tok, tok < WJB_BEGIN_ARRAY ? &v : NULL);
	}
	return JsonbValueToJsonb(result);
}

/*
 * SQL: telemetry._validate_spec(spec jsonb) RETURNS jsonb
 *
 * A spec document checked and normalized, as registration compares it (the
 * policy checks on secrets, environment variables and destinations are
 * registration's, and are not made here).
 */
Datum
telemetry_validate_spec(PG_FUNCTION_ARGS)
{
	SpecDoc    *doc = spec_validate(PG_ARGISNULL(0) ? NULL : PG_GETARG_JSONB_P(0), SPEC_CHECK_DOCUMENT);

	PG_RETURN_JSONB_P(spec_normalized_full(doc));
}
