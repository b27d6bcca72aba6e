/*
 * track_batch.c
 *		telemetry_track_batch(): the events of one request in one call.
 *
 * An application that tracks several events per request sends them as one
 * JSON array instead of one round trip each.  Every item goes through the
 * same pipeline as telemetry_track (track.c): validated, sampled, redacted;
 * the rows are written together with multi-row inserts when the batch ends.
 */
#include "telemetry.h"
#include "event_check.h"
#include "spec_cache.h"
#include "track.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/tuplestore.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

PG_FUNCTION_INFO_V1(telemetry_track_batch);

/* The keys an item may have. */
static const char *const item_keys[] = {
	"event", "version", "properties", "context", "occurred_at"
};

/* Error context: which item a failure (e.g. a bad timestamp) comes from. */
static void
batch_error_callback(void *arg)
{
	errcontext("telemetry_track_batch item events[%d]", *(int *) arg);
}

/* An item's member, or NULL when absent or JSON null. */
static JsonbValue *
item_member(JsonbContainer *item, const char *key)
{
	JsonbValue *v = getKeyJsonValueFromContainer(item, key, strlen(key), NULL);

	return (v == NULL || v->type == jbvNull) ? NULL : v;
}

/* A string member as a C string, or NULL; anything else is an error. */
static char *
item_text(JsonbContainer *item, int index, const char *key)
{
	JsonbValue *v = item_member(item, key);

	if (v == NULL)
		return NULL;
	if (v->type == jbvString)
		return pnstrdup(v->val.string.val, v->val.string.len);
	if (v->type == jbvNumeric && strcmp(key, "version") == 0)
		/* the seed's integer form: 1 means the highest 1.x.y */
		return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("events[%d].%s: must be a string", index, key),
			 errhidestmt(true)));
	return NULL;
}

/* An object member as a Jsonb ({} when absent); anything else is an error. */
static Jsonb *
item_object(JsonbContainer *item, int index, const char *key)
{
	JsonbValue *v = item_member(item, key);

	if (v == NULL)
		return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")));
	if (v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("events[%d].%s: must be a JSON object", index, key),
				 errhidestmt(true)));
	return JsonbValueToJsonb(v);
}

/* Check an item's shape: an object with known keys only. */
static void
check_item(JsonbValue *v, int index)
{
	JsonbIterator *it;
	JsonbValue	k;
	JsonbIteratorToken tok;

	if (v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("events[%d]: must be a JSON object with \"event\" and optionally \"version\", \"properties\", \"context\", \"occurred_at\"",
						index),
				 errhidestmt(true)));
	it = JsonbIteratorInit(v->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		bool		known = false;

		if (tok != WJB_KEY)
			continue;
		for (int i = 0; i < lengthof(item_keys); i++)
			if (k.val.string.len == strlen(item_keys[i]) &&
				memcmp(k.val.string.val, item_keys[i], k.val.string.len) == 0)
				known = true;
		if (!known)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("events[%d]: unknown key \"%.*s\" (allowed: event, version, properties, context, occurred_at)",
							index, Min(k.val.string.len, 64), k.val.string.val),
					 errhidestmt(true)));
	}
}

/*
 * SQL: telemetry_track_batch(events jsonb) RETURNS SETOF uuid
 *
 * One row per item, in order: the stored event's id, or NULL when it was
 * sampled out, expired or quarantined.
 */
Datum
telemetry_track_batch(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Jsonb	   *events;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	TrackBatch	batch = {0};
	ErrorContextCallback errcb;
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	int			n;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("events must not be null")));
	events = PG_GETARG_JSONB_P(0);
	if (!JB_ROOT_IS_ARRAY(events) || JB_ROOT_IS_SCALAR(events))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("events must be a JSON array of event objects"),
				 errhidestmt(true)));
	n = JB_ROOT_COUNT(events);
	if (n > telemetry_max_batch_events)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("a batch of %d events is more than telemetry.max_batch_events (%d)",
						n, telemetry_max_batch_events),
				 errhint("Send the events in smaller batches."),
				 errhidestmt(true)));
	if (VARSIZE(events) > (Size) telemetry_max_batch_bytes)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("a batch of %zu bytes is more than telemetry.max_batch_bytes (%d)",
						(Size) VARSIZE(events), telemetry_max_batch_bytes),
				 errhint("Send the events in smaller batches."),
				 errhidestmt(true)));

	/* a one-column materialized result (InitMaterializedSRF wants a row type) */
	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) ||
		!(rsinfo->allowedModes & SFRM_Materialize))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("telemetry_track_batch must be called in a context that accepts a set")));
	{
		MemoryContext old = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
		TupleDesc	desc = CreateTemplateTupleDesc(1);

		TupleDescInitEntry(desc, (AttrNumber) 1, "id", UUIDOID, -1, 0);
		rsinfo->returnMode = SFRM_Materialize;
		rsinfo->setResult = tuplestore_begin_heap(true, false, work_mem);
		rsinfo->setDesc = desc;
		MemoryContextSwitchTo(old);
	}

	errcb.callback = batch_error_callback;
	errcb.arg = &batch.index;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;

	it = JsonbIteratorInit(&events->root);
	batch.index = -1;
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		JsonbContainer *item;
		char	   *event;
		char	   *version;
		char	   *at;
		Jsonb	   *props;
		Jsonb	   *ctx;
		TimestampTz occurred_at = now;
		pg_uuid_t  *id;
		Datum		value;
		bool		isnull;

		if (tok != WJB_ELEM)
			continue;
		batch.index++;
		check_item(&v, batch.index);
		item = v.val.binary.data;
		event = item_text(item, batch.index, "event");
		if (event == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("events[%d].event: required string is missing", batch.index),
					 errhidestmt(true)));
		version = item_text(item, batch.index, "version");
		props = item_object(item, batch.index, "properties");
		ctx = item_object(item, batch.index, "context");
		at = item_text(item, batch.index, "occurred_at");
		if (at != NULL && !event_is_timestamptz(at, strlen(at)))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_DATETIME_FORMAT),
					 errmsg("events[%d].occurred_at: must be a timestamp", batch.index),
					 errhidestmt(true)));
		if (at != NULL)
			occurred_at = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in,
																  CStringGetDatum(at),
																  ObjectIdGetDatum(InvalidOid),
																  Int32GetDatum(-1)));

		id = track_event(event, version, props, ctx, occurred_at, false, &batch);
		isnull = (id == NULL);
		value = isnull ? (Datum) 0 : UUIDPGetDatum(id);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &value, &isnull);
	}
	if (batch.ins != NULL)
	{
		TelemetryOwnerContext octx;

		/* written as the owner, like each row of telemetry_track */
		telemetry_become_owner(&octx, spec_cache_owner(), false);
		event_inserter_end(batch.ins);
		telemetry_restore_user(&octx);
	}
	error_context_stack = errcb.previous;
	return (Datum) 0;
}
