/*
 * delivery_read.c
 *		Read events for a delivery pass and render their items, within a
 *		byte budget.
 *
 * The raw columns come through an SPI cursor, a few rows a fetch; each
 * event's item is rendered in C (the provider type's item builder) into a
 * bounded writer, in a context that is reset after every event.  So the
 * memory of a pass is bounded by configuration whatever was stored:
 *
 * - an event whose stored JSON is too large to render within the type's
 *   event limit is refused from its stored size, before it is detoasted;
 * - rendering stops as soon as an item passes the type's event limit (such
 *   an event is dead-lettered with the reason, never sent);
 * - the items a pass keeps, counted twice (the request bodies copy them)
 *   plus a fixed cost per event, stay under telemetry.delivery_pass_bytes;
 *   reading stops when the next one would not fit.
 */
#include "telemetry.h"
#include "delivery.h"

#include "access/detoast.h"
#include "access/htup_details.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

PG_FUNCTION_INFO_V1(telemetry_delivery_item);

#define DELIVERY_FETCH_ROWS		64
#define DELIVERY_EVENT_COST		256 /* an event's fixed share of the budget */

/* Columns of the claim queries (delivery_claim.c) */
enum
{
	COL_ID = 1, COL_XID, COL_EVENT, COL_VERSION, COL_SPEC, COL_OCCURRED_AT,
	COL_RECEIVED_AT, COL_PROPERTIES, COL_CONTEXT, COL_REPLAY
};

static int64 pass_bytes_left = 0;
static bool pass_admitted = false;

/* Start the budget of a new pass. */
void
delivery_budget_reset(void)
{
	pass_bytes_left = telemetry_delivery_pass_bytes;
	pass_admitted = false;
	identity_reset();
}

/* Whether the pass has no budget left. */
bool
delivery_budget_exhausted(void)
{
	return pass_bytes_left <= 0;
}

/*
 * The largest stored size (properties, context and names, uncompressed)
 * that may still render within a type's event limit: jsonb's binary form
 * can be up to about four times its text (a one-digit number takes 12
 * bytes stored and 3 rendered).
 */
static Size
stored_limit(const DeliveryFormat *f)
{
	return (Size) f->max_event_bytes * 4 + 65536;
}

/* ->> of a context key: NULL when absent or null; false when too long. */
static bool
context_text(Jsonb *ctx, const char *key, int limit, char **s, int *len)
{
	JsonbValue	buf;
	JsonbValue *v;

	*s = NULL;
	*len = 0;
	if (ctx == NULL || !JB_ROOT_IS_OBJECT(ctx))
		return true;
	v = getKeyJsonValueFromContainer(&ctx->root, key, strlen(key), &buf);
	if (v == NULL || v->type == jbvNull)
		return true;
	return json_value_as_text(v, limit, s, len);
}

/*
 * Render one event's item from its raw columns (datums as stored, maybe
 * toasted).  Returns the item (palloc'd in the current context) or NULL
 * with *reason set when the event is too large for the type.
 */
static char *
render(const DeliveryFormat *f, const char *id, Datum *cols, bool *nulls,
	   int *len, char **reason)
{
	static const int varlena_cols[] = {COL_EVENT, COL_VERSION, COL_SPEC, COL_PROPERTIES, COL_CONTEXT};
	Size		stored = 0;
	DeliveryRow row;
	JsonOut		out;

	*reason = NULL;
	for (int i = 0; i < lengthof(varlena_cols); i++)
		if (!nulls[varlena_cols[i] - 1])
			stored += toast_raw_datum_size(cols[varlena_cols[i] - 1]);
	if (stored > stored_limit(f))
	{
		*reason = psprintf("event is stored as %zu bytes, too large to render within the %d bytes %s accepts",
						   stored, f->max_event_bytes, f->type);
		return NULL;
	}

	memset(&row, 0, sizeof(row));
	row.id = id;
	row.event = nulls[COL_EVENT - 1] ? NULL : DatumGetTextPP(cols[COL_EVENT - 1]);
	row.version = nulls[COL_VERSION - 1] ? NULL : DatumGetTextPP(cols[COL_VERSION - 1]);
	row.spec = nulls[COL_SPEC - 1] ? NULL : DatumGetTextPP(cols[COL_SPEC - 1]);
	row.occurred_at = DatumGetTimestampTz(cols[COL_OCCURRED_AT - 1]);
	row.received_at = DatumGetTimestampTz(cols[COL_RECEIVED_AT - 1]);
	row.properties = nulls[COL_PROPERTIES - 1] ? NULL : DatumGetJsonbP(cols[COL_PROPERTIES - 1]);
	row.context = nulls[COL_CONTEXT - 1] ? NULL : DatumGetJsonbP(cols[COL_CONTEXT - 1]);
	if (row.event == NULL || row.version == NULL || row.spec == NULL)
		elog(ERROR, "event %s has a null name, version or spec", id);

	json_out_init(&out, f->max_event_bytes);
	if (!context_text(row.context, "userId", f->max_event_bytes, &row.user_id, &row.user_id_len) ||
		!context_text(row.context, "sessionId", f->max_event_bytes, &row.session_id, &row.session_id_len))
		out.over = true;
	else
		identity_resolve(&row);
	f->render_item(&out, &row);
	if (out.over)
	{
		*reason = psprintf("event renders to more than the %d bytes %s accepts",
						   f->max_event_bytes, f->type);
		return NULL;
	}
	*len = out.buf.len;
	return out.buf.data;
}

/*
 * Read and render events from an open cursor of a claim query, at most
 * max_rows, into an array allocated in cxt.  Sets *stopped when the pass's
 * budget ran out before the cursor did (the rest waits for a later pass).
 */
DeliveryEvent *
delivery_read_events(MemoryContext cxt, DeliveryProvider *prov, Portal portal,
					 int max_rows, int *nevents, bool *stopped)
{
	const DeliveryFormat *f = prov->format;
	MemoryContext item_cxt = AllocSetContextCreate(cxt, "telemetry delivery item",
												   ALLOCSET_DEFAULT_SIZES);
	int			cap = Max(1, Min(max_rows, 256));
	int			n = 0;
	DeliveryEvent *ev = MemoryContextAllocZero(cxt, sizeof(DeliveryEvent) * cap);

	*stopped = false;
	while (n < max_rows && !*stopped)
	{
		uint64		got;

		SPI_cursor_fetch(portal, true, Min(DELIVERY_FETCH_ROWS, max_rows - n));
		got = SPI_processed;
		if (got == 0)
			break;
		for (uint64 i = 0; i < got; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			Datum		cols[COL_REPLAY];
			bool		nulls[COL_REPLAY];
			MemoryContext old;
			char	   *id;
			char	   *item;
			char	   *reason;
			int			len = 0;
			int64		cost;
			bool		routed_away;

			CHECK_FOR_INTERRUPTS();
			heap_deform_tuple(tup, desc, cols, nulls);
			old = MemoryContextSwitchTo(item_cxt);
			id = TextDatumGetCString(cols[COL_ID - 1]);
			/*
			 * An event routed away from this provider is passed over, never
			 * rendered: its cursor moves past it.  A type that receives only
			 * alerts (slack) passes over every event.
			 */
			routed_away = f->alerts_only ||
				(prov->routed_away != NULL && !nulls[COL_EVENT - 1] && !nulls[COL_VERSION - 1] &&
				 delivery_routed_away(prov->routed_away, DatumGetTextPP(cols[COL_EVENT - 1]),
									  DatumGetTextPP(cols[COL_VERSION - 1])));
			item = routed_away ? NULL : render(f, id, cols, nulls, &len, &reason);
			cost = DELIVERY_EVENT_COST + (item ? 2 * (int64) len : 0);
			if (cost > pass_bytes_left && pass_admitted)
			{
				MemoryContextSwitchTo(old);
				*stopped = true;
				break;
			}
			pass_bytes_left -= cost;
			pass_admitted = true;

			MemoryContextSwitchTo(cxt);
			if (n == cap)
			{
				cap *= 2;
				ev = repalloc(ev, sizeof(DeliveryEvent) * cap);
			}
			memset(&ev[n], 0, sizeof(DeliveryEvent));
			ev[n].id = pstrdup(id);
			ev[n].xid = TextDatumGetCString(cols[COL_XID - 1]);
			ev[n].occurred_at = DatumGetTimestampTz(cols[COL_OCCURRED_AT - 1]);
			ev[n].received_at = DatumGetTimestampTz(cols[COL_RECEIVED_AT - 1]);
			ev[n].replay = !nulls[COL_REPLAY - 1] && DatumGetBool(cols[COL_REPLAY - 1]);
			if (routed_away)
				ev[n].routed_away = true;
			else if (item != NULL)
			{
				ev[n].item = palloc(len + 1);
				memcpy(ev[n].item, item, len + 1);
				ev[n].len = len;
			}
			else
				ev[n].skip_reason = pstrdup(reason);
			n++;
			MemoryContextSwitchTo(old);
			MemoryContextReset(item_cxt);
		}
		SPI_freetuptable(SPI_tuptable);
	}
	MemoryContextDelete(item_cxt);
	*nevents = n;
	return ev;
}

/*
 * SQL: telemetry._delivery_item(type text, e telemetry.events) RETURNS text
 *
 * The item a provider type would receive for a stored event, rendered by
 * the same code as delivery (for tests and operators; owner only).  NULL
 * with a notice when the event is too large for the type.
 */
Datum
telemetry_delivery_item(PG_FUNCTION_ARGS)
{
	char	   *type = text_to_cstring(PG_GETARG_TEXT_PP(0));
	HeapTupleHeader rec = PG_GETARG_HEAPTUPLEHEADER(1);
	const DeliveryFormat *f = delivery_format_for(type);
	static const char *const names[] = {
		"id", "xid", "event", "version", "spec", "occurred_at", "received_at",
		"properties", "context"
	};
	Datum		cols[COL_REPLAY];
	bool		nulls[COL_REPLAY];
	char	   *item;
	char	   *reason;
	int			len;

	if (f == NULL || f->render_item == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("provider type \"%s\" sends no events", type)));
	for (int i = 0; i < lengthof(names); i++)
		cols[i] = GetAttributeByName(rec, names[i], &nulls[i]);
	if (nulls[COL_ID - 1])
		PG_RETURN_NULL();
	identity_reset();
	cols[COL_ID - 1] = DirectFunctionCall1(textin, DirectFunctionCall1(uuid_out, cols[COL_ID - 1]));
	item = render(f, TextDatumGetCString(cols[COL_ID - 1]), cols, nulls, &len, &reason);
	if (item == NULL)
	{
		ereport(NOTICE, (errmsg("%s", reason)));
		PG_RETURN_NULL();
	}
	PG_RETURN_TEXT_P(cstring_to_text_with_len(item, len));
}
