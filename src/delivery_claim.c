/*
 * delivery_claim.c
 *		Claim work for one delivery pass: providers, cursors and events.
 *
 * Runs in a short transaction (the worker's, or the caller's for
 * telemetry_deliver()).  Events are read after each provider's cursor and
 * below the snapshot's xmin, in (xid, id) order, at most batch_size times
 * the provider's share of telemetry.max_parallel_requests: memory stays
 * bounded however large the backlog is.
 */
#include "telemetry.h"
#include "delivery.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#define DELIVERY_NFORMATS 4

static const DeliveryFormat *const formats[DELIVERY_NFORMATS] = {
	&delivery_format_posthog,
	&delivery_format_segment,
	&delivery_format_webhook,
	&delivery_format_otel,
};

/* Plans kept for the life of the process, one per format and source. */
static SPIPlanPtr cursor_plans[DELIVERY_NFORMATS];
static SPIPlanPtr requeued_plans[DELIVERY_NFORMATS];
static int	rotation = 0;

/* Bytes of event JSON one pass may hold in memory, over all its batches. */
#define DELIVERY_PASS_BYTES (32 * 1024 * 1024)
static long pass_bytes_left;

/* The wire format of a provider type, or NULL (internal, unknown). */
const DeliveryFormat *
delivery_format_for(const char *type)
{
	for (int i = 0; i < DELIVERY_NFORMATS; i++)
		if (strcmp(formats[i]->type, type) == 0)
			return formats[i];
	return NULL;
}

static int
format_index(const DeliveryFormat *f)
{
	for (int i = 0; i < DELIVERY_NFORMATS; i++)
		if (formats[i] == f)
			return i;
	elog(ERROR, "unknown delivery format");
	return -1;
}

/* Prepare (once) and keep a plan. */
static SPIPlanPtr
keep_plan(SPIPlanPtr *slot, const char *sql, int nargs, Oid *types)
{
	if (*slot == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare(sql, nargs, types);

		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "SPI_keepplan failed");
		*slot = plan;
	}
	return *slot;
}

/* Events after a provider's cursor, below the snapshot's xmin. */
static SPIPlanPtr
cursor_plan(const DeliveryFormat *f)
{
	Oid			types[4] = {TEXTOID, TEXTOID, TEXTOID, INT4OID};
	char	   *sql = psprintf(
							   "SELECT e.id::text, e.xid::text, e.occurred_at, e.received_at, (%s)::text "
							   "FROM telemetry.events e "
							   "WHERE e.spec = $1 AND e.xid >= $2::pg_catalog.xid8 "
							   "AND (e.xid, e.id) > ($2::pg_catalog.xid8, $3::pg_catalog.uuid) "
							   "AND e.xid < pg_catalog.pg_snapshot_xmin(pg_catalog.pg_current_snapshot()) "
							   "ORDER BY e.xid, e.id LIMIT $4",
							   f->item_sql);

	return keep_plan(&cursor_plans[format_index(f)], sql, 4, types);
}

/* Dead letters an operator asked to send again. */
static SPIPlanPtr
requeued_plan(const DeliveryFormat *f)
{
	Oid			types[4] = {TEXTOID, TEXTOID, TEXTOID, INT4OID};
	char	   *sql = psprintf(
							   "SELECT e.id::text, e.xid::text, e.occurred_at, e.received_at, (%s)::text "
							   "FROM telemetry.delivery_failures f "
							   "JOIN telemetry.events e ON e.xid = f.event_xid AND e.id = f.event_id "
							   "WHERE f.spec_key = $1 AND f.spec_version = $2 AND f.provider = $3 "
							   "AND f.state = 'retry' "
							   "ORDER BY f.event_xid, f.event_id LIMIT $4",
							   f->item_sql);

	return keep_plan(&requeued_plans[format_index(f)], sql, 4, types);
}

/* Copy the rows of the last SPI query into events (in cxt). */
static DeliveryEvent *
copy_events(MemoryContext cxt, int *nevents)
{
	DeliveryEvent *ev;
	uint64		n = SPI_processed;
	MemoryContext old = MemoryContextSwitchTo(cxt);

	ev = palloc0(sizeof(DeliveryEvent) * Max(n, 1));
	for (uint64 i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;

		ev[i].id = SPI_getvalue(tup, desc, 1);
		ev[i].xid = SPI_getvalue(tup, desc, 2);
		ev[i].occurred_at = DatumGetTimestampTz(SPI_getbinval(tup, desc, 3, &isnull));
		ev[i].received_at = DatumGetTimestampTz(SPI_getbinval(tup, desc, 4, &isnull));
		ev[i].item = SPI_getvalue(tup, desc, 5);
		if (ev[i].item == NULL)
			ev[i].item = pstrdup("{}");
		ev[i].len = strlen(ev[i].item);
	}
	MemoryContextSwitchTo(old);
	*nevents = (int) n;
	return ev;
}

/* A new batch of a provider over events[from .. from + n). */
static DeliveryBatch *
new_batch(DeliveryProvider *prov, DeliveryEvent *events, int n, bool requeued)
{
	DeliveryBatch *b = palloc0(sizeof(DeliveryBatch));

	b->prov = prov;
	b->events = events;
	b->nevents = n;
	b->requeued = requeued;
	return b;
}

/*
 * Cut events into batches: at most per_batch events and the format's
 * request size; an event over the format's event limit is a batch of its
 * own, dead without sending.  Stops after max_batches; returns how many
 * events were used.
 */
static int
cut_batches(DeliveryProvider *prov, DeliveryEvent *ev, int n, int per_batch,
			int max_batches, bool requeued, List **out)
{
	const DeliveryFormat *f = prov->format;
	int			start = 0;
	int			nb = 0;

	while (start < n && nb < max_batches)
	{
		int			end = start;
		long		bytes = 512;	/* envelope */

		if (ev[start].len > f->max_event_bytes)
		{
			DeliveryBatch *b = new_batch(prov, ev + start, 1, requeued);

			b->skip_reason = psprintf("event is %d bytes, more than the %d bytes %s accepts",
									  ev[start].len, f->max_event_bytes, f->type);
			*out = lappend(*out, b);
			nb++;
			start++;
			continue;
		}
		if (ev[start].len + 1 > pass_bytes_left && nb > 0)
			break;
		while (end < n && end - start < per_batch &&
			   ev[end].len <= f->max_event_bytes &&
			   bytes + ev[end].len + 1 <= f->max_request_bytes &&
			   (end == start || ev[end].len + 1 <= pass_bytes_left))
		{
			bytes += ev[end].len + 1;
			pass_bytes_left -= ev[end].len + 1;
			end++;
		}
		*out = lappend(*out, new_batch(prov, ev + start, end - start, requeued));
		nb++;
		start = end;
	}
	return start;
}

/* Read the providers that are due, with their cursors and resolved configs. */
static List *
load_providers(MemoryContext cxt)
{
	List	   *provs = NIL;
	int			rc;

	rc = SPI_execute(
					 "SELECT p.spec_key, p.spec_version, p.name, p.type, "
					 "telemetry._delivery_config(p.config), "
					 "COALESCE(s.cursor_xid, '0')::text, "
					 "COALESCE(s.cursor_id, '00000000-0000-0000-0000-000000000000')::text, "
					 "COALESCE(s.failures, 0), "
					 "EXISTS (SELECT 1 FROM telemetry.delivery_failures f "
					 " WHERE (f.spec_key, f.spec_version, f.provider) = (p.spec_key, p.spec_version, p.name) "
					 " AND f.state = 'retry') "
					 "FROM telemetry.providers p "
					 "LEFT JOIN telemetry.delivery_state s "
					 " ON (s.spec_key, s.spec_version, s.provider) = (p.spec_key, p.spec_version, p.name) "
					 "WHERE p.enabled AND p.type <> 'internal' "
					 "AND (s.next_attempt_at IS NULL OR s.next_attempt_at <= pg_catalog.now()) "
					 "ORDER BY p.spec_key, p.spec_version, p.ordinal, p.name",
					 false, 0);
	MemoryContextSwitchTo(cxt);	/* SPI may leave its own context current */
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not read telemetry.providers: %s", SPI_result_code_string(rc));

	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		MemoryContext old = MemoryContextSwitchTo(cxt);
		DeliveryProvider *p = palloc0(sizeof(DeliveryProvider));
		bool		isnull;
		Datum		d;

		p->spec_key = SPI_getvalue(tup, desc, 1);
		p->spec_version = SPI_getvalue(tup, desc, 2);
		p->name = SPI_getvalue(tup, desc, 3);
		p->type = SPI_getvalue(tup, desc, 4);
		p->spec = psprintf("%s@%s", p->spec_key, p->spec_version);
		d = SPI_getbinval(tup, desc, 5, &isnull);
		p->config = isnull ? NULL : DatumGetJsonbPCopy(d);
		p->cursor_xid = SPI_getvalue(tup, desc, 6);
		p->cursor_id = SPI_getvalue(tup, desc, 7);
		p->failures = DatumGetInt32(SPI_getbinval(tup, desc, 8, &isnull));
		p->full = DatumGetBool(SPI_getbinval(tup, desc, 9, &isnull));	/* has requeued */
		p->format = delivery_format_for(p->type);
		if (p->format != NULL)
			provs = lappend(provs, p);
		MemoryContextSwitchTo(old);
	}
	return provs;
}

/*
 * Requeued dead letters whose event is no longer stored (retention removed
 * it) can never be sent: make them dead again, saying why, so they do not
 * stay "retrying" forever.
 */
static void
settle_orphans(DeliveryProvider *p)
{
	Oid			types[3] = {TEXTOID, TEXTOID, TEXTOID};
	Datum		args[3];
	int			rc;

	args[0] = CStringGetTextDatum(p->spec_key);
	args[1] = CStringGetTextDatum(p->spec_version);
	args[2] = CStringGetTextDatum(p->name);
	rc = SPI_execute_with_args(
							   "UPDATE telemetry.delivery_failures f SET state = 'dead', "
							   "error = 'the event is no longer stored (expired before it could be sent again)' "
							   "WHERE f.spec_key = $1 AND f.spec_version = $2 AND f.provider = $3 "
							   "AND f.state = 'retry' AND NOT EXISTS (SELECT 1 FROM telemetry.events e "
							   "WHERE e.xid = f.event_xid AND e.id = f.event_id)",
							   3, types, args, NULL, false, 0);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "could not update telemetry.delivery_failures: %s", SPI_result_code_string(rc));
}

/* Mark claimed providers in flight (and create their state rows). */
static void
mark_in_flight(List *provs)
{
	ListCell   *lc;
	Oid			types[4] = {TEXTOID, TEXTOID, TEXTOID, INT4OID};

	foreach(lc, provs)
	{
		DeliveryProvider *p = lfirst(lc);
		Datum		args[4];
		int			rc;

		if (p->in_flight == 0)
			continue;
		args[0] = CStringGetTextDatum(p->spec_key);
		args[1] = CStringGetTextDatum(p->spec_version);
		args[2] = CStringGetTextDatum(p->name);
		args[3] = Int32GetDatum(p->in_flight);
		rc = SPI_execute_with_args(
								   "INSERT INTO telemetry.delivery_state AS s "
								   "(spec_key, spec_version, provider, in_flight, in_flight_since) "
								   "VALUES ($1, $2, $3, $4, pg_catalog.now()) "
								   "ON CONFLICT (spec_key, spec_version, provider) DO UPDATE "
								   "SET in_flight = EXCLUDED.in_flight, in_flight_since = EXCLUDED.in_flight_since",
								   4, types, args, NULL, false, 0);
		if (rc != SPI_OK_INSERT)
			elog(ERROR, "could not update telemetry.delivery_state: %s", SPI_result_code_string(rc));
	}
}

/*
 * Claim the work of one pass: the due providers (rotating which come first
 * when there are more than request slots) with their batches.  Must run
 * inside a transaction with SPI connected.  Sets *more when work was left
 * for a next pass.
 */
List *
delivery_claim(MemoryContext cxt, int max_requests, bool *more)
{
	MemoryContext outer = MemoryContextSwitchTo(cxt);
	List	   *all = load_providers(cxt);
	List	   *claimed = NIL;
	int			nprov = list_length(all);
	int			budget = max_requests;
	int			per_batch;

	pass_bytes_left = DELIVERY_PASS_BYTES;

	*more = false;
	if (nprov == 0)
	{
		MemoryContextSwitchTo(outer);
		return NIL;
	}
	rotation = (rotation + 1) % nprov;

	for (int k = 0; k < nprov; k++)
	{
		DeliveryProvider *p = list_nth(all, (rotation + k) % nprov);
		bool		has_requeued = p->full;
		int			share;
		Datum		args[4];
		int			rc;
		DeliveryEvent *ev;
		int			n;
		int			used;
		MemoryContext old;

		p->full = false;
		if (budget <= 0 || pass_bytes_left <= 0)
		{
			*more = true;
			continue;
		}
		/* an even share of the remaining request slots, at least one */
		share = Max(1, budget / (nprov - k));
		per_batch = Min(telemetry_batch_size, p->format->max_batch_events);

		old = MemoryContextSwitchTo(cxt);
		p->config_error = p->format->configure(p);
		MemoryContextSwitchTo(old);

		args[0] = CStringGetTextDatum(p->spec_key);
		args[1] = CStringGetTextDatum(p->spec_version);
		args[2] = CStringGetTextDatum(p->name);

		if (has_requeued)
		{
			args[3] = Int32GetDatum(per_batch);
			rc = SPI_execute_plan(requeued_plan(p->format), args, NULL, false, 0);
			MemoryContextSwitchTo(cxt);	/* SPI may leave its own context current */
			if (rc != SPI_OK_SELECT)
				elog(ERROR, "could not read dead letters: %s", SPI_result_code_string(rc));
			ev = copy_events(cxt, &n);
			SPI_freetuptable(SPI_tuptable);
			if (n < per_batch)
				settle_orphans(p);
			if (n > 0)
			{
				old = MemoryContextSwitchTo(cxt);
				cut_batches(p, ev, n, per_batch, 1, true, &p->requeued);
				MemoryContextSwitchTo(old);
				share = Max(1, share - 1);
				budget--;
				p->full = true;
			}
		}

		args[0] = CStringGetTextDatum(p->spec);
		args[1] = CStringGetTextDatum(p->cursor_xid);
		args[2] = CStringGetTextDatum(p->cursor_id);
		args[3] = Int32GetDatum(per_batch * share);
		rc = SPI_execute_plan(cursor_plan(p->format), args, NULL, false, 0);
		MemoryContextSwitchTo(cxt);	/* SPI may leave its own context current */
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "could not read telemetry.events: %s", SPI_result_code_string(rc));
		ev = copy_events(cxt, &n);
		SPI_freetuptable(SPI_tuptable);
		old = MemoryContextSwitchTo(cxt);
		used = cut_batches(p, ev, n, per_batch, share, false, &p->batches);
		MemoryContextSwitchTo(old);
		if (n == per_batch * share || used < n)
			p->full = true;
		budget -= list_length(p->batches);
		p->in_flight = 0;
		{
			ListCell   *lc;

			foreach(lc, p->batches)
				p->in_flight += ((DeliveryBatch *) lfirst(lc))->nevents;
			foreach(lc, p->requeued)
				p->in_flight += ((DeliveryBatch *) lfirst(lc))->nevents;
		}
		if (p->in_flight > 0)
			claimed = lappend(claimed, p);
	}
	mark_in_flight(claimed);
	MemoryContextSwitchTo(outer);
	return claimed;
}
