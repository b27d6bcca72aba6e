/*
 * spec_diff.c
 *		What changed between two specs or two versions of an event, and
 *		which changes break the event's contract.
 *
 * Within one major version, a newer version of an event must be backward
 * compatible with the older ones (registration refuses it otherwise, with
 * SQLSTATE 22023 naming the change).  Breaking, for producers and readers
 * of the older version:
 *	- a property removed, or its type changed;
 *	- a property becoming required (also a new property that is required);
 *	- a redaction weakened: drop > mask > hash > none (a hash keeps equal
 *	  values linkable, a mask keeps only the value's presence and JSON type,
 *	  a drop keeps nothing);
 *	- the privacy level lowered: public < internal < pii < sensitive.
 * Everything else (new optional properties, a required property becoming
 * optional, stronger redaction, higher privacy, texts, retention, sampling,
 * anomaly rules) is compatible.
 *
 * The same comparisons give telemetry_spec_diff() its rows, and the first
 * differing JSON path of two definitions registered under one key@version.
 * Paths are those of a spec document ("events[0].properties.ms.type",
 * "meta.title"), never values of provider configs.
 */
#include "telemetry.h"
#include "spec_diff.h"
#include "spec_validate.h"
#include "event_check.h"

#include "funcapi.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/numeric.h"

PG_FUNCTION_INFO_V1(telemetry_spec_diff);

/*
 * Normalized keys of an event definition and where they are in a document,
 * in the order of a document (differences are reported in this order).
 */
static const char *const event_paths[][2] = {
	{"key", "key"}, {"version", "version"},
	{"what", "semantics.what"}, {"who", "semantics.who"}, {"why", "semantics.why"},
	{"privacy", "privacy"}, {"properties", "properties"},
	{"retentionDays", "retention.days"}, {"retentionPolicy", "retention.policy"},
	{"samplingRate", "sampling.rate"}, {"samplingConditions", "sampling.conditions"},
	{"samplingBy", "sampling.by"},
	{"anomalyEnabled", "anomalyDetection.enabled"},
	{"minimumSample", "anomalyDetection.minimumSample"},
	{"thresholds", "anomalyDetection.thresholds"}, {"actions", "anomalyDetection.actions"},
	{"tags", "tags"}, {"description", "description"},
	{NULL, NULL}
};

/* Normalized keys of a spec and where they are in a document, in its order. */
static const char *const spec_paths[][2] = {
	{"key", "meta.key"}, {"version", "meta.version"}, {"title", "meta.title"},
	{"description", "meta.description"}, {"domain", "meta.domain"}, {"owners", "meta.owners"},
	{"tags", "meta.tags"}, {"stability", "meta.stability"},
	{"defaultRetentionDays", "config.defaultRetentionDays"},
	{"defaultSamplingRate", "config.defaultSamplingRate"},
	{"context", "config.context"}, {"providers", "config.providers"},
	{"anomalyEnabled", "config.anomalyDetection.enabled"},
	{"checkIntervalMs", "config.anomalyDetection.checkIntervalMs"},
	{"events", "events"},
	{NULL, NULL}
};

typedef enum Shape
{
	SHAPE_PLAIN,
	SHAPE_SPEC,
	SHAPE_EVENT,
	SHAPE_EVENTS,
	SHAPE_PROPERTIES
} Shape;

/* ---------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------
 */

static JsonbValue
root_of(Jsonb *j)
{
	JsonbValue	v;

	v.type = jbvBinary;
	v.val.binary.data = &j->root;
	v.val.binary.len = VARSIZE(j) - VARHDRSZ;
	return v;
}

static char *
join(const char *prefix, const char *suffix)
{
	if (prefix == NULL || prefix[0] == '\0')
		return pstrdup(suffix);
	return psprintf("%s.%s", prefix, suffix);
}

static const char *
mapped(const char *const map[][2], const char *key, int len)
{
	for (int i = 0; map[i][0] != NULL; i++)
		if ((int) strlen(map[i][0]) == len && memcmp(map[i][0], key, len) == 0)
			return map[i][1];
	return NULL;
}

static void
add_change(List **out, char *path, bool breaking, const char *fmt,...) pg_attribute_printf(4, 5);

static void
add_change(List **out, char *path, bool breaking, const char *fmt,...)
{
	SpecChange *c = palloc(sizeof(SpecChange));
	va_list		args;

	va_start(args, fmt);
	c->change = telemetry_vformat(fmt, args);
	va_end(args);
	c->path = path;
	c->breaking = breaking;
	*out = lappend(*out, c);
}

/* Whether two JSON values are equal. */
static bool
jv_equal(const JsonbValue *a, const JsonbValue *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	if (a->type != b->type)
		return false;
	switch (a->type)
	{
		case jbvNull:
			return true;
		case jbvBool:
			return a->val.boolean == b->val.boolean;
		case jbvString:
			return a->val.string.len == b->val.string.len &&
				memcmp(a->val.string.val, b->val.string.val, a->val.string.len) == 0;
		case jbvNumeric:
			return DatumGetBool(DirectFunctionCall2(numeric_eq, NumericGetDatum(a->val.numeric),
													NumericGetDatum(b->val.numeric)));
		case jbvBinary:
			if (JsonContainerIsObject(a->val.binary.data) != JsonContainerIsObject(b->val.binary.data))
				return false;
			return compareJsonbContainers(a->val.binary.data, b->val.binary.data) == 0;
		default:
			return false;
	}
}

/*
 * A short, readable form of a value for a change's text (never used for
 * provider configs, which may hold secrets).
 */
static char *
shown(const JsonbValue *v)
{
	Jsonb	   *j = sj_to_jsonb(v);

	return sj_short(JsonbToCString(NULL, &j->root, VARSIZE(j)));
}

/* A key or name inside a jsonb value (not copied). */
typedef struct KeyPair
{
	const char *key;
	int			len;
} KeyPair;

static int
keypair_cmp(const void *x, const void *y)
{
	const KeyPair *a = x;
	const KeyPair *b = y;
	int			c = memcmp(a->key, b->key, Min(a->len, b->len));

	return c != 0 ? c : (a->len > b->len) - (a->len < b->len);
}

/* Sort keys[0..n) in byte order and drop repeats; returns how many remain. */
static int
sort_unique(KeyPair *keys, int n)
{
	int			out = 0;

	qsort(keys, n, sizeof(KeyPair), keypair_cmp);
	for (int i = 0; i < n; i++)
		if (out == 0 || keypair_cmp(&keys[out - 1], &keys[i]) != 0)
			keys[out++] = keys[i];
	return out;
}

/* The keys of two objects, merged, in byte order (each once). */
static KeyPair *
merged_keys(const JsonbValue *a, const JsonbValue *b, int *n)
{
	KeyPair    *keys = palloc(sizeof(KeyPair) * (sj_count(a) + sj_count(b) + 1));
	int			count = 0;
	const JsonbValue *both[2] = {a, b};

	for (int s = 0; s < 2; s++)
	{
		JsonbIterator *it;
		JsonbValue	v;
		JsonbIteratorToken tok;

		if (both[s] == NULL || !sj_is(both[s], "object"))
			continue;
		it = JsonbIteratorInit(both[s]->val.binary.data);
		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
			if (tok == WJB_KEY)
			{
				keys[count].key = v.val.string.val;
				keys[count++].len = v.val.string.len;
			}
	}
	*n = sort_unique(keys, count);
	return keys;
}

/* Put the keys listed in map first, in its order, then the others. */
static void
ordered_keys(const char *const map[][2], KeyPair *keys, int n)
{
	KeyPair    *sorted = palloc(sizeof(KeyPair) * (n + 1));
	bool	   *used = palloc0(sizeof(bool) * (n + 1));
	int			out = 0;

	for (int m = 0; map[m][0] != NULL; m++)
		for (int i = 0; i < n; i++)
			if (!used[i] && (int) strlen(map[m][0]) == keys[i].len &&
				memcmp(map[m][0], keys[i].key, keys[i].len) == 0)
			{
				sorted[out++] = keys[i];
				used[i] = true;
			}
	for (int i = 0; i < n; i++)
		if (!used[i])
			sorted[out++] = keys[i];
	memcpy(keys, sorted, sizeof(KeyPair) * n);
}

static JsonbValue *
member(const JsonbValue *obj, const char *key, int len)
{
	if (obj == NULL || !sj_is(obj, "object"))
		return NULL;
	return getKeyJsonValueFromContainer(obj->val.binary.data, key, len, NULL);
}

static JsonbValue *
element(const JsonbValue *arr, int i)
{
	if (arr == NULL || !sj_is(arr, "array") || i >= sj_count(arr))
		return NULL;
	return getIthJsonbValueFromContainer(arr->val.binary.data, i);
}

/* A property of a normalized list by name. */
static JsonbValue *
property_named(const JsonbValue *list, const char *name, int len)
{
	for (int i = 0; i < sj_count(list); i++)
	{
		JsonbValue *p = element(list, i);
		JsonbValue *n = member(p, "name", 4);

		if (n && n->type == jbvString && n->val.string.len == len &&
			memcmp(n->val.string.val, name, len) == 0)
			return p;
	}
	return NULL;
}

/*
 * The names of two normalized property lists, merged, in byte order (each
 * once): the diff and the compatibility check both walk properties by name,
 * whichever list has them.
 */
static KeyPair *
merged_names(const JsonbValue *a, const JsonbValue *b, int *count)
{
	KeyPair    *names = palloc(sizeof(KeyPair) * (sj_count(a) + sj_count(b) + 1));
	int			n = 0;
	const JsonbValue *both[2] = {a, b};

	for (int s = 0; s < 2; s++)
		for (int i = 0; i < sj_count(both[s]); i++)
		{
			JsonbValue *nm = member(element(both[s], i), "name", 4);

			if (nm && nm->type == jbvString)
			{
				names[n].key = nm->val.string.val;
				names[n++].len = nm->val.string.len;
			}
		}
	*count = sort_unique(names, n);
	return names;
}

/* ---------------------------------------------------------------------
 * Differences of any two normalized values
 * ---------------------------------------------------------------------
 */

static void walk(const JsonbValue *a, const JsonbValue *b, const char *path, Shape shape,
				 List **out, int *limit);

/* Property lists, matched by name. */
static void
walk_properties(const JsonbValue *a, const JsonbValue *b, const char *path, List **out, int *limit)
{
	int			u;
	KeyPair    *names = merged_names(a, b, &u);

	for (int i = 0; i < u && *limit > 0; i++)
	{
		JsonbValue *pa = property_named(a, names[i].key, names[i].len);
		JsonbValue *pb = property_named(b, names[i].key, names[i].len);
		char	   *pp = spec_member(path, names[i].key, names[i].len);

		if (pa == NULL || pb == NULL)
		{
			add_change(out, pp, false, pa == NULL ? "added" : "removed");
			(*limit)--;
			continue;
		}
		{
			int			nk;
			KeyPair    *keys = merged_keys(pa, pb, &nk);

			for (int k = 0; k < nk && *limit > 0; k++)
			{
				if (keys[k].len == 7 && memcmp(keys[k].key, "ordinal", 7) == 0)
					continue;	/* follows from the names */
				walk(member(pa, keys[k].key, keys[k].len), member(pb, keys[k].key, keys[k].len),
					 join(pp, pnstrdup(keys[k].key, keys[k].len)), SHAPE_PLAIN, out, limit);
			}
		}
	}
}

/*
 * Append the differences between a and b under path (at most *limit).
 * The shape tells how normalized keys map to document paths.
 */
static void
walk(const JsonbValue *a, const JsonbValue *b, const char *path, Shape shape,
	 List **out, int *limit)
{
	if (*limit <= 0 || jv_equal(a, b))
		return;
	if (shape == SHAPE_PROPERTIES)
	{
		walk_properties(a, b, path, out, limit);
		return;
	}
	if (a != NULL && b != NULL && sj_is(a, "object") && sj_is(b, "object"))
	{
		int			n;
		KeyPair    *keys = merged_keys(a, b, &n);

		/* a spec's or an event's keys in document order */
		if (shape == SHAPE_SPEC || shape == SHAPE_EVENT)
			ordered_keys(shape == SHAPE_SPEC ? spec_paths : event_paths, keys, n);

		for (int i = 0; i < n && *limit > 0; i++)
		{
			const char *m = NULL;
			Shape		child = SHAPE_PLAIN;
			char	   *k = pnstrdup(keys[i].key, keys[i].len);

			if (shape == SHAPE_SPEC)
				m = mapped(spec_paths, keys[i].key, keys[i].len);
			else if (shape == SHAPE_EVENT)
				m = mapped(event_paths, keys[i].key, keys[i].len);
			if (shape == SHAPE_SPEC && strcmp(k, "events") == 0)
				child = SHAPE_EVENTS;
			else if ((shape == SHAPE_SPEC && strcmp(k, "context") == 0) ||
					 (shape == SHAPE_EVENT && strcmp(k, "properties") == 0))
				child = SHAPE_PROPERTIES;
			walk(member(a, keys[i].key, keys[i].len), member(b, keys[i].key, keys[i].len),
				 m ? join(path, m) : spec_member(path[0] ? path : "", k, strlen(k)) + (path[0] ? 0 : 1),
				 child, out, limit);
		}
		return;
	}
	if (a != NULL && b != NULL && sj_is(a, "array") && sj_is(b, "array"))
	{
		int			n = Max(sj_count(a), sj_count(b));

		for (int i = 0; i < n && *limit > 0; i++)
		{
			JsonbValue *ea = element(a, i);
			JsonbValue *eb = element(b, i);

			if (ea == NULL || eb == NULL)
			{
				add_change(out, sj_index(path, i), false, ea == NULL ? "added" : "removed");
				(*limit)--;
			}
			else
				walk(ea, eb, sj_index(path, i), shape == SHAPE_EVENTS ? SHAPE_EVENT : SHAPE_PLAIN,
					 out, limit);
		}
		return;
	}
	if (a == NULL)
		add_change(out, pstrdup(path), false, "set to %s", shown(b));
	else if (b == NULL)
		add_change(out, pstrdup(path), false, "removed (was %s)", shown(a));
	else
		add_change(out, pstrdup(path), false, "changed from %s to %s", shown(a), shown(b));
	(*limit)--;
}

/*
 * The first JSON path at which two normalized definitions (event) or specs
 * differ, in document terms ("properties.ms.required", "meta.title"); NULL
 * when they are equal.
 */
char *
spec_first_difference(Jsonb *a, Jsonb *b, bool event)
{
	JsonbValue	ra = root_of(a);
	JsonbValue	rb = root_of(b);
	List	   *out = NIL;
	int			limit = 1;

	walk(&ra, &rb, "", event ? SHAPE_EVENT : SHAPE_SPEC, &out, &limit);
	if (out == NIL)
		return NULL;
	return ((SpecChange *) linitial(out))->path;
}

/*
 * The first path at which two validated specs differ (their own fields,
 * then their events in order), or NULL when they are the same spec.
 */
char *
spec_doc_first_difference(SpecDoc *a, SpecDoc *b)
{
	char	   *first = spec_first_difference(a->normalized, b->normalized, false);

	if (first != NULL)
		return first;
	for (int i = 0; i < Min(a->nevents, b->nevents); i++)
	{
		first = spec_first_difference(a->events[i].definition, b->events[i].definition, true);
		if (first != NULL)
			return psprintf("events[%d].%s", i, first);
	}
	if (a->nevents != b->nevents)
		return psprintf("events[%d]", Min(a->nevents, b->nevents));
	return NULL;
}

/* ---------------------------------------------------------------------
 * Compatibility of event versions
 * ---------------------------------------------------------------------
 */

/* A value of the vocabulary in a stored definition; the catalog must hold only those. */
static int
stored_enum(const JsonbValue *obj, const char *key, const SpecEnum *e, bool nullable)
{
	JsonbValue *v = member(obj, key, strlen(key));
	int			value;

	if (nullable && (v == NULL || v->type == jbvNull))
		return -1;
	if (v == NULL || v->type != jbvString ||
		(value = spec_enum_parse(e, v->val.string.val, v->val.string.len)) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("telemetry catalog: a stored event definition has an invalid %s \"%s\"",
						e->what, v && v->type == jbvString ? sj_short(sj_text(v)) : sj_type(v))));
	return value;
}

static bool
stored_bool(const JsonbValue *obj, const char *key)
{
	JsonbValue *v = member(obj, key, strlen(key));

	return v != NULL && v->type == jbvBool && v->val.boolean;
}

static const char *
redaction_name(int r)
{
	return r == REDACT_NONE ? "none" : spec_enum_name(&spec_redactions, r);
}

/*
 * Changes between two property lists (an event's, or a spec's context),
 * with the compatibility rules.  path is where the newer list is.
 */
static void
property_changes(const JsonbValue *a, const JsonbValue *b, const char *path, List **out)
{
	int			u;
	KeyPair    *names = merged_names(a, b, &u);

	for (int i = 0; i < u; i++)
	{
		JsonbValue *pa = property_named(a, names[i].key, names[i].len);
		JsonbValue *pb = property_named(b, names[i].key, names[i].len);
		char	   *pp = spec_member(path, names[i].key, names[i].len);
		char	   *q = spec_quote(names[i].key, names[i].len);
		int			ta,
					tb,
					ra,
					rb;

		if (pb == NULL)
		{
			add_change(out, pp, true, "property %s removed", q);
			continue;
		}
		if (pa == NULL)
		{
			if (stored_bool(pb, "required"))
				add_change(out, join(pp, "required"), true, "property %s added as required", q);
			else
				add_change(out, pp, false, "property %s added", q);
			continue;
		}
		ta = stored_enum(pa, "type", &spec_prop_types, false);
		tb = stored_enum(pb, "type", &spec_prop_types, false);
		if (ta != tb)
			add_change(out, join(pp, "type"), true, "property %s changed type from %s to %s", q,
					   spec_enum_name(&spec_prop_types, ta), spec_enum_name(&spec_prop_types, tb));
		if (!stored_bool(pa, "required") && stored_bool(pb, "required"))
			add_change(out, join(pp, "required"), true, "property %s became required", q);
		else if (stored_bool(pa, "required") && !stored_bool(pb, "required"))
			add_change(out, join(pp, "required"), false, "property %s became optional", q);
		ra = stored_enum(pa, "redaction", &spec_redactions, true);
		rb = stored_enum(pb, "redaction", &spec_redactions, true);
		ra = ra < 0 ? REDACT_NONE : ra;
		rb = rb < 0 ? REDACT_NONE : rb;
		if (rb < ra)
			add_change(out, join(pp, "redaction"), true, "property %s redaction weakened from %s to %s", q,
					   redaction_name(ra), redaction_name(rb));
		else if (rb > ra)
			add_change(out, join(pp, "redaction"), false, "property %s redaction strengthened from %s to %s", q,
					   redaction_name(ra), redaction_name(rb));
		if (!jv_equal(member(pa, "description", 11), member(pb, "description", 11)))
			add_change(out, join(pp, "description"), false, "property %s description changed", q);
	}
}

/*
 * The changes from an older to a newer normalized definition of an event
 * (appended to out), breaking ones flagged; paths under `path` (where the
 * newer one is in its document).
 */
List *
spec_event_changes(Jsonb *older, Jsonb *newer, const char *path, List *out)
{
	JsonbValue	a = root_of(older);
	JsonbValue	b = root_of(newer);
	int			pa = stored_enum(&a, "privacy", &spec_privacies, false);
	int			pb = stored_enum(&b, "privacy", &spec_privacies, false);
	int			n;
	KeyPair    *keys;

	if (pb < pa)
		add_change(&out, join(path, "privacy"), true, "privacy lowered from %s to %s",
				   spec_enum_name(&spec_privacies, pa), spec_enum_name(&spec_privacies, pb));
	else if (pb > pa)
		add_change(&out, join(path, "privacy"), false, "privacy raised from %s to %s",
				   spec_enum_name(&spec_privacies, pa), spec_enum_name(&spec_privacies, pb));
	property_changes(member(&a, "properties", 10), member(&b, "properties", 10),
					 join(path, "properties"), &out);

	/* everything else is compatible */
	keys = merged_keys(&a, &b, &n);
	ordered_keys(event_paths, keys, n);
	for (int i = 0; i < n; i++)
	{
		const char *m = mapped(event_paths, keys[i].key, keys[i].len);
		int			limit = 20;

		if (m == NULL || strcmp(m, "key") == 0 || strcmp(m, "version") == 0 ||
			strcmp(m, "privacy") == 0 || strcmp(m, "properties") == 0)
			continue;
		walk(member(&a, keys[i].key, keys[i].len), member(&b, keys[i].key, keys[i].len),
			 join(path, m), SHAPE_PLAIN, &out, &limit);
	}
	return out;
}

/* The first breaking change of a list, or NULL. */
const SpecChange *
spec_first_breaking(List *changes)
{
	ListCell   *lc;

	foreach(lc, changes)
	{
		SpecChange *c = lfirst(lc);

		if (c->breaking)
			return c;
	}
	return NULL;
}

/* A version's major number: the text before its first ".". */
char *
spec_version_major(const char *version)
{
	return pnstrdup(version, strcspn(version, "."));
}

/* Versions in semver order (the sort key), then as text (build metadata). */
int
spec_version_cmp(bytea *akey, const char *a, bytea *bkey, const char *b)
{
	int			alen = VARSIZE_ANY_EXHDR(akey);
	int			blen = VARSIZE_ANY_EXHDR(bkey);
	int			c = memcmp(VARDATA_ANY(akey), VARDATA_ANY(bkey), Min(alen, blen));

	if (c == 0)
		c = (alen > blen) - (alen < blen);
	if (c == 0)
		c = strcmp(a, b);
	return c;
}

/* ---------------------------------------------------------------------
 * telemetry_spec_diff
 * ---------------------------------------------------------------------
 */

typedef struct DiffArg
{
	const char *which;
} DiffArg;

static void
diff_error_context(void *arg)
{
	errcontext("while reading the %s spec", ((DiffArg *) arg)->which);
}

static SpecDoc *
diff_validate(Jsonb *doc, const char *which)
{
	ErrorContextCallback cb;
	DiffArg		arg = {which};
	SpecDoc    *result;

	cb.callback = diff_error_context;
	cb.arg = &arg;
	cb.previous = error_context_stack;
	error_context_stack = &cb;
	result = spec_validate(doc, SPEC_CHECK_DOCUMENT);
	error_context_stack = cb.previous;
	return result;
}

/* The highest version of an event key in a spec, or -1. */
static int
highest_event(SpecDoc *doc, const char *key)
{
	int			best = -1;
	bytea	   *bestkey = NULL;

	for (int i = 0; i < doc->nevents; i++)
	{
		bytea	   *k;

		if (strcmp(doc->events[i].key, key) != 0)
			continue;
		k = semver_sort_key(doc->events[i].version);
		if (best < 0 || spec_version_cmp(k, doc->events[i].version, bestkey, doc->events[best].version) > 0)
		{
			best = i;
			bestkey = k;
		}
	}
	return best;
}

static int
event_index(SpecDoc *doc, const char *key, const char *version)
{
	for (int i = 0; i < doc->nevents; i++)
		if (strcmp(doc->events[i].key, key) == 0 && strcmp(doc->events[i].version, version) == 0)
			return i;
	return -1;
}

/* An event's routing as text: its provider names, or "every provider". */
static char *
routes_text(const SpecEvent *e)
{
	StringInfoData s;

	if (e->routes == NULL)
		return pstrdup("every provider");
	initStringInfo(&s);
	appendStringInfoChar(&s, '[');
	for (int i = 0; i < e->nroutes; i++)
		appendStringInfo(&s, "%s%s", i ? ", " : "", e->routes[i]);
	appendStringInfoChar(&s, ']');
	return s.data;
}

/*
 * Routing changes ("providers" of an event, a spec version's choice): of
 * the same event key@version, else of the key's highest versions.
 */
static void
routing_diff(SpecDoc *old, SpecDoc *new, List **out)
{
	for (int i = 0; i < new->nevents; i++)
	{
		SpecEvent  *n = &new->events[i];
		int			o = event_index(old, n->key, n->version);
		char	   *a;
		char	   *b;

		if (o < 0)
			o = highest_event(old, n->key);
		if (o < 0)
			continue;
		a = routes_text(&old->events[o]);
		b = routes_text(n);
		if (strcmp(a, b) != 0)
			add_change(out, join(n->path, "providers"), false, "event %s %s routed to %s (was %s)",
					   n->key, n->version, b, a);
	}
}

/* Changes of the events: matched by key@version, else each key's highest versions. */
static void
events_diff(SpecDoc *old, SpecDoc *new, List **out)
{
	for (int i = 0; i < new->nevents; i++)
	{
		SpecEvent  *n = &new->events[i];
		int			o = event_index(old, n->key, n->version);

		if (o >= 0)
		{
			char	   *first = spec_first_difference(old->events[o].definition, n->definition, true);

			if (first != NULL)
				add_change(out, join(n->path, first), true,
						   "event %s %s changed without a new version (registration refuses it)",
						   n->key, n->version);
			continue;
		}
		o = highest_event(old, n->key);
		if (o >= 0 && i == highest_event(new, n->key))
		{
			SpecEvent  *e = &old->events[o];
			bool		same_major = strcmp(spec_version_major(e->version), spec_version_major(n->version)) == 0;
			List	   *changes = spec_event_changes(e->definition, n->definition, n->path, NIL);
			ListCell   *lc;

			add_change(out, join(n->path, "version"), false, "event %s %s -> %s%s", n->key, e->version,
					   n->version, same_major ? "" : " (a new major version)");
			foreach(lc, changes)
			{
				SpecChange *c = lfirst(lc);

				if (c->breaking && same_major)
					c->change = psprintf("%s: needs a new major version (registration refuses it)", c->change);
				else if (c->breaking)
					c->change = psprintf("%s (allowed by the new major version)", c->change);
				*out = lappend(*out, c);
			}
			continue;
		}
		add_change(out, pstrdup(n->path), false, "event %s %s added", n->key, n->version);
	}
	for (int i = 0; i < old->nevents; i++)
	{
		SpecEvent  *e = &old->events[i];

		if (event_index(new, e->key, e->version) >= 0)
			continue;
		if (highest_event(new, e->key) >= 0 && i == highest_event(old, e->key))
			continue;			/* compared with the new version above */
		add_change(out, pstrdup("events"), true, "event %s %s removed", e->key, e->version);
	}
}

/* Changes of the providers, matched by name; config values are never shown. */
static void
providers_diff(SpecDoc *old, SpecDoc *new, List **out)
{
	for (int i = 0; i < new->nproviders; i++)
	{
		SpecProvider *p = &new->providers[i];
		SpecProvider *q = NULL;
		char	   *path = psprintf("config.providers[%d]", i);

		for (int j = 0; j < old->nproviders; j++)
			if (strcmp(old->providers[j].ename, p->ename) == 0)
				q = &old->providers[j];
		if (q == NULL)
		{
			add_change(out, path, false, "provider %s (%s) added: it starts at the current horizon",
					   p->ename, p->type);
			continue;
		}
		if (strcmp(p->type, q->type) != 0)
			add_change(out, join(path, "type"), false, "provider %s changed type from %s to %s",
					   p->ename, q->type, p->type);
		if (p->alerts != q->alerts)
			add_change(out, join(path, "alerts"), false, "provider %s alerts turned %s",
					   p->ename, p->alerts ? "on" : "off");
		if (compareJsonbContainers(&p->config->root, &q->config->root) != 0)
		{
			JsonbValue	a = root_of(q->config);
			JsonbValue	b = root_of(p->config);
			int			n;
			KeyPair    *keys = merged_keys(&a, &b, &n);
			StringInfoData names;

			initStringInfo(&names);
			for (int k = 0; k < n; k++)
				if (!jv_equal(member(&a, keys[k].key, keys[k].len), member(&b, keys[k].key, keys[k].len)))
					appendStringInfo(&names, "%s%.*s", names.len ? ", " : "", keys[k].len, keys[k].key);
			add_change(out, join(path, "config"), false, "provider %s config changed (%s); its cursor continues",
					   p->ename, names.data);
		}
	}
	for (int j = 0; j < old->nproviders; j++)
	{
		bool		kept = false;

		for (int i = 0; i < new->nproviders; i++)
			kept |= strcmp(old->providers[j].ename, new->providers[i].ename) == 0;
		if (!kept)
			add_change(out, pstrdup("config.providers"), false,
					   "provider %s (%s) removed: it stops when this version is the latest",
					   old->providers[j].ename, old->providers[j].type);
	}
}

/*
 * SQL: telemetry_spec_diff(old jsonb, new jsonb)
 *		RETURNS TABLE (path text, change text, breaking boolean)
 *
 * What a new version of a spec changes, for CI before registering it:
 * spec fields, providers (names and which config keys changed, never their
 * values), context properties and events.  "breaking" marks what breaks
 * producers or readers of the older version (see the rules above); within
 * one major version of an event, registration refuses those.
 */
Datum
telemetry_spec_diff(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	SpecDoc    *old;
	SpecDoc    *new;
	List	   *out = NIL;
	ListCell   *lc;
	JsonbValue	a,
				b;
	int			n;
	KeyPair    *keys;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("telemetry_spec_diff needs two spec documents")));
	InitMaterializedSRF(fcinfo, 0);
	old = diff_validate(PG_GETARG_JSONB_P(0), "old");
	new = diff_validate(PG_GETARG_JSONB_P(1), "new");

	/* the spec's own fields */
	a = root_of(old->normalized);
	b = root_of(new->normalized);
	keys = merged_keys(&a, &b, &n);
	ordered_keys(spec_paths, keys, n);
	for (int i = 0; i < n; i++)
	{
		const char *m = mapped(spec_paths, keys[i].key, keys[i].len);
		int			limit = 20;

		if (m == NULL || strcmp(m, "events") == 0 || strcmp(m, "config.providers") == 0 ||
			strcmp(m, "config.context") == 0)
			continue;
		walk(member(&a, keys[i].key, keys[i].len), member(&b, keys[i].key, keys[i].len),
			 pstrdup(m), SHAPE_PLAIN, &out, &limit);
	}
	providers_diff(old, new, &out);
	routing_diff(old, new, &out);
	property_changes(member(&a, "context", 7), member(&b, "context", 7), "config.context", &out);
	events_diff(old, new, &out);

	foreach(lc, out)
	{
		SpecChange *c = lfirst(lc);
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		values[0] = CStringGetTextDatum(c->path);
		values[1] = CStringGetTextDatum(c->change);
		values[2] = BoolGetDatum(c->breaking);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
