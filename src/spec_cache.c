/*
 * spec_cache.c
 *		Per-backend cache of compiled event definitions.
 *
 * telemetry_track must not run catalog SQL per event (pg_jsonschema's lesson:
 * compiling once is an order of magnitude faster).  The first call for an
 * (event, version request) pair resolves it with SPI and compiles the
 * definition into CacheMemoryContext; later calls are a hash lookup.
 *
 * Any change to the catalog tables fires a statement trigger that sends a
 * relcache invalidation for telemetry.event_defs (see
 * telemetry_catalog_changed); it reaches every backend at commit, and our
 * relcache callback then throws the whole cache away.  Dropping and
 * recreating the extension invalidates the same way.
 */
#include "spec_cache.h"

#include "catalog/namespace.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
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
	switch (t)
	{
		case PROP_STRING:
			return "string";
		case PROP_NUMBER:
			return "number";
		case PROP_BOOLEAN:
			return "boolean";
		case PROP_TIMESTAMP:
			return "timestamp";
		case PROP_JSON:
			return "json";
	}
	return "unknown";
}

static PropType
parse_prop_type(const char *s)
{
	if (strcmp(s, "string") == 0)
		return PROP_STRING;
	if (strcmp(s, "number") == 0)
		return PROP_NUMBER;
	if (strcmp(s, "boolean") == 0)
		return PROP_BOOLEAN;
	if (strcmp(s, "timestamp") == 0)
		return PROP_TIMESTAMP;
	return PROP_JSON;
}

static Redaction
parse_redaction(const char *s)
{
	if (s == NULL)
		return REDACT_NONE;
	if (strcmp(s, "hash") == 0)
		return REDACT_HASH;
	if (strcmp(s, "drop") == 0)
		return REDACT_DROP;
	return REDACT_MASK;
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

/*
 * Resolve and compile an event definition with SPI.  Returns NULL when no
 * registered version matches.  Everything kept is copied into cache_cxt.
 */
static CompiledEvent *
compile_event(const char *event, const char *request)
{
	CompiledEvent *ev = NULL;
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Datum		args[2];
	char		nulls[2] = {' ', request ? ' ' : 'n'};
	int			ret;
	char	   *version;
	MemoryContext oldcxt;

	args[0] = CStringGetTextDatum(event);
	args[1] = request ? CStringGetTextDatum(request) : (Datum) 0;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	ret = SPI_execute_with_args(
								"SELECT e.version, e.spec_key || '@' || e.spec_version, "
								"  COALESCE(e.sampling_rate, s.default_sampling_rate, 1), e.sampling_by, "
								"  COALESCE(e.retention_days, s.default_retention_days, 0) "
								"FROM telemetry.event_defs e "
								"JOIN telemetry.specs s ON s.key = e.spec_key AND s.version = e.spec_version "
								"WHERE e.event = $1 AND telemetry._version_matches(e.version, $2) "
								"ORDER BY e.version_key DESC, e.version DESC LIMIT 1",
								2, argtypes, args, nulls, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "telemetry: resolving event failed: %d", ret);
	if (SPI_processed == 0)
	{
		SPI_finish();
		return NULL;
	}

	oldcxt = MemoryContextSwitchTo(cache_cxt);
	ev = palloc0(sizeof(CompiledEvent));
	ev->event = pstrdup(event);
	version = spi_text(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	ev->version = pstrdup(version);
	ev->spec = pstrdup(spi_text(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2));
	ev->sample_rate = strtod(spi_text(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3), NULL);
	{
		char	   *by = spi_text(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4);

		ev->sample_by = by ? pstrdup(by) : NULL;
	}
	ev->retention_days = atoi(spi_text(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 5));
	MemoryContextSwitchTo(oldcxt);

	args[1] = CStringGetTextDatum(ev->version);
	nulls[1] = ' ';
	ret = SPI_execute_with_args(
								"SELECT scope, name, type, required, redaction "
								"FROM telemetry.event_properties WHERE event = $1 AND version = $2",
								2, argtypes, args, nulls, true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "telemetry: reading properties failed: %d", ret);

	oldcxt = MemoryContextSwitchTo(cache_cxt);
	ev->props.props = palloc0(sizeof(CompiledProperty) * (SPI_processed + 1));
	ev->context.props = palloc0(sizeof(CompiledProperty) * (SPI_processed + 1));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		char	   *scope = spi_text(tup, desc, 1);
		CompiledPropSet *set = strcmp(scope, "context") == 0 ? &ev->context : &ev->props;
		CompiledProperty *p = &set->props[set->n++];
		char	   *req = spi_text(tup, desc, 4);

		p->name = pstrdup(spi_text(tup, desc, 2));
		p->namelen = strlen(p->name);
		p->type = parse_prop_type(spi_text(tup, desc, 3));
		p->required = req && req[0] == 't';
		p->redaction = parse_redaction(spi_text(tup, desc, 5));
		if (p->redaction != REDACT_NONE)
			set->any_redaction = true;
		if (p->required)
			set->nrequired++;
	}
	qsort(ev->props.props, ev->props.n, sizeof(CompiledProperty), prop_cmp);
	qsort(ev->context.props, ev->context.n, sizeof(CompiledProperty), prop_cmp);
	MemoryContextSwitchTo(oldcxt);

	SPI_finish();
	return ev;
}

/* compile_event with the owner's rights and a pinned search_path. */
static CompiledEvent *
compile_event_as_owner(const char *event, const char *request)
{
	TelemetryOwnerContext octx;
	CompiledEvent *ev;

	telemetry_become_owner(&octx, spec_cache_owner(), true);
	ev = compile_event(event, request);
	telemetry_restore_user(&octx);
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
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"telemetry\" is not installed in this database")));
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
