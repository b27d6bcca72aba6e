/*
 * spec_register.c
 *		Registering and unregistering spec versions.
 *
 * telemetry_register_spec(), telemetry_load_spec() and
 * telemetry_unregister_spec() are not SECURITY DEFINER (such a function
 * cannot know its caller): they record the current effective user, then
 * act as the extension's owner with search_path pinned.  EXECUTE on them is
 * the spec admin's grant.
 *
 * An event version is stored once (telemetry.event_defs) and listed by each
 * spec version that has it (telemetry.spec_events).  Registering:
 *	- validates the document whole (spec_validate.c), policy included;
 *	- takes the spec key's turn (one registration or unregistration of a
 *	  key at a time);
 *	- an identical spec under the same key@version is a no-op; a different
 *	  one is 42710, naming the first difference;
 *	- an event key@version that exists keeps its row when its normalized
 *	  definition is the same (and belongs to the same spec key); otherwise
 *	  42710 naming the first differing JSON path.  The same holds for one
 *	  that was registered and is no longer (telemetry.event_tombstones):
 *	  an event version keeps its definition for good;
 *	- a new event version must be compatible with its neighbours of the
 *	  same major version (spec_diff.c), else 22023;
 *	- writes the rows in a few set-based statements, and moves each listed
 *	  event to the highest spec version that lists it (its defaults,
 *	  context and anomaly switch apply);
 *	- redeploys the spec key's providers when its latest version changed
 *	  (delivery_deploy.c).
 */
#include "telemetry.h"
#include "spec_model.h"
#include "spec_diff.h"
#include "identity.h"
#include "spec_register.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "common/jsonapi.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "parser/parse_func.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonfuncs.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/typcache.h"

PG_FUNCTION_INFO_V1(telemetry_register_spec);
PG_FUNCTION_INFO_V1(telemetry_load_spec);
PG_FUNCTION_INFO_V1(telemetry_unregister_spec);

/* telemetry._run_lock(name, wait) (run_lock.c) */
extern Datum telemetry_run_lock(PG_FUNCTION_ARGS);

/* ---------------------------------------------------------------------
 * SPI helpers
 * ---------------------------------------------------------------------
 */

/*
 * Run a statement with arguments (no NULLs unless nulls is given).  The
 * plan is generic: a large spec's arrays are passed as parameters, never
 * copied into the plan as constants.
 */
static void
catalog_exec(const char *sql, int nargs, Oid *types, Datum *values, const char *nulls, int expect)
{
	SPIPlanPtr	plan = SPI_prepare_cursor(sql, nargs, types, CURSOR_OPT_GENERIC_PLAN);
	int			rc;

	if (plan == NULL)
		elog(ERROR, "telemetry: could not prepare a catalog statement (%s): %s",
			 SPI_result_code_string(SPI_result), sql);
	rc = SPI_execute_plan(plan, values, nulls, false, 0);
	if (rc != expect)
		elog(ERROR, "telemetry: catalog statement failed (%s): %s", SPI_result_code_string(rc), sql);
	SPI_freeplan(plan);
}

static Datum
text_array(char **items, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * (n + 1));

	for (int i = 0; i < n; i++)
		d[i] = CStringGetTextDatum(items[i]);
	return PointerGetDatum(construct_array(d, n, TEXTOID, -1, false, TYPALIGN_INT));
}

static Datum
jsonb_array(Jsonb **items, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * (n + 1));

	for (int i = 0; i < n; i++)
		d[i] = JsonbPGetDatum(items[i]);
	return PointerGetDatum(construct_array(d, n, JSONBOID, -1, false, TYPALIGN_INT));
}

/*
 * Take a spec key's turn: one registration or unregistration of a key at a
 * time.  The key's run lock (telemetry._run_lock('spec:' || key), an object
 * lock on the extension that no other role can take first, unlike an
 * advisory lock) makes a concurrent one wait; the statements after it run
 * with fresh snapshots at READ COMMITTED.  At REPEATABLE READ or
 * SERIALIZABLE the snapshot cannot see what the other committed: writing
 * the key's row of telemetry.spec_turns then fails with 40001.
 */
static void
take_turn(const char *key)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(key)};

	(void) DirectFunctionCall2(telemetry_run_lock,
							   CStringGetTextDatum(psprintf("spec:%s", key)),
							   BoolGetDatum(true));
	catalog_exec("INSERT INTO telemetry.spec_turns AS t (key) VALUES ($1) "
		"ON CONFLICT (key) DO UPDATE SET turns = t.turns + 1",
		1, types, values, NULL, SPI_OK_INSERT);
}

/* The latest (highest) version of a spec key, or NULL. */
char *
spec_latest_version(const char *key)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(key)};

	if (SPI_execute_with_args("SELECT telemetry._latest_version($1)",
							  1, types, values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "telemetry: could not read telemetry.specs");
	if (SPI_processed == 0)
		return NULL;
	return SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
}

typedef struct Revalidation
{
	Jsonb	   *doc;
	SpecDoc    *result;
} Revalidation;

static void
revalidate(void *arg)
{
	Revalidation *r = arg;

	r->result = spec_validate(r->doc, SPEC_CHECK_DOCUMENT);
}

/*
 * Validate a stored document again, without the policy checks: its
 * normalized form, or NULL when it does not pass today's rules.
 */
static SpecDoc *
normalized_or_null(Jsonb *doc)
{
	Revalidation r = {doc, NULL};

	return spec_try(revalidate, &r, true) ? r.result : NULL;
}

/* ---------------------------------------------------------------------
 * The event versions a spec lists
 * ---------------------------------------------------------------------
 */

/* A registered version of an event key, as far as registration needs it. */
typedef struct Known
{
	char	   *event;
	char	   *version;
	bytea	   *vkey;
	char	   *spec_key;
	char	   *spec_version;
	bool		retired;		/* a tombstone: registered once, not now */
	Jsonb	   *definition;		/* read when needed */
	int			listed;			/* index of the new spec's event, or -1 */
	bool		wanted;			/* its definition is needed */
} Known;

static int
known_cmp(const void *x, const void *y)
{
	const Known *a = x;
	const Known *b = y;
	int			c = strcmp(a->event, b->event);

	return c != 0 ? c : spec_version_cmp(a->vkey, a->version, b->vkey, b->version);
}

/* The major version after `major` (digits of any length). */
static char *
next_major(const char *major)
{
	Datum		n = DirectFunctionCall3(numeric_in, CStringGetDatum(major),
										ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));

	n = DirectFunctionCall2(numeric_add, n, DirectFunctionCall1(int4_numeric, Int32GetDatum(1)));
	return DatumGetCString(DirectFunctionCall1(numeric_out, n));
}

/* The event and version columns of the last SPI result, as text arrays. */
static void
result_arrays(Datum *events, Datum *versions)
{
	Datum	   *e = palloc(sizeof(Datum) * (SPI_processed + 1));
	Datum	   *v = palloc(sizeof(Datum) * (SPI_processed + 1));

	for (uint64 i = 0; i < SPI_processed; i++)
	{
		e[i] = CStringGetTextDatum(SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
		v[i] = CStringGetTextDatum(SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2));
	}
	*events = PointerGetDatum(construct_array(e, SPI_processed, TEXTOID, -1, false, TYPALIGN_INT));
	*versions = PointerGetDatum(construct_array(v, SPI_processed, TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * Context rows of events: those of their governing spec version's context.
 * A sensitive event's context properties are masked too, unless they
 * declare their own redaction.
 */
static void
insert_context(Datum events, Datum versions)
{
	Oid			types[2] = {TEXTARRAYOID, TEXTARRAYOID};
	Datum		values[2] = {events, versions};

	catalog_exec("INSERT INTO telemetry.event_properties (event, version, scope, name, ordinal, type, required, "
		"  pii, redact, redaction, description) "
		"SELECT e.event, e.version, 'context', x.name, x.ordinal, x.type, x.required, x.pii, x.redact, "
		"  CASE WHEN x.redaction IS NOT NULL OR e.privacy <> 'sensitive' THEN x.redaction ELSE 'mask' END, "
		"  x.description "
		"FROM unnest($1, $2) AS m(event, version) "
		"JOIN telemetry.event_defs e ON e.event = m.event AND e.version = m.version "
		"JOIN telemetry.specs s ON s.key = e.spec_key AND s.version = e.spec_version, "
		"  LATERAL jsonb_to_recordset(s.context) AS x(name text, ordinal integer, type text, "
		"    required boolean, pii boolean, redact boolean, redaction text, description text)",
		2, types, values, NULL, SPI_OK_INSERT);
}

/*
 * Read the stored definitions of registered versions in one query: those
 * the spec lists (listed) or those marked wanted.
 */
static void
read_definitions(Known *known, int n, bool listed)
{
	char	  **events = palloc(sizeof(char *) * (n + 1));
	char	  **versions = palloc(sizeof(char *) * (n + 1));
	int		   *which = palloc(sizeof(int) * (n + 1));
	int			m = 0;
	Oid			types[2] = {TEXTARRAYOID, TEXTARRAYOID};
	Datum		values[2];

	for (int i = 0; i < n; i++)
		if (known[i].spec_key != NULL && known[i].definition == NULL &&
			(listed ? known[i].listed >= 0 : known[i].wanted))
		{
			events[m] = known[i].event;
			versions[m] = known[i].version;
			which[m++] = i;
		}
	if (m == 0)
		return;
	values[0] = text_array(events, m);
	values[1] = text_array(versions, m);
	if (SPI_execute_with_args("SELECT m.ord, COALESCE(e.definition, t.definition) "
							  "FROM unnest($1, $2) WITH ORDINALITY AS m(event, version, ord) "
							  "LEFT JOIN telemetry.event_defs e ON e.event = m.event AND e.version = m.version "
							  "LEFT JOIN telemetry.event_tombstones t ON e.event IS NULL "
							  "  AND t.event = m.event AND t.version = m.version "
							  "WHERE e.event IS NOT NULL OR t.event IS NOT NULL",
							  2, types, values, NULL, false, 0) != SPI_OK_SELECT || SPI_processed != (uint64) m)
		elog(ERROR, "telemetry: could not read the stored event definitions");
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		bool		isnull;
		int64		ord = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull));
		Datum		d = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2, &isnull);

		known[which[ord - 1]].definition = DatumGetJsonbPCopy(d);
	}
}

/*
 * Every registered or retired (tombstoned) version of the event keys the
 * spec lists, with the spec's new event versions among them (listed >= 0),
 * sorted by key and version.
 */
static Known *
known_versions(SpecDoc *doc, int *count)
{
	Oid			types[1] = {TEXTARRAYOID};
	Datum		values[1];
	char	  **keys = palloc(sizeof(char *) * doc->nevents);
	Known	   *known;
	int			n;

	for (int i = 0; i < doc->nevents; i++)
		keys[i] = doc->events[i].key;
	values[0] = text_array(keys, doc->nevents);
	if (SPI_execute_with_args("SELECT event, version, version_key, spec_key, spec_version, false "
							  "FROM telemetry.event_defs WHERE event = ANY ($1) "
							  "UNION ALL "
							  "SELECT t.event, t.version, t.version_key, t.spec_key, t.spec_version, true "
							  "FROM telemetry.event_tombstones t WHERE t.event = ANY ($1) "
							  "  AND NOT EXISTS (SELECT 1 FROM telemetry.event_defs d "
							  "    WHERE d.event = t.event AND d.version = t.version)",
							  1, types, values, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "telemetry: could not read telemetry.event_defs");
	n = SPI_processed;
	known = palloc0(sizeof(Known) * (n + doc->nevents + 1));
	for (int i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;

		known[i].event = SPI_getvalue(tup, desc, 1);
		known[i].version = SPI_getvalue(tup, desc, 2);
		known[i].vkey = DatumGetByteaPCopy(SPI_getbinval(tup, desc, 3, &isnull));
		known[i].spec_key = SPI_getvalue(tup, desc, 4);
		known[i].spec_version = SPI_getvalue(tup, desc, 5);
		known[i].retired = DatumGetBool(SPI_getbinval(tup, desc, 6, &isnull));
		known[i].listed = -1;
	}
	qsort(known, n, sizeof(Known), known_cmp);

	/* the spec's events: an existing row, or a new version in the list */
	{
		int			registered = n;

		for (int i = 0; i < doc->nevents; i++)
		{
			SpecEvent  *ev = &doc->events[i];
			Known		probe = {0};
			Known	   *hit;

			probe.event = ev->key;
			probe.version = ev->version;
			probe.vkey = semver_sort_key(ev->version);
			hit = bsearch(&probe, known, registered, sizeof(Known), known_cmp);
			if (hit != NULL)
			{
				hit->listed = i;
				continue;
			}
			probe.listed = i;
			probe.definition = ev->definition;
			probe.spec_key = NULL;	/* new */
			known[n++] = probe;
		}
	}
	qsort(known, n, sizeof(Known), known_cmp);
	*count = n;
	return known;
}

/*
 * A listed event version that is registered, or was (retired: a tombstone),
 * must belong to the spec key and keep its definition.  One check for
 * both cases, which differ only in their words.
 */
static void
check_same_event(const Known *k, const SpecEvent *ev, const char *spec_key)
{
	char	   *first;

	if (strcmp(k->spec_key, spec_key) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 k->retired ?
				 errmsg("event \"%s@%s\" was defined by spec \"%s@%s\", since unregistered",
						ev->key, ev->version, k->spec_key, k->spec_version) :
				 errmsg("event \"%s@%s\" is already defined by spec \"%s@%s\"",
						ev->key, ev->version, k->spec_key, k->spec_version),
				 k->retired ?
				 errhint("An event version belongs to one spec key for good; give the event a new version.") :
				 errhint("An event version belongs to one spec key; give the event a new version."),
				 errhidestmt(true)));
	first = spec_first_difference(k->definition, ev->definition, true);
	if (first != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 k->retired ?
				 errmsg("%s.%s: event \"%s@%s\" was registered with a different definition",
						ev->path, first, ev->key, ev->version) :
				 errmsg("%s.%s: event \"%s@%s\" is already registered with a different definition",
						ev->path, first, ev->key, ev->version),
				 k->retired ?
				 errdetail("An event version keeps its definition after its spec versions are unregistered: writers that pin it and the events stored under it rely on it.") :
				 errdetail("An event version is stored once; every spec version that lists it must define it the same way."),
				 errhint("Publish the change under a new version of the event."),
				 errhidestmt(true)));
}

/*
 * The checks of the spec's events against the registered and retired
 * ones: an existing key@version must have the same definition and spec
 * key; a new version must be compatible with its neighbours of the same
 * major.  Sets new_event[i] for the events that need a row, and returns
 * whether one of them brings a retired version back.
 */
static bool
check_events(SpecDoc *doc, bool *new_event)
{
	bool		revived = false;
	int			n;
	Known	   *known = known_versions(doc, &n);

	read_definitions(known, n, true);
	for (int i = 0; i < n; i++)
	{
		Known	   *k = &known[i];
		SpecEvent  *ev;

		if (k->listed < 0)
			continue;
		ev = &doc->events[k->listed];
		new_event[k->listed] = k->spec_key == NULL || k->retired;
		revived |= k->retired;
		if (k->spec_key != NULL)
			check_same_event(k, ev, doc->key);
	}

	/* neighbours of the same major version must be compatible */
	for (int i = 1; i < n; i++)
	{
		Known	   *a = &known[i - 1];
		Known	   *b = &known[i];

		if (strcmp(a->event, b->event) == 0 && (a->spec_key == NULL) != (b->spec_key == NULL) &&
			strcmp(spec_version_major(a->version), spec_version_major(b->version)) == 0)
			a->wanted = b->wanted = true;
	}
	read_definitions(known, n, false);
	for (int i = 1; i < n; i++)
	{
		Known	   *a = &known[i - 1];
		Known	   *b = &known[i];
		const SpecChange *c;
		SpecEvent  *ev;
		char	   *major;

		if (strcmp(a->event, b->event) != 0 || (a->spec_key != NULL && b->spec_key != NULL))
			continue;			/* another key, or both registered already */
		major = spec_version_major(b->version);
		if (strcmp(spec_version_major(a->version), major) != 0)
			continue;
		if (b->spec_key == NULL)
		{
			/* b is new: it must keep a's contract */
			ev = &doc->events[b->listed];
			c = spec_first_breaking(spec_event_changes(a->definition, b->definition, ev->path, NIL));
			if (c != NULL)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("%s: %s since version %s of event \"%s\": a change that is not backward compatible needs a new major version",
								c->path, c->change, a->version, ev->key),
						 errhint("Publish it as version %s.0.0 of the event, or keep the change compatible (see \"Evolving a spec\" in doc/design.md).",
								 next_major(major)),
						 errhidestmt(true)));
		}
		else
		{
			/* a is new, below a registered b of the same major */
			ev = &doc->events[a->listed];
			c = spec_first_breaking(spec_event_changes(a->definition, b->definition, ev->path, NIL));
			if (c != NULL)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("%s: registered version %s of event \"%s\" is not backward compatible with %s (%s): versions of one major version must be",
								ev->path, b->version, ev->key, a->version, c->change),
						 errhint("Give this version the definition its successors are compatible with, or another major version."),
						 errhidestmt(true)));
		}
	}
	return revived;
}

/* ---------------------------------------------------------------------
 * Writing the catalog
 * ---------------------------------------------------------------------
 */

/* The spec version's row. */
static void
insert_spec(SpecDoc *doc, Jsonb *spec, const char *registered_by)
{
	Oid			types[4] = {JSONBOID, JSONBOID, TEXTOID, BYTEAOID};
	Datum		values[4];

	values[0] = JsonbPGetDatum(doc->normalized);
	values[1] = JsonbPGetDatum(spec);
	values[2] = CStringGetTextDatum(registered_by);
	values[3] = PointerGetDatum(semver_sort_key(doc->version));
	catalog_exec("INSERT INTO telemetry.specs (key, version, version_key, title, description, domain, owners, tags, "
		"  stability, default_retention_days, default_sampling_rate, anomaly_enabled, anomaly_check_interval_ms, "
		"  context, document, registered_by) "
		"SELECT $1 ->> 'key', $1 ->> 'version', $4, $1 ->> 'title', $1 ->> 'description', $1 ->> 'domain', "
		"  ARRAY(SELECT jsonb_array_elements_text($1 -> 'owners')), ARRAY(SELECT jsonb_array_elements_text($1 -> 'tags')), "
		"  $1 ->> 'stability', ($1 ->> 'defaultRetentionDays')::integer, ($1 ->> 'defaultSamplingRate')::float8, "
		"  ($1 ->> 'anomalyEnabled')::boolean, ($1 ->> 'checkIntervalMs')::integer, $1 -> 'context', $2, $3",
		4, types, values, NULL, SPI_OK_INSERT);
}

/* A text[] Datum of items[0..n), NULL items as SQL NULL. */
static Datum
text_array_nulls(char **items, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * (n + 1));
	bool	   *nulls = palloc(sizeof(bool) * (n + 1));
	int			dims[1] = {n};
	int			lbs[1] = {1};

	for (int i = 0; i < n; i++)
	{
		nulls[i] = items[i] == NULL;
		d[i] = nulls[i] ? (Datum) 0 : CStringGetTextDatum(items[i]);
	}
	return PointerGetDatum(construct_md_array(d, nulls, 1, dims, lbs, TEXTOID, -1, false, TYPALIGN_INT));
}

static Datum
scalar_array(Datum *items, int n, Oid type)
{
	if (type == BOOLOID)
		return PointerGetDatum(construct_array(items, n, BOOLOID, 1, true, TYPALIGN_CHAR));
	return PointerGetDatum(construct_array(items, n, INT4OID, 4, true, TYPALIGN_INT));
}

/*
 * Rows of a catalog table, built in C and written by one INSERT ... SELECT
 * FROM unnest($1), $1 an array of the table's row type.  One array of rows
 * is unnested once; unnest() of one array per column materializes every
 * column apart, which made up a third of the time of registering a large
 * spec.  The caller gives the columns it sets, and each row's values in
 * that order; the INSERT lists only those (the others get their defaults).
 */
typedef struct CatalogRows
{
	const char *table;			/* in schema telemetry */
	const char *const *columns; /* NULL-terminated */
	int			ncolumns;
	int		   *attidx;			/* column i is attribute attidx[i] */
	TupleDesc	desc;
	Datum	   *values;			/* a whole row of the table */
	bool	   *nulls;
	Datum	   *rows;
	int			n;
	int			max;
} CatalogRows;

static void
rows_begin(CatalogRows *r, const char *table, const char *const *columns, int max)
{
	Oid			relid = get_relname_relid(table, get_namespace_oid("telemetry", false));

	if (!OidIsValid(relid))
		elog(ERROR, "telemetry: table telemetry.%s is missing", table);
	r->table = table;
	r->columns = columns;
	r->desc = lookup_rowtype_tupdesc_copy(get_rel_type_id(relid), -1);
	for (r->ncolumns = 0; columns[r->ncolumns] != NULL; r->ncolumns++)
		;
	r->attidx = palloc(sizeof(int) * r->ncolumns);
	for (int c = 0; c < r->ncolumns; c++)
	{
		r->attidx[c] = -1;
		for (int i = 0; i < r->desc->natts; i++)
			if (!TupleDescAttr(r->desc, i)->attisdropped &&
				strcmp(NameStr(TupleDescAttr(r->desc, i)->attname), columns[c]) == 0)
				r->attidx[c] = i;
		if (r->attidx[c] < 0)
			elog(ERROR, "telemetry: telemetry.%s has no column %s", table, columns[c]);
	}
	r->values = palloc0(sizeof(Datum) * r->desc->natts);
	r->nulls = palloc(sizeof(bool) * r->desc->natts);
	memset(r->nulls, true, sizeof(bool) * r->desc->natts);
	r->rows = palloc(sizeof(Datum) * (max + 1));
	r->n = 0;
	r->max = max;
}

/* Add a row: values[i] (NULL when nulls[i]) for the i-th column given. */
static void
rows_add(CatalogRows *r, const Datum *values, const bool *nulls)
{
	if (r->n >= r->max)
		elog(ERROR, "telemetry: more rows than expected for telemetry.%s", r->table);
	for (int c = 0; c < r->ncolumns; c++)
	{
		r->values[r->attidx[c]] = values[c];
		r->nulls[r->attidx[c]] = nulls[c];
	}
	r->rows[r->n++] = HeapTupleGetDatum(heap_form_tuple(r->desc, r->values, r->nulls));
}

/* INSERT the rows added. */
static void
rows_insert(CatalogRows *r)
{
	Oid			rowtype = r->desc->tdtypeid;
	Oid			types[1] = {get_array_type(rowtype)};
	Datum		values[1];
	int16		typlen;
	bool		typbyval;
	char		typalign;
	StringInfoData columns;

	if (r->n == 0)
		return;
	initStringInfo(&columns);
	for (int c = 0; c < r->ncolumns; c++)
		appendStringInfo(&columns, "%s%s", c > 0 ? ", " : "", quote_identifier(r->columns[c]));
	get_typlenbyvalalign(rowtype, &typlen, &typbyval, &typalign);
	values[0] = PointerGetDatum(construct_array(r->rows, r->n, rowtype, typlen, typbyval, typalign));
	/* unnest() in the target list: rows one at a time, never materialized */
	catalog_exec(psprintf("INSERT INTO telemetry.%s (%s) SELECT (r).* FROM (SELECT unnest($1) AS r OFFSET 0) AS rows",
				 quote_identifier(r->table), columns.data),
		1, types, values, NULL, SPI_OK_INSERT);
}

/* The columns of telemetry.event_properties that registration writes. */
static const char *const property_columns[] = {
	"event", "version", "scope", "name", "ordinal", "type", "required", "pii", "redact",
	"redaction", "description", NULL
};

/*
 * Whether one of the new event versions has anomaly thresholds: without
 * any, writing the anomaly rules would read every definition just stored
 * for nothing.
 */
static bool
any_thresholds(SpecDoc *doc, bool *new_event)
{
	for (int i = 0; i < doc->nevents; i++)
	{
		JsonbValue	buf;
		JsonbValue *t;

		if (!new_event[i])
			continue;
		t = getKeyJsonValueFromContainer(&doc->events[i].definition->root, "thresholds",
										 strlen("thresholds"), &buf);
		if (t != NULL && t->type == jbvBinary && JsonContainerSize(t->val.binary.data) > 0)
			return true;
	}
	return false;
}

/* Rows of the new event versions: definitions, properties and context, anomaly rules. */
static void
insert_events(SpecDoc *doc, bool *new_event)
{
	Jsonb	  **defs = palloc(sizeof(Jsonb *) * doc->nevents);
	int			n = 0;
	int			nprops = 0;
	Oid			types[4] = {JSONBARRAYOID, TEXTOID, TEXTOID, BOOLOID};
	Datum		values[4];

	for (int i = 0; i < doc->nevents; i++)
		if (new_event[i])
		{
			defs[n++] = doc->events[i].definition;
			nprops += doc->events[i].nprops;
		}
	if (n == 0)
		return;
	values[0] = jsonb_array(defs, n);
	values[1] = CStringGetTextDatum(doc->key);
	values[2] = CStringGetTextDatum(doc->version);
	values[3] = BoolGetDatum(doc->anomaly_enabled);

	/* one statement a table, whatever the number of events */
	catalog_exec("INSERT INTO telemetry.event_defs (event, version, version_key, spec_key, spec_version, privacy, "
		"  what, who, why, retention_days, retention_policy, sampling_rate, sampling_by, sampling_conditions, "
		"  anomaly_enabled, minimum_sample, actions, tags, definition) "
		"SELECT d ->> 'key', d ->> 'version', telemetry._semver_key(d ->> 'version'), $2, $3, d ->> 'privacy', "
		"  d ->> 'what', d ->> 'who', d ->> 'why', (d ->> 'retentionDays')::integer, d ->> 'retentionPolicy', "
		"  (d ->> 'samplingRate')::float8, d ->> 'samplingBy', "
		"  ARRAY(SELECT jsonb_array_elements_text(COALESCE(d -> 'samplingConditions', '[]'))), "
		"  (d ->> 'anomalyEnabled')::boolean AND $4, (d ->> 'minimumSample')::integer, "
		"  ARRAY(SELECT jsonb_array_elements_text(d -> 'actions')), ARRAY(SELECT jsonb_array_elements_text(d -> 'tags')), d "
		"FROM (SELECT unnest($1) AS d OFFSET 0) AS defs "
		"ON CONFLICT (event, version) DO NOTHING",
		4, types, values, NULL, SPI_OK_INSERT);
	if (SPI_processed != (uint64) n)
	{
		/*
		 * Another spec key registered one of them since check_events read
		 * the catalog (keys do not take turns with each other): checking
		 * again now sees it and says so.
		 */
		check_events(doc, palloc0(sizeof(bool) * doc->nevents));
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("an event version of spec \"%s@%s\" was registered by another spec at the same time",
						doc->key, doc->version),
				 errhint("Register it again."),
				 errhidestmt(true)));
	}

	/*
	 * The properties and the context (the spec version's, which governs the
	 * new event versions), as rows of the table, from the validated spec:
	 * one statement.  A sensitive event's context properties are masked
	 * unless they declare their own redaction (as in insert_context).
	 */
	if (nprops + n * doc->ncontext > 0)
	{
		CatalogRows rows;
		Datum		property = CStringGetTextDatum("property");
		Datum		context = CStringGetTextDatum("context");
		Datum		mask = CStringGetTextDatum(spec_enum_name(&spec_redactions, REDACT_MASK));

		rows_begin(&rows, "event_properties", property_columns, nprops + n * doc->ncontext);
		for (int i = 0; i < doc->nevents; i++)
		{
			SpecEvent  *ev = &doc->events[i];
			Datum		v[11];
			bool		isnull[11] = {false};

			if (!new_event[i])
				continue;
			v[0] = CStringGetTextDatum(ev->key);
			v[1] = CStringGetTextDatum(ev->version);
			for (int j = 0; j < ev->nprops + doc->ncontext; j++)
			{
				bool		in_context = j >= ev->nprops;
				SpecProperty *p = in_context ? &doc->context[j - ev->nprops] : &ev->props[j];

				v[2] = in_context ? context : property;
				v[3] = CStringGetTextDatum(p->name);
				v[4] = Int32GetDatum(in_context ? j - ev->nprops : j);
				v[5] = CStringGetTextDatum(spec_enum_name(&spec_prop_types, p->type));
				v[6] = BoolGetDatum(p->required);
				v[7] = BoolGetDatum(p->pii);
				v[8] = BoolGetDatum(p->redact);
				isnull[9] = false;
				if (p->redaction != REDACT_NONE)
					v[9] = CStringGetTextDatum(spec_enum_name(&spec_redactions, p->redaction));
				else if (in_context && ev->privacy == PRIVACY_SENSITIVE)
					v[9] = mask;
				else
					isnull[9] = true;
				isnull[10] = p->description == NULL;
				v[10] = isnull[10] ? (Datum) 0 : CStringGetTextDatum(p->description);
				rows_add(&rows, v, isnull);
			}
		}
		rows_insert(&rows);
	}

	/* the anomaly rules, from the definitions just stored (when any has) */
	if (!any_thresholds(doc, new_event))
		return;
	catalog_exec("INSERT INTO telemetry.anomaly_rules (event, version, ordinal, metric, min, max, aggregate, \"window\") "
		"SELECT e.event, e.version, t.ord - 1, t.th ->> 'metric', (t.th ->> 'min')::float8, "
		"  (t.th ->> 'max')::float8, t.th ->> 'aggregate', (t.th ->> 'window')::interval "
		"FROM telemetry.event_defs e, "
		"  LATERAL jsonb_array_elements(e.definition -> 'thresholds') WITH ORDINALITY AS t(th, ord) "
		"WHERE e.spec_key = $1 AND e.spec_version = $2 AND e.definition -> 'thresholds' <> '[]' "
		"  AND NOT EXISTS (SELECT 1 FROM telemetry.anomaly_rules r WHERE r.event = e.event AND r.version = e.version)",
		2, types + 1, values + 1, NULL, SPI_OK_INSERT);
}

/* The tombstones of the event versions this registration brings back. */
static void
remove_tombstones(SpecDoc *doc, bool *new_event)
{
	char	  **events = palloc(sizeof(char *) * doc->nevents);
	char	  **versions = palloc(sizeof(char *) * doc->nevents);
	int			n = 0;
	Oid			types[2] = {TEXTARRAYOID, TEXTARRAYOID};
	Datum		values[2];

	for (int i = 0; i < doc->nevents; i++)
		if (new_event[i])
		{
			events[n] = doc->events[i].key;
			versions[n++] = doc->events[i].version;
		}
	values[0] = text_array(events, n);
	values[1] = text_array(versions, n);
	catalog_exec("DELETE FROM telemetry.event_tombstones t USING unnest($1, $2) AS m(event, version) "
		"WHERE t.event = m.event AND t.version = m.version",
		2, types, values, NULL, SPI_OK_DELETE);
}

/*
 * The spec version's list of events, with each one's routing (its
 * "providers", as a JSON array text; NULL: every provider).
 */
static void
insert_members(SpecDoc *doc)
{
	char	  **events = palloc(sizeof(char *) * doc->nevents);
	char	  **versions = palloc(sizeof(char *) * doc->nevents);
	char	  **routes = palloc(sizeof(char *) * doc->nevents);
	Oid			types[5] = {TEXTOID, TEXTOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID};
	Datum		values[5];

	for (int i = 0; i < doc->nevents; i++)
	{
		events[i] = doc->events[i].key;
		versions[i] = doc->events[i].version;
		routes[i] = NULL;
		if (doc->events[i].routes != NULL)
		{
			StringInfoData r;

			initStringInfo(&r);
			appendStringInfoChar(&r, '[');
			for (int j = 0; j < doc->events[i].nroutes; j++)
			{
				if (j > 0)
					appendStringInfoChar(&r, ',');
				escape_json(&r, doc->events[i].routes[j]);
			}
			appendStringInfoChar(&r, ']');
			routes[i] = r.data;
		}
	}
	values[0] = CStringGetTextDatum(doc->key);
	values[1] = CStringGetTextDatum(doc->version);
	values[2] = text_array(events, doc->nevents);
	values[3] = text_array(versions, doc->nevents);
	values[4] = text_array_nulls(routes, doc->nevents);
	catalog_exec("INSERT INTO telemetry.spec_events (spec_key, spec_version, event, version, ordinal, providers) "
		"SELECT $1, $2, m.event, m.version, m.ord - 1, "
		"  CASE WHEN m.routes IS NOT NULL THEN ARRAY(SELECT jsonb_array_elements_text(m.routes::jsonb)) END "
		"FROM unnest($3, $4, $5) WITH ORDINALITY AS m(event, version, routes, ord)",
		5, types, values, NULL, SPI_OK_INSERT);
}

/*
 * Give listed events of a spec key their governing version: the highest
 * version of the key that lists each (its defaults, context, stability
 * and anomaly switch apply).  Only events whose governing version changes
 * are touched: their anomaly switch is set again, and their context rows
 * are made again when the new version's context differs.
 */
static void
regovern(const char *key, Datum events, Datum versions)
{
	Oid			types[3] = {TEXTOID, TEXTARRAYOID, TEXTARRAYOID};
	Datum		values[3];
	Datum		moved_events;
	Datum		moved_versions;

	values[0] = CStringGetTextDatum(key);
	values[1] = events;
	values[2] = versions;
	/*
	 * The moved events whose context changes (their old governing version,
	 * o, has another context than their new one): the others' context rows
	 * stay as they are, the same rows again.
	 */
	catalog_exec("WITH governing AS ("
		"  SELECT DISTINCT ON (se.event, se.version) se.event, se.version, s.version AS spec_version, "
		"    s.anomaly_enabled, s.context "
		"  FROM unnest($2, $3) AS m(event, version) "
		"  JOIN telemetry.spec_events se ON se.spec_key = $1 AND se.event = m.event AND se.version = m.version "
		"  JOIN telemetry.specs s ON s.key = se.spec_key AND s.version = se.spec_version "
		"  ORDER BY se.event, se.version, s.version_key DESC, s.version DESC), "
		"moved AS ("
		"  UPDATE telemetry.event_defs e SET spec_version = g.spec_version, "
		"    anomaly_enabled = (e.definition ->> 'anomalyEnabled')::boolean AND g.anomaly_enabled "
		"  FROM governing g, telemetry.specs o "
		"  WHERE e.event = g.event AND e.version = g.version AND e.spec_key = $1 "
		"    AND e.spec_version IS DISTINCT FROM g.spec_version "
		"    AND o.key = e.spec_key AND o.version = e.spec_version "
		"  RETURNING e.event, e.version, o.context IS DISTINCT FROM g.context AS context_changed) "
		"SELECT event, version FROM moved WHERE context_changed",
		3, types, values, NULL, SPI_OK_SELECT);
	if (SPI_processed == 0)
		return;
	result_arrays(&moved_events, &moved_versions);
	values[0] = moved_events;
	values[1] = moved_versions;
	catalog_exec("DELETE FROM telemetry.event_properties p USING unnest($1, $2) AS m(event, version) "
		"WHERE p.event = m.event AND p.version = m.version AND p.scope = 'context'",
		2, types + 1, values, NULL, SPI_OK_DELETE);
	insert_context(moved_events, moved_versions);
}

/*
 * The spec version's providers.  A provider the latest version has keeps
 * its enabled flag (a webhook that answered 410 stays off in a new version).
 */
static void
insert_providers(SpecDoc *doc, const char *latest)
{
	Oid			types[7] = {TEXTOID, TEXTOID, TEXTARRAYOID, TEXTARRAYOID, JSONBARRAYOID, TEXTOID,
	BOOLARRAYOID};
	Datum		values[7];
	char		nulls[8] = "       ";
	char	  **names = palloc(sizeof(char *) * (doc->nproviders + 1));
	char	  **ptypes = palloc(sizeof(char *) * (doc->nproviders + 1));
	Jsonb	  **configs = palloc(sizeof(Jsonb *) * (doc->nproviders + 1));
	Datum	   *alerts = palloc(sizeof(Datum) * (doc->nproviders + 1));

	if (doc->nproviders == 0)
		return;
	for (int i = 0; i < doc->nproviders; i++)
	{
		names[i] = doc->providers[i].ename;
		ptypes[i] = doc->providers[i].type;
		configs[i] = doc->providers[i].config;
		alerts[i] = BoolGetDatum(doc->providers[i].alerts);
	}
	values[0] = CStringGetTextDatum(doc->key);
	values[1] = CStringGetTextDatum(doc->version);
	values[2] = text_array(names, doc->nproviders);
	values[3] = text_array(ptypes, doc->nproviders);
	values[4] = jsonb_array(configs, doc->nproviders);
	values[5] = latest ? CStringGetTextDatum(latest) : (Datum) 0;
	nulls[5] = latest ? ' ' : 'n';
	values[6] = scalar_array(alerts, doc->nproviders, BOOLOID);
	catalog_exec("INSERT INTO telemetry.providers (spec_key, spec_version, name, ordinal, type, config, enabled, disabled_reason, alerts) "
		"SELECT $1, $2, p.name, p.ord - 1, p.type, p.config, COALESCE(o.enabled, true), o.disabled_reason, p.alerts "
		"FROM unnest($3, $4, $5, $7) WITH ORDINALITY AS p(name, type, config, alerts, ord) "
		"LEFT JOIN telemetry.providers o ON o.spec_key = $1 AND o.spec_version = $6 AND o.name = p.name",
		7, types, values, nulls, SPI_OK_INSERT);
}

/* ---------------------------------------------------------------------
 * Registering
 * ---------------------------------------------------------------------
 */

/*
 * Register a spec document as the extension's owner; registered_by is the
 * caller.  Returns "key@version" (in the caller's memory context).
 */
static char *
register_spec(Jsonb *spec, const char *registered_by)
{
	MemoryContext caller = CurrentMemoryContext;
	TelemetryOwnerContext octx;
	SpecDoc    *doc;
	bool	   *new_event;
	bool		revived;
	char	   *result;
	SpecDeployment *deployment;
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2];
	bool		caller_is_owner;

	/* decided on the caller, before acting as the owner */
	caller_is_owner = telemetry_current_user_is_owner();
	telemetry_owner_spi_begin(&octx);

	doc = spec_validate(spec, SPEC_CHECK_POLICY);
	result = MemoryContextStrdup(caller, psprintf("%s@%s", doc->key, doc->version));
	take_turn(doc->key);

	/* the same key@version: identical is a no-op, anything else an error */
	values[0] = CStringGetTextDatum(doc->key);
	values[1] = CStringGetTextDatum(doc->version);
	if (SPI_execute_with_args("SELECT document FROM telemetry.specs WHERE key = $1 AND version = $2",
							  2, types, values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "telemetry: could not read telemetry.specs");
	if (SPI_processed == 1)
	{
		bool		isnull;
		Jsonb	   *existing = DatumGetJsonbPCopy(SPI_getbinval(SPI_tuptable->vals[0],
																SPI_tuptable->tupdesc, 1, &isnull));
		SpecDoc    *normalized;
		char	   *first = NULL;

		if (compareJsonbContainers(&existing->root, &spec->root) == 0)
			goto done;
		normalized = normalized_or_null(existing);
		if (normalized != NULL)
		{
			first = spec_doc_first_difference(normalized, doc);
			if (first == NULL)
				goto done;

			/*
			 * Inside the providers, a path would let a non-owner test a
			 * guess of one literal secret at a time (the masked document
			 * rebuilt with the guess): name only the providers.
			 */
			if (strncmp(first, "config.providers", strlen("config.providers")) == 0 &&
				!caller_is_owner)
				first = "config.providers";
		}
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("spec \"%s@%s\" is already registered with a different document", doc->key, doc->version),
				 first ? errdetail("The first difference is at %s.", first) : 0,
				 errhint("Publish the change under a new version, or unregister the old one first with telemetry_unregister_spec()."),
				 errhidestmt(true)));
	}

	new_event = palloc0(sizeof(bool) * doc->nevents);
	revived = check_events(doc, new_event);
	identity_warn_spec(doc);

	deployment = spec_deploy_begin(doc->key);
	insert_spec(doc, spec, registered_by);
	insert_events(doc, new_event);
	if (revived)
		remove_tombstones(doc, new_event);
	insert_members(doc);
	{
		char	  **events = palloc(sizeof(char *) * doc->nevents);
		char	  **versions = palloc(sizeof(char *) * doc->nevents);
		int			n = 0;

		/* listed events that are not new may move to this version */
		for (int i = 0; i < doc->nevents; i++)
			if (!new_event[i])
			{
				events[n] = doc->events[i].key;
				versions[n++] = doc->events[i].version;
			}
		if (n > 0)
			regovern(doc->key, text_array(events, n), text_array(versions, n));
	}
	insert_providers(doc, spec_deploy_latest(deployment));
	spec_deploy_end(deployment);

done:
	telemetry_owner_spi_end(&octx);
	return result;
}

/*
 * SQL: telemetry_register_spec(spec jsonb) RETURNS text
 *
 * Validate and store a spec; returns '<key>@<version>'.  The catalog
 * records the current effective user as the one who registered.
 */
Datum
telemetry_register_spec(PG_FUNCTION_ARGS)
{
	char	   *who = GetUserNameFromId(GetUserId(), false);

	PG_RETURN_TEXT_P(cstring_to_text(register_spec(PG_ARGISNULL(0) ? NULL : PG_GETARG_JSONB_P(0), who)));
}

/*
 * SQL: telemetry_load_spec(path text) RETURNS text (STRICT)
 *
 * Register a spec from a JSON file on the server.  The caller needs
 * EXECUTE on this and on telemetry_register_spec, and the privileges of
 * pg_read_server_files (checked by the reader).  A file that is not JSON
 * is 22023 with the parser's token and line.
 */
Datum
telemetry_load_spec(PG_FUNCTION_ARGS)
{
	char	   *path;
	Oid			regfn;
	text	   *doc;
	char	   *json;
	int			len;
	JsonLexContext *lex;
	JsonParseErrorType rc;
	Jsonb	   *spec;
	Oid			nsp = get_func_namespace(fcinfo->flinfo->fn_oid);
	Oid			argtypes[1] = {JSONBOID};

	/*
	 * EXECUTE on telemetry_register_spec of this function's schema (by OID:
	 * whatever that schema is called now).  Registering itself is the C
	 * below, never a call by name.
	 */
	regfn = LookupFuncName(list_make2(makeString(get_namespace_name(nsp)),
									  makeString("telemetry_register_spec")),
						   1, argtypes, true);
	if (!OidIsValid(regfn) || get_func_namespace(regfn) != nsp)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("function telemetry_register_spec(jsonb) is missing from the schema of telemetry_load_spec")));
	if (pg_proc_aclcheck(regfn, GetUserId(), ACL_EXECUTE) != ACLCHECK_OK)
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_FUNCTION, "telemetry_register_spec");

	path = text_to_cstring(PG_GETARG_TEXT_PP(0));
	doc = spec_file_read(path);
	json = VARDATA_ANY(doc);
	len = VARSIZE_ANY_EXHDR(doc);
	lex = makeJsonLexContextCstringLen(json, len, GetDatabaseEncoding(), false);
	rc = pg_parse_json(lex, &nullSemAction);
	if (rc != JSON_SUCCESS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("spec file \"%s\" is not valid JSON", path),
				 errdetail("%s JSON data, line %d", json_errdetail(rc, lex), lex->line_number),
				 errhidestmt(true)));
	spec = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(text_to_cstring(doc))));
	PG_RETURN_TEXT_P(cstring_to_text(register_spec(spec, GetUserNameFromId(GetUserId(), false))));
}

/* ---------------------------------------------------------------------
 * Unregistering
 * ---------------------------------------------------------------------
 */

/*
 * Remove a spec version: its list of events, its providers, and the event
 * versions no other version of the key lists (with their properties and
 * rules; each leaves a tombstone).  Events it listed that other versions
 * still list move to the highest of those.  Stored events stay.  Returns
 * false when there was no such version.
 */
static bool
unregister_spec(const char *key, const char *version)
{
	TelemetryOwnerContext octx;
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2];
	bool		found;
	SpecDeployment *deployment;

	telemetry_owner_spi_begin(&octx);
	take_turn(key);

	values[0] = CStringGetTextDatum(key);
	values[1] = CStringGetTextDatum(version);
	if (SPI_execute_with_args("SELECT 1 FROM telemetry.specs WHERE key = $1 AND version = $2",
							  2, types, values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "telemetry: could not read telemetry.specs");
	found = SPI_processed == 1;
	if (found)
	{
		Datum		events;
		Datum		versions;
		Oid			atypes[2] = {TEXTARRAYOID, TEXTARRAYOID};
		Datum		avalues[2];

		spec_check_undeploy(key, version);
		deployment = spec_deploy_begin(key);

		catalog_exec("DELETE FROM telemetry.spec_events WHERE spec_key = $1 AND spec_version = $2 "
			"RETURNING event, version",
			2, types, values, NULL, SPI_OK_DELETE_RETURNING);
		result_arrays(&events, &versions);
		avalues[0] = events;
		avalues[1] = versions;
		/* event versions no other version of the key lists */
		catalog_exec("DELETE FROM telemetry.event_defs e USING unnest($1, $2) AS u(event, version) "
			"WHERE e.event = u.event AND e.version = u.version "
			"  AND NOT EXISTS (SELECT 1 FROM telemetry.spec_events s WHERE s.event = e.event AND s.version = e.version)",
			2, atypes, avalues, NULL, SPI_OK_DELETE);
		/* the others move to the highest version that still lists them */
		regovern(key, events, versions);
		catalog_exec("DELETE FROM telemetry.specs WHERE key = $1 AND version = $2",
			2, types, values, NULL, SPI_OK_DELETE);
		spec_deploy_end(deployment);
	}
	telemetry_owner_spi_end(&octx);
	return found;
}

/*
 * SQL: telemetry_unregister_spec(key text, version text) RETURNS boolean
 *
 * The version is exact.  Refused (55006) while it would stop a provider
 * that still has events to deliver (see spec_check_undeploy).
 */
Datum
telemetry_unregister_spec(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_BOOL(false);
	PG_RETURN_BOOL(unregister_spec(text_to_cstring(PG_GETARG_TEXT_PP(0)),
								   text_to_cstring(PG_GETARG_TEXT_PP(1))));
}
