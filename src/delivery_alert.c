/*
 * delivery_alert.c
 *		Alerts in a delivery pass, and the routing of events to providers.
 *
 * Alerts: a provider's pending rows of telemetry.alert_queue are claimed
 * with its events, rendered by its type's alert renderer into batches
 * flagged `alerts` (sent like event batches, with the same limits, retry
 * and split rules), and settled here: delivered, dead (a permanent refusal,
 * or still failing telemetry.max_delivery_age after it was queued), or left
 * pending with one more attempt; the provider's backoff applies to both.
 *
 * Routing: an event whose "providers" leaves a provider out is read by
 * that provider's claim like any other (the claim keeps its index scan on
 * (spec, xid, id) and its cursor moves past it), but never rendered or
 * sent: the claim marks it routed away (delivery_read.c) and puts such
 * runs in batches that are settled as passed over.
 */
#include "telemetry.h"
#include "delivery.h"
#include "spi_plan.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/uuid.h"
#include "funcapi.h"

#define ROUTE_KEY_BYTES 1100	/* two keys of SPEC_MAX_KEY_CHARS and a separator */

/* The claim of a provider's pending alerts. */
static SPIPlanPtr
alert_plan(void)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[3] = {TEXTOID, TEXTOID, INT4OID};

	return spi_plan_keep(&plan, 0,
						 "SELECT q.id::text, q.alert_id::text, q.payload, q.summary, "
						 "q.detected_at, q.queued_at "
						 "FROM telemetry.alert_queue q "
						 "WHERE q.spec_key = $1 AND q.provider = $2 AND q.state = 'pending' "
						 "ORDER BY q.id LIMIT $3",
						 3, types);
}

/*
 * Append the members of a JSON object (without its braces), after others
 * when !first.
 */
void
json_out_members(JsonOut *out, Jsonb *obj, bool first)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;

	if (obj == NULL || !JB_ROOT_IS_OBJECT(obj))
		return;
	it = JsonbIteratorInit(&obj->root);
	while (!out->over && (tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			if (!first)
				json_out_lit(out, ", ");
			json_out_string(out, v.val.string.val, v.val.string.len);
			json_out_lit(out, ": ");
			first = false;
		}
		else if (tok == WJB_VALUE)
			json_out_value(out, &v);
	}
}

/*
 * The rest of an alert sent as a tracked event (PostHog, Segment), after
 * its id: , "timestamp": detected_at, "properties": {[first, ]<fields>},
 * "<who_key>": "telemetry:<spec key>"}.  The sender is the spec key, the
 * same for every alert of it, and no person.
 */
void
json_out_alert_track(JsonOut *out, const DeliveryAlert *alert, const char *first,
					 const char *who_key)
{
	char	   *who = psprintf("telemetry:%s", alert->spec_key);

	json_out_lit(out, ", \"timestamp\": ");
	json_out_timestamp(out, alert->detected_at);
	json_out_lit(out, ", \"properties\": {");
	if (first != NULL)
		json_out_raw(out, first, strlen(first));
	json_out_members(out, alert->payload, first == NULL);
	json_out_lit(out, "}, ");
	json_out_string(out, who_key, strlen(who_key));
	json_out_lit(out, ": ");
	json_out_string(out, who, strlen(who));
	json_out_lit(out, "}");
}

/*
 * Claim (and render) at most max_alerts pending alerts of a provider into
 * prov->alerts, one batch per max_batch_events of its type; returns how
 * many.
 */
int
delivery_claim_alerts(MemoryContext cxt, DeliveryProvider *prov, int max_alerts)
{
	const DeliveryFormat *f = prov->format;
	Datum		args[3];
	int			rc;
	uint64		n;
	DeliveryEvent *ev;
	MemoryContext old;
	int			per_batch;

	if (f->render_alert == NULL || max_alerts <= 0)
		return 0;
	args[0] = CStringGetTextDatum(prov->spec_key);
	args[1] = CStringGetTextDatum(prov->name);
	args[2] = Int32GetDatum(max_alerts);
	rc = SPI_execute_plan(alert_plan(), args, NULL, true, 0);
	MemoryContextSwitchTo(cxt); /* SPI may leave its own context current */
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not read telemetry.alert_queue: %s", SPI_result_code_string(rc));
	n = SPI_processed;
	if (n == 0)
		return 0;

	old = MemoryContextSwitchTo(cxt);
	ev = palloc0(sizeof(DeliveryEvent) * n);
	for (uint64 i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		DeliveryAlert a;
		JsonOut		out;
		bool		isnull;

		CHECK_FOR_INTERRUPTS();
		ev[i].xid = SPI_getvalue(tup, desc, 1); /* the queue row's id */
		ev[i].id = SPI_getvalue(tup, desc, 2);
		a.id = ev[i].id;
		a.spec_key = prov->spec_key;
		a.payload = DatumGetJsonbPCopy(SPI_getbinval(tup, desc, 3, &isnull));
		a.summary = SPI_getvalue(tup, desc, 4);
		a.detected_at = DatumGetTimestampTz(SPI_getbinval(tup, desc, 5, &isnull));
		a.queued_at = DatumGetTimestampTz(SPI_getbinval(tup, desc, 6, &isnull));
		ev[i].occurred_at = a.detected_at;
		ev[i].received_at = a.queued_at;
		json_out_init(&out, f->max_event_bytes);
		f->render_alert(&out, &a);
		if (out.over)
			ev[i].skip_reason = psprintf("alert renders to more than the %d bytes %s accepts",
										 f->max_event_bytes, f->type);
		else
		{
			ev[i].item = out.buf.data;
			ev[i].len = out.buf.len;
		}
	}
	SPI_freetuptable(SPI_tuptable);

	per_batch = Min(telemetry_batch_size, f->max_batch_events);
	for (uint64 start = 0; start < n;)
	{
		DeliveryBatch *b = palloc0(sizeof(DeliveryBatch));
		uint64		end = start + 1;

		b->prov = prov;
		b->alerts = true;
		b->events = ev + start;
		if (ev[start].skip_reason != NULL)
			b->skip_reason = ev[start].skip_reason;
		else
			while (end < n && end - start < per_batch && ev[end].skip_reason == NULL)
				end++;
		b->nevents = end - start;
		prov->alerts = lappend(prov->alerts, b);
		start = end;
	}
	MemoryContextSwitchTo(old);
	return (int) n;
}

/*
 * Settle one alert batch after its attempt (the halves of a split one are
 * settled by the caller): delivered, dead, or one more attempt and dead
 * once it was queued longer ago than telemetry.max_delivery_age.
 */
void
delivery_record_alerts(DeliveryProvider *prov, DeliveryBatch *b)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[5] = {INT8ARRAYOID, TEXTOID, INT4OID, TEXTOID, INT4OID};
	Datum		args[5];
	char		nulls[6] = "     ";
	Datum	   *ids = palloc(sizeof(Datum) * Max(b->nevents, 1));
	const char *state;

	for (int i = 0; i < b->nevents; i++)
		ids[i] = Int64GetDatum(pg_strtoint64(b->events[i].xid));
	args[0] = PointerGetDatum(construct_array(ids, b->nevents, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	switch (b->outcome)
	{
		case DELIVERY_OK:
			state = "delivered";
			break;
		case DELIVERY_DEAD:
			state = "dead";
			break;
		case DELIVERY_PENDING:
			return;				/* not attempted */
		default:
			state = "pending";
			break;
	}
	args[1] = CStringGetTextDatum(state);
	args[2] = Int32GetDatum((int32) b->req.status);
	if (b->req.status == 0 || b->skip_reason != NULL)
		nulls[2] = 'n';
	args[3] = CStringGetTextDatum(b->error ? b->error : "");
	if (b->error == NULL)
		nulls[3] = 'n';
	args[4] = Int32GetDatum(telemetry_max_delivery_age);
	spi_plan_run(&plan,
				 "UPDATE telemetry.alert_queue q SET attempts = q.attempts + 1, "
				 "status = $3, error = $4, "
				 "state = CASE WHEN $2 = 'pending' AND q.queued_at < pg_catalog.now() - "
				 "  pg_catalog.make_interval(secs => $5) THEN 'dead' ELSE $2 END, "
				 "settled_at = CASE WHEN $2 = 'pending' AND q.queued_at >= pg_catalog.now() - "
				 "  pg_catalog.make_interval(secs => $5) THEN NULL ELSE pg_catalog.now() END "
				 "WHERE q.id = ANY ($1) AND q.state = 'pending'",
				 5, types, args, nulls, SPI_OK_UPDATE);
}

/*
 * The routing of a provider as a hash of "event\x1fversion" it does not
 * receive (telemetry._routed_away's text[]), or NULL when it receives all.
 */
HTAB *
delivery_routing(MemoryContext cxt, Datum excluded)
{
	HASHCTL		ctl;
	HTAB	   *h;
	Datum	   *items;
	bool	   *nulls;
	int			n;

	deconstruct_array(DatumGetArrayTypeP(excluded), TEXTOID, -1, false, TYPALIGN_INT,
					  &items, &nulls, &n);
	if (n == 0)
		return NULL;
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = ROUTE_KEY_BYTES;
	ctl.entrysize = ROUTE_KEY_BYTES;
	ctl.hcxt = cxt;
	h = hash_create("telemetry routing", n, &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	for (int i = 0; i < n; i++)
	{
		char	   *k = TextDatumGetCString(items[i]);

		if (!nulls[i] && strlen(k) < ROUTE_KEY_BYTES)
			(void) hash_search(h, k, HASH_ENTER, NULL);
	}
	return h;
}

/* Whether an event version is routed away from the provider. */
bool
delivery_routed_away(HTAB *routed_away, text *event, text *version)
{
	char		key[ROUTE_KEY_BYTES];
	int			elen;
	int			vlen;

	if (routed_away == NULL || event == NULL || version == NULL)
		return false;
	elen = VARSIZE_ANY_EXHDR(event);
	vlen = VARSIZE_ANY_EXHDR(version);
	if (elen + vlen + 2 > ROUTE_KEY_BYTES)
		return false;
	memcpy(key, VARDATA_ANY(event), elen);
	key[elen] = '\x1f';
	memcpy(key + elen + 1, VARDATA_ANY(version), vlen);
	key[elen + 1 + vlen] = '\0';
	return hash_search(routed_away, key, HASH_FIND, NULL) != NULL;
}

PG_FUNCTION_INFO_V1(telemetry_alert_item);

/*
 * SQL: telemetry._alert_item(type text, q telemetry.alert_queue) RETURNS text
 *
 * The item a provider type sends for a queued alert, rendered by the same
 * code as delivery (for tests and operators; owner only).
 */
Datum
telemetry_alert_item(PG_FUNCTION_ARGS)
{
	char	   *type = text_to_cstring(PG_GETARG_TEXT_PP(0));
	HeapTupleHeader rec = PG_GETARG_HEAPTUPLEHEADER(1);
	const DeliveryFormat *f = delivery_format_for(type);
	DeliveryAlert a;
	JsonOut		out;
	Datum		d;
	bool		isnull;

	if (f == NULL || f->render_alert == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("provider type \"%s\" sends no alerts", type)));
	d = GetAttributeByName(rec, "alert_id", &isnull);
	if (isnull)
		PG_RETURN_NULL();
	a.id = DatumGetCString(DirectFunctionCall1(uuid_out, d));
	d = GetAttributeByName(rec, "spec_key", &isnull);
	a.spec_key = isnull ? "" : TextDatumGetCString(d);
	d = GetAttributeByName(rec, "payload", &isnull);
	a.payload = isnull ? NULL : DatumGetJsonbP(d);
	d = GetAttributeByName(rec, "summary", &isnull);
	a.summary = isnull ? "" : TextDatumGetCString(d);
	d = GetAttributeByName(rec, "detected_at", &isnull);
	a.detected_at = isnull ? DT_NOBEGIN : DatumGetTimestampTz(d);
	d = GetAttributeByName(rec, "queued_at", &isnull);
	a.queued_at = isnull ? DT_NOBEGIN : DatumGetTimestampTz(d);
	json_out_init(&out, f->max_event_bytes);
	f->render_alert(&out, &a);
	if (out.over)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text_with_len(out.buf.data, out.buf.len));
}
