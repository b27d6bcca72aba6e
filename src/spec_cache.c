/*
 * spec_cache.c
 *		Per-backend cache of compiled event definitions.
 *
 * telemetry_track must not run catalog SQL per event (pg_jsonschema's lesson:
 * compiling once is an order of magnitude faster).  The first call for an
 * (event, version request) pair resolves it with SPI and compiles the
 * definition into CacheMemoryContext; later calls are a hash lookup.
 *
 * The compiler takes its words from the spec vocabulary (spec_model.c): a
 * catalog value it does not know (a type, a redaction, a sampling
 * condition) is an error naming the row (SQLSTATE XX001), never read as
 * some default.
 *
 * Any change to the catalog tables fires a statement trigger that sends a
 * relcache invalidation for telemetry.event_defs (see
 * telemetry_catalog_changed); it reaches every backend at commit, and our
 * relcache callback then throws the whole cache away.  Dropping and
 * recreating the extension invalidates the same way.
 */
#include "spec_cache.h"
#include "sample_condition.h"

#include "catalog/namespace.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

PG_FUNCTION_INFO_V1(telemetry_catalog_changed);

#define CACHE_MAX_ENTRIES 10000
#define CACHE_KEY_LEN (2 * 130 + 2)

typedef struct CacheEntry
{
	char		key[CACHE_KEY_LEN]; /* event \x01 request */
	CompiledEvent *ev;
} CacheEntry;

static HTAB *cache = NULL;
static MemoryContext cache_cxt = NULL;
static bool cache_valid = false;
static bool callback_registered = false;

/*
 * What the cache knows besides compiled events: relation OIDs, the owner
 * and the redaction key.  Refreshed on its own (aux_valid), never by
 * freeing compiled events: a caller may be using one while it asks for the
 * owner or the key, and an invalidation can arrive in between (at any lock
 * acquisition).  Compiled events are thrown away only at the start of a
 * lookup, when no caller holds one.
 */
static bool aux_valid = false;
static MemoryContext aux_cxt = NULL;
static Oid	catalog_relid = InvalidOid;
static Oid	default_partition_relid = InvalidOid;
static Oid	events_relid = InvalidOid;
static Oid	extension_owner = InvalidOid;
static unsigned char *redaction_key = NULL;
static int	redaction_key_len = 0;

/* Relcache callback: any invalidation of our catalog table drops the cache. */
static void
spec_cache_inval_callback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == catalog_relid)
	{
		cache_valid = false;
		aux_valid = false;
	}
}

/* Look up the relation OIDs and the owner again; forget the redaction key. */
static void
spec_cache_refresh_aux(void)
{
	Oid			nsp;

	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(spec_cache_inval_callback, (Datum) 0);
		callback_registered = true;
	}
	if (aux_cxt == NULL)
		aux_cxt = AllocSetContextCreate(CacheMemoryContext, "telemetry spec cache keys",
										ALLOCSET_SMALL_SIZES);
	else
		MemoryContextReset(aux_cxt);
	redaction_key = NULL;
	redaction_key_len = 0;
	aux_valid = true;
	nsp = get_namespace_oid("telemetry", true);
	catalog_relid = get_relname_relid("event_defs", nsp);
	default_partition_relid = get_relname_relid("events_default", nsp);
	events_relid = get_relname_relid("events", nsp);
	extension_owner = telemetry_extension_owner();
}

/*
 * Throw away everything compiled so far and start an empty cache.  Only at
 * the start of a lookup (see aux_valid above).
 */
static void
spec_cache_reset(void)
{
	HASHCTL		ctl;

	if (cache_cxt == NULL)
		cache_cxt = AllocSetContextCreate(CacheMemoryContext, "telemetry spec cache",
										  ALLOCSET_DEFAULT_SIZES);
	else
		MemoryContextReset(cache_cxt);

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = CACHE_KEY_LEN;
	ctl.entrysize = sizeof(CacheEntry);
	ctl.hcxt = cache_cxt;
	cache = hash_create("telemetry spec cache", 64, &ctl,
						HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	cache_valid = true;
	if (!aux_valid)
		spec_cache_refresh_aux();
}

/* Name of a property type, for messages. */
const char *
prop_type_name(PropType t)
{
	return spec_enum_name(&spec_prop_types, t);
}

/* A catalog value the compiler does not know: an error naming the row. */
static void
catalog_error(const char *table, const char *row, const char *what, const char *value)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("telemetry catalog: %s has %s%s%s%s", row, what,
					value ? " \"" : "", value ? value : "", value ? "\"" : ""),
			 errdetail("The row is in %s; the value is not in the spec vocabulary.", table),
			 errhint("Register the spec again, or correct the row.")));
}

/* A vocabulary value of a catalog row, or the error. */
static int
catalog_enum(const SpecEnum *e, const char *value, const char *table, const char *row)
{
	int			v = value ? spec_enum_parse(e, value, strlen(value)) : -1;

	if (v < 0)
		catalog_error(table, row, psprintf("an unknown %s", e->what), value ? value : "(null)");
	return v;
}

/* jsonb orders object keys by length, then bytes; we sort the same way. */
static int
prop_cmp(const void *a, const void *b)
{
	const CompiledProperty *pa = a;
	const CompiledProperty *pb = b;

	if (pa->namelen != pb->namelen)
		return pa->namelen < pb->namelen ? -1 : 1;
	return memcmp(pa->name, pb->name, pa->namelen);
}

/* Find a declared key by name (binary search), or NULL. */
const CompiledProperty *
propset_find(const CompiledPropSet *set, const char *name, int namelen)
{
	int			lo = 0,
				hi = set->n - 1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;
		const CompiledProperty *p = &set->props[mid];
		int			c;

		if (p->namelen != namelen)
			c = p->namelen < namelen ? -1 : 1;
		else
			c = memcmp(p->name, name, namelen);
		if (c == 0)
			return p;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return NULL;
}

static char *
spi_text(HeapTuple tup, TupleDesc desc, int col)
{
	return SPI_getvalue(tup, desc, col);
}

/* The stored conditions of an event, parsed into cache_cxt. */
static void
compile_conditions(CompiledEvent *ev, HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);
	Datum	   *items;
	bool	   *nulls;
	int			n;
	char	   *row = psprintf("event \"%s\" %s", ev->event, ev->version);

	if (isnull)
		return;
	deconstruct_array(DatumGetArrayTypeP(d), TEXTOID, -1, false, TYPALIGN_INT, &items, &nulls, &n);
	if (n == 0)
		return;
	ev->conditions = MemoryContextAllocZero(cache_cxt, sizeof(SampleCondition) * n);
	for (int i = 0; i < n; i++)
	{
		char	   *ctext = nulls[i] ? NULL : TextDatumGetCString(items[i]);
		MemoryContext oldcxt;
		char	   *problem;

		if (ctext == NULL)
			catalog_error("telemetry.event_defs", row, "a null sampling condition", NULL);
		oldcxt = MemoryContextSwitchTo(cache_cxt);
		problem = sample_condition_parse(ctext, strlen(ctext), &ev->conditions[i]);
		MemoryContextSwitchTo(oldcxt);
		if (problem != NULL)
			catalog_error("telemetry.event_defs", row, "a sampling condition it cannot parse", ctext);
		if (propset_find(&ev->props, ev->conditions[i].property, ev->conditions[i].proplen) == NULL)
			catalog_error("telemetry.event_defs", row, "a sampling condition on an undeclared property", ctext);
	}
	ev->nconditions = n;
}

/*
 * Resolve and compile an event definition with SPI.  Returns NULL when no
 * registered version matches.  Everything kept is copied into cache_cxt.
 * *deprecated is set to what a deprecated event's warning says, or NULL.
 */
static CompiledEvent *
compile_event(const char *event, const char *request, char **deprecated)
{
	CompiledEvent *ev = NULL;
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Datum		args[2];
	char		nulls[2] = {' ', request ? ' ' : 'n'};
	int			ret;
	char	   *version;
	MemoryContext oldcxt;
	HeapTuple	etup;
	TupleDesc	edesc;
	char	   *stability;

	*deprecated = NULL;
	args[0] = CStringGetTextDatum(event);
	args[1] = request ? CStringGetTextDatum(request) : (Datum) 0;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	ret = SPI_execute_with_args(
								"SELECT e.version, e.spec_key, "
								"  telemetry._effective_sampling_rate(e.sampling_rate, s.default_sampling_rate), e.sampling_by, "
								"  telemetry._effective_retention_days(e.retention_days, s.default_retention_days, 0), "
								"  e.sampling_conditions, "
								"  s.stability, s.version, "
								"  (SELECT n.version FROM telemetry._resolve_event(e.event, NULL) n), "
								"  (SELECT l.version FROM telemetry.specs l WHERE l.key = e.spec_key "
								"   ORDER BY l.version_key DESC, l.version DESC LIMIT 1) "
								"FROM telemetry._resolve_event($1, $2) e "
								"JOIN telemetry.specs s ON s.key = e.spec_key AND s.version = e.spec_version",
								2, argtypes, args, nulls, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "telemetry: resolving event failed: %d", ret);
	if (SPI_processed == 0)
	{
		SPI_finish();
		return NULL;
	}
	etup = SPI_tuptable->vals[0];
	edesc = SPI_tuptable->tupdesc;

	oldcxt = MemoryContextSwitchTo(cache_cxt);
	ev = palloc0(sizeof(CompiledEvent));
	ev->event = pstrdup(event);
	version = spi_text(etup, edesc, 1);
	ev->version = pstrdup(version);
	ev->spec = pstrdup(spi_text(etup, edesc, 2));
	ev->sample_rate = strtod(spi_text(etup, edesc, 3), NULL);
	{
		char	   *by = spi_text(etup, edesc, 4);

		ev->sample_by = by ? pstrdup(by) : NULL;
	}
	ev->retention_days = atoi(spi_text(etup, edesc, 5));
	MemoryContextSwitchTo(oldcxt);
	if (!(ev->sample_rate >= 0.0 && ev->sample_rate <= 1.0) || ev->retention_days < 0)
		catalog_error("telemetry.event_defs", psprintf("event \"%s\" %s", event, ev->version),
					  "a sampling rate or retention out of range", NULL);

	/* a deprecated governing spec version: what the warning says */
	stability = spi_text(etup, edesc, 7);
	if (stability != NULL &&
		catalog_enum(&spec_stabilities, stability, "telemetry.specs",
					 psprintf("spec \"%s\" %s", ev->spec, spi_text(etup, edesc, 8))) == STABILITY_DEPRECATED)
	{
		char	   *newest = spi_text(etup, edesc, 9);
		char	   *latest = spi_text(etup, edesc, 10);
		char	   *spec_version = spi_text(etup, edesc, 8);
		char	   *use;

		if (newest != NULL && strcmp(newest, ev->version) != 0)
			use = psprintf("version %s of the event is registered", newest);
		else if (latest != NULL && strcmp(latest, spec_version) != 0)
			use = psprintf("spec \"%s\" %s is registered", ev->spec, latest);
		else
			use = pstrdup("no newer version is registered");
		*deprecated = MemoryContextStrdup(TopMemoryContext,
										  psprintf("%s|spec \"%s\" %s", use, ev->spec, spec_version));
	}

	args[1] = CStringGetTextDatum(ev->version);
	nulls[1] = ' ';
	{
		SPITupleTable *etable = SPI_tuptable;

		ret = SPI_execute_with_args(
									"SELECT scope, name, type, required, redaction "
									"FROM telemetry.event_properties WHERE event = $1 AND version = $2",
									2, argtypes, args, nulls, true, 0);
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "telemetry: reading properties failed: %d", ret);

		oldcxt = MemoryContextSwitchTo(cache_cxt);
		ev->props.props = palloc0(sizeof(CompiledProperty) * (SPI_processed + 1));
		ev->context.props = palloc0(sizeof(CompiledProperty) * (SPI_processed + 1));
		MemoryContextSwitchTo(oldcxt);
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			char	   *scope = spi_text(tup, desc, 1);
			char	   *name = spi_text(tup, desc, 2);
			char	   *row = psprintf("property \"%s\" of event \"%s\" %s", name, event, ev->version);
			CompiledPropSet *set;
			CompiledProperty *p;
			char	   *req = spi_text(tup, desc, 4);
			char	   *redaction = spi_text(tup, desc, 5);

			if (strcmp(scope, "property") == 0)
				set = &ev->props;
			else if (strcmp(scope, "context") == 0)
				set = &ev->context;
			else
				catalog_error("telemetry.event_properties", row, "an unknown scope", scope);
			p = &set->props[set->n++];
			p->name = MemoryContextStrdup(cache_cxt, name);
			p->namelen = strlen(p->name);
			p->type = catalog_enum(&spec_prop_types, spi_text(tup, desc, 3), "telemetry.event_properties", row);
			p->required = req && req[0] == 't';
			p->redaction = redaction == NULL ? REDACT_NONE :
				catalog_enum(&spec_redactions, redaction, "telemetry.event_properties", row);
			if (p->redaction != REDACT_NONE)
				set->any_redaction = true;
			if (p->required)
				set->nrequired++;
		}
		qsort(ev->props.props, ev->props.n, sizeof(CompiledProperty), prop_cmp);
		qsort(ev->context.props, ev->context.n, sizeof(CompiledProperty), prop_cmp);
		compile_conditions(ev, etup, etable->tupdesc, 6);
	}

	SPI_finish();
	return ev;
}

/*
 * Tracking an event version whose governing spec version is deprecated
 * warns once per backend and event version, naming what is newer.
 */
static void
warn_deprecated(const CompiledEvent *ev, char *note)
{
	static HTAB *warned = NULL;
	char		key[CACHE_KEY_LEN];
	bool		found;
	char	   *sep = strchr(note, '|');

	if (warned == NULL)
	{
		HASHCTL		ctl;

		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = CACHE_KEY_LEN;
		ctl.entrysize = CACHE_KEY_LEN;
		ctl.hcxt = TopMemoryContext;
		warned = hash_create("telemetry deprecated events", 16, &ctl,
							 HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	}
	snprintf(key, sizeof(key), "%s\x01%s", ev->event, ev->version);
	(void) hash_search(warned, key, HASH_ENTER, &found);
	if (!found)
	{
		*sep = '\0';
		ereport(WARNING,
				(errmsg("telemetry event \"%s\" %s is deprecated: %s", ev->event, ev->version, note),
				 errdetail("Its %s is deprecated.", sep + 1),
				 errhint("This warning is given once per session and event version.")));
	}
	pfree(note);
}

/* compile_event with the owner's rights and a pinned search_path. */
static CompiledEvent *
compile_event_as_owner(const char *event, const char *request)
{
	TelemetryOwnerContext octx;
	CompiledEvent *ev;
	char	   *deprecated;

	telemetry_become_owner(&octx, spec_cache_owner(), true);
	ev = compile_event(event, request, &deprecated);
	telemetry_restore_user(&octx);
	if (deprecated != NULL)
		warn_deprecated(ev, deprecated);
	return ev;
}

/*
 * The compiled definition an (event, version request) resolves to, or NULL
 * when none is registered.  request NULL means the latest version.
 */
CompiledEvent *
spec_cache_lookup(const char *event, const char *request)
{
	char		key[CACHE_KEY_LEN];
	CacheEntry *entry;
	bool		found;
	CompiledEvent *ev;

	if (strlen(event) > 128 || (request && strlen(request) > 128))
		return NULL;			/* longer than any registered key or version */

	if (!cache_valid || cache == NULL)
		spec_cache_reset();

	/* "event \x01 request" ("\x02" for none); both fit, checked above */
	{
		size_t		elen = strlen(event);
		const char *r = request ? request : "\x02";
		size_t		rlen = strlen(r);

		memcpy(key, event, elen);
		key[elen] = '\x01';
		memcpy(key + elen + 1, r, rlen + 1);
	}
	entry = hash_search(cache, key, HASH_FIND, NULL);
	if (entry)
		return entry->ev;

	ev = compile_event_as_owner(event, request);
	if (ev == NULL)
		return NULL;

	/* an invalidation may have arrived while we ran SPI: start over clean */
	if (!cache_valid)
	{
		spec_cache_reset();
		ev = compile_event_as_owner(event, request);
		if (ev == NULL)
			return NULL;
	}
	if (hash_get_num_entries(cache) >= CACHE_MAX_ENTRIES)
	{
		spec_cache_reset();
		ev = compile_event_as_owner(event, request);
		if (ev == NULL)
			return NULL;
	}
	entry = hash_search(cache, key, HASH_ENTER, &found);
	entry->ev = ev;
	return ev;
}

/* The extension's owner, as whom the hot path writes. */
Oid
spec_cache_owner(void)
{
	if (!aux_valid)
		spec_cache_refresh_aux();
	if (!OidIsValid(extension_owner))
		telemetry_not_installed();
	return extension_owner;
}

/* The events table's default partition (InvalidOid if missing). */
Oid
spec_cache_default_partition(void)
{
	if (!aux_valid)
		spec_cache_refresh_aux();
	return default_partition_relid;
}

/* telemetry.events (InvalidOid if missing). */
Oid
spec_cache_events_relation(void)
{
	if (!aux_valid)
		spec_cache_refresh_aux();
	return events_relid;
}

/* The per-database key used by "redaction": "hash", loaded once. */
const unsigned char *
spec_cache_redaction_key(int *len)
{
	if (!aux_valid)
		spec_cache_refresh_aux();
	if (redaction_key == NULL)
	{
		bytea	   *k;
		bool		isnull;
		MemoryContext oldcxt;
		TelemetryOwnerContext octx;

		telemetry_become_owner(&octx, spec_cache_owner(), true);

		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		if (SPI_execute("SELECT key FROM telemetry.redaction_key", true, 1) != SPI_OK_SELECT ||
			SPI_processed != 1)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("telemetry redaction key is missing"),
					 errhint("Reinstall the extension, or restore telemetry.redaction_key from a backup.")));
		k = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		oldcxt = MemoryContextSwitchTo(aux_cxt);
		redaction_key_len = VARSIZE_ANY_EXHDR(k);
		redaction_key = palloc(redaction_key_len);
		memcpy(redaction_key, VARDATA_ANY(k), redaction_key_len);
		MemoryContextSwitchTo(oldcxt);
		SPI_finish();
		telemetry_restore_user(&octx);
	}
	*len = redaction_key_len;
	return redaction_key;
}

/*
 * Statement trigger on the catalog tables: tell every backend (at commit)
 * that compiled definitions are stale.
 */
Datum
telemetry_catalog_changed(PG_FUNCTION_ARGS)
{
	Oid			relid;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("telemetry._catalog_changed() must be called as a trigger")));
	/*
	 * Only on the extension's own tables (schema telemetry, which only its
	 * owner can create tables in): anyone else's table could otherwise make
	 * every tracking backend rebuild its cache in a loop.
	 */
	if (RelationGetNamespace(((TriggerData *) fcinfo->context)->tg_relation) !=
		get_namespace_oid("telemetry", false))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("telemetry._catalog_changed() may only be a trigger on a table of schema telemetry")));
	relid = get_relname_relid("event_defs", get_namespace_oid("telemetry", false));
	if (OidIsValid(relid))
		CacheInvalidateRelcacheByRelid(relid);
	return PointerGetDatum(NULL);
}
