/*
 * delivery_claim.c
 *		Claim work for one delivery pass: providers, cursors and events.
 *
 * Runs in a short transaction (the worker's, or the caller's for
 * telemetry_deliver()).  Events are read after each provider's cursor and
 * below the snapshot's xmin, in (xid, id) order, at most batch_size times
 * the provider's share of telemetry.max_parallel_requests, and rendered
 * within the pass's byte budget (delivery_read.c): memory stays bounded
 * however large the backlog is, and whatever it holds.
 *
 * A provider starts at the horizon of its registration
 * (telemetry.delivery_horizons): events stored before it existed are sent
 * only when the owner replays them (telemetry_replay).
 *
 * Providers are those of each spec key's latest version, identified by the
 * key and their name: their state (cursor, floor, dead letters) belongs to
 * the key, and they read the events of every version of it (events.spec is
 * the key).
 */
#include "telemetry.h"
#include "delivery.h"
#include "floor.h"
#include "spi_plan.h"
#include "utils/xid8.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#define DELIVERY_NFORMATS 6

/* every provider type, in the order the spec model lists them */
static const DeliveryFormat *const formats[DELIVERY_NFORMATS] = {
	&delivery_format_posthog,
	&delivery_format_segment,
	&delivery_format_webhook,
	&delivery_format_otel,
	&delivery_format_slack,
	&delivery_format_internal,
};

/* Plans kept for the life of the process. */
static SPIPlanPtr cursor_plan_kept = NULL;
static SPIPlanPtr requeued_plan_kept = NULL;
static SPIPlanPtr first_sight_plan_kept = NULL;
static SPIPlanPtr providers_plan_kept = NULL;
static int	rotation = 0;

/* The pass's horizon and xid clock sample (delivery_record.c moves floors). */
FullTransactionId delivery_horizon;
FullTransactionId delivery_sample_xid;
int			delivery_due_providers = 0;
TimestampTz delivery_sample_at;

/* Alerts one pass claims per provider at most. */
#define DELIVERY_PASS_ALERTS 100

/* The wire format of a provider type, or NULL (internal, unknown). */
const DeliveryFormat *
delivery_format_for(const char *type)
{
	for (int i = 0; i < DELIVERY_NFORMATS; i++)
		if (strcmp(formats[i]->type, type) == 0)
			return formats[i]->build != NULL ? formats[i] : NULL;
	return NULL;
}

/* The provider types (the spec model's vocabulary of them). */
int
delivery_format_count(void)
{
	return DELIVERY_NFORMATS;
}

const DeliveryFormat *
delivery_format_at(int i)
{
	return formats[i];
}

/* The provider row is of its spec key's latest version. */
#define LATEST_VERSION "p.spec_version = telemetry._latest_version(p.spec_key)"

/* The raw columns delivery_read.c renders items from, of a table alias. */
#define CLAIM_COLUMNS_OF(a) \
	a ".id::text, " a ".xid::text, " a ".event, " a ".version, " a ".spec, " a ".occurred_at, " \
	a ".received_at, " a ".properties, " a ".context"
#define CLAIM_COLUMNS CLAIM_COLUMNS_OF("e")

/*
 * Events of a spec after a provider's cursor and below the horizon ($5), in
 * (xid, id) order: those not late from the partitions from the floor's scan
 * start on ($6), and the copies of late ones (src/floor.c).
 */
static SPIPlanPtr
cursor_plan(void)
{
	Oid			types[6] = {TEXTOID, TEXTOID, TEXTOID, INT4OID, XID8OID, TIMESTAMPTZOID};

	return spi_plan_keep(&cursor_plan_kept, CURSOR_OPT_CUSTOM_PLAN,
							"SELECT u.id, u.xid, u.event, u.version, u.spec, u.occurred_at, u.received_at, "
							"u.properties, u.context, false FROM ("
							"(SELECT " CLAIM_COLUMNS ", e.xid AS sort_xid, e.id AS sort_id "
							"FROM telemetry.events e "
							"WHERE e.spec = $1 AND e.xid >= $2::pg_catalog.xid8 "
							"AND (e.xid, e.id) > ($2::pg_catalog.xid8, $3::pg_catalog.uuid) "
							"AND e.xid < $5 AND e.occurred_at >= $6 "
							"AND NOT telemetry._is_late(e.occurred_at, e.received_at) "
							"ORDER BY e.xid, e.id LIMIT $4) "
							"UNION ALL "
							"(SELECT " CLAIM_COLUMNS_OF("l") ", l.xid, l.id "
							"FROM telemetry.late_events l "
							"WHERE l.spec = $1 AND l.xid >= $2::pg_catalog.xid8 "
							"AND (l.xid, l.id) > ($2::pg_catalog.xid8, $3::pg_catalog.uuid) "
							"AND l.xid < $5 "
							"ORDER BY l.xid, l.id LIMIT $4)) u "
							"ORDER BY u.sort_xid, u.sort_id LIMIT $4",
							6, types);
}

/* Dead letters an operator asked to send again, and replayed events. */
static SPIPlanPtr
requeued_plan(void)
{
	Oid			types[4] = {TEXTOID, TEXTOID, INT4OID, TIMESTAMPTZARRAYOID};

	return spi_plan_keep(&requeued_plan_kept, CURSOR_OPT_CUSTOM_PLAN,
							"SELECT " CLAIM_COLUMNS ", f.replay "
							"FROM telemetry.delivery_failures f "
							"JOIN telemetry.events e ON e.spec = f.spec_key "
							"AND e.xid = f.event_xid AND e.id = f.event_id "
							"AND e.occurred_at = f.occurred_at "
							"WHERE f.spec_key = $1 AND f.provider = $2 "
							"AND f.state = 'retry' AND e.occurred_at = ANY ($4) "
							"ORDER BY f.event_xid, f.event_id LIMIT $3",
							4, types);
}

/*
 * The occurred_at of a provider's next requeued events ($3 of them at
 * most): constants for the queries that look those events up, so that only
 * their partitions are planned and locked.
 */
static Datum
requeued_times(Datum *args)
{
	static SPIPlanPtr plan_kept = NULL;
	Oid			types[3] = {TEXTOID, TEXTOID, INT4OID};
	SPIPlanPtr	plan = spi_plan_keep(&plan_kept, 0,
								 "SELECT COALESCE(pg_catalog.array_agg(DISTINCT r.occurred_at), '{}') FROM ("
								 "SELECT f.occurred_at FROM telemetry.delivery_failures f "
								 "WHERE f.spec_key = $1 AND f.provider = $2 "
								 "AND f.state = 'retry' ORDER BY f.event_xid, f.event_id LIMIT $3) r",
								 3, types);
	bool		isnull;
	int			rc = SPI_execute_plan(plan, args, NULL, true, 1);

	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read telemetry.delivery_failures: %s", SPI_result_code_string(rc));
	return SPI_datumTransfer(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull),
							 false, -1);
}

/*
 * Read (and render) at most max_rows events of a claim query for a
 * provider.  Sets *stopped when the pass's byte budget ran out first.
 */
static DeliveryEvent *
read_events(MemoryContext cxt, DeliveryProvider *p, SPIPlanPtr plan, Datum *args,
			int max_rows, int *n, bool *stopped)
{
	Portal		portal;
	DeliveryEvent *ev;

	portal = SPI_cursor_open(NULL, plan, args, NULL, false);
	if (portal == NULL)
		elog(ERROR, "SPI_cursor_open failed: %s", SPI_result_code_string(SPI_result));
	ev = delivery_read_events(cxt, p, portal, max_rows, n, stopped);
	SPI_cursor_close(portal);
	MemoryContextSwitchTo(cxt); /* SPI may leave its own context current */
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
 * request size; an event too large for the format (see delivery_read.c) is
 * a batch of its own, dead without sending; a run of events routed away
 * from the provider is a batch passed over (settled as sent, not sent, and
 * not counted against max_batches).  Stops after max_batches; returns how
 * many events were used.
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

		if (ev[start].routed_away)
		{
			DeliveryBatch *b;

			/* a run of events routed away: passed over, not sent */
			while (end < n && ev[end].routed_away)
				end++;
			b = new_batch(prov, ev + start, end - start, requeued);
			b->routed_away = true;
			b->outcome = DELIVERY_OK;
			*out = lappend(*out, b);
			start = end;
			continue;
		}
		if (ev[start].skip_reason != NULL)
		{
			DeliveryBatch *b = new_batch(prov, ev + start, 1, requeued);

			b->skip_reason = ev[start].skip_reason;
			*out = lappend(*out, b);
			nb++;
			start++;
			continue;
		}
		while (end < n && end - start < per_batch &&
			   ev[end].skip_reason == NULL && !ev[end].routed_away &&
			   (end == start || bytes + ev[end].len + 1 <= f->max_request_bytes))
		{
			bytes += ev[end].len + 1;
			end++;
		}
		*out = lappend(*out, new_batch(prov, ev + start, end - start, requeued));
		nb++;
		start = end;
	}
	return start;
}

/*
 * Give every provider seen for the first time its delivery state, with the
 * cursor and floor of the xid clock sample taken at its registration (or,
 * failing that, now): a new provider sends nothing stored before it existed.
 */
static void
first_sight(void)
{
	SPIPlanPtr	plan = spi_plan_keep(&first_sight_plan_kept, 0,
								 "INSERT INTO telemetry.delivery_state AS s "
								 "(spec_key, provider, cursor_xid, floor) "
								 "SELECT p.spec_key, p.name, "
								 "COALESCE(h.horizon, c.next_xid), COALESCE(h.floor, c.at) "
								 "FROM telemetry._xid_clock() c, telemetry.providers p "
								 "LEFT JOIN telemetry.delivery_horizons h "
								 " ON (h.spec_key, h.provider) = (p.spec_key, p.name) "
								 "WHERE p.type <> 'internal' AND " LATEST_VERSION " "
								 "AND NOT EXISTS (SELECT 1 FROM telemetry.delivery_state s2 "
								 " WHERE (s2.spec_key, s2.provider) = (p.spec_key, p.name)) "
								 "ON CONFLICT (spec_key, provider) DO NOTHING",
								 0, NULL);
	int			rc = SPI_execute_plan(plan, NULL, NULL, false, 0);

	if (rc != SPI_OK_INSERT)
		elog(ERROR, "could not create delivery state: %s", SPI_result_code_string(rc));
}

/* Read the providers that are due, with their cursors and resolved configs. */
static List *
load_providers(MemoryContext cxt)
{
	List	   *provs = NIL;
	SPIPlanPtr	plan = spi_plan_keep(&providers_plan_kept, 0,
								 "SELECT p.spec_key, p.spec_version, p.name, p.type, "
								 "telemetry._delivery_config(p.config), "
								 "COALESCE(s.cursor_xid, '0')::text, "
								 "COALESCE(s.cursor_id, '00000000-0000-0000-0000-000000000000')::text, "
								 "COALESCE(s.failures, 0), "
								 "EXISTS (SELECT 1 FROM telemetry.delivery_failures f "
								 " WHERE (f.spec_key, f.provider) = (p.spec_key, p.name) "
								 " AND f.state = 'retry'), "
								 "s.spec_key IS NULL, "
								 "telemetry._provider_refs_problem(p.type, p.config, 'config'), "
								 "COALESCE(s.floor, '-infinity'), s.pending_xid::text, "
								 "COALESCE(telemetry._routed_away(p.spec_key, p.name), '{}') "
								 "FROM telemetry.providers p "
								 "LEFT JOIN telemetry.delivery_state s "
								 " ON (s.spec_key, s.provider) = (p.spec_key, p.name) "
								 "WHERE p.enabled AND p.type <> 'internal' AND " LATEST_VERSION " "
								 "AND (s.next_attempt_at IS NULL OR s.next_attempt_at <= pg_catalog.now()) "
								 "ORDER BY p.spec_key, p.spec_version, p.ordinal, p.name",
								 0, NULL);

	for (int attempt = 0;; attempt++)
	{
		int			rc = SPI_execute_plan(plan, NULL, NULL, false, 0);
		bool		unseen = false;

		MemoryContextSwitchTo(cxt); /* SPI may leave its own context current */
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "could not read telemetry.providers: %s", SPI_result_code_string(rc));
		for (uint64 i = 0; i < SPI_processed && attempt == 0; i++)
		{
			bool		isnull;

			if (DatumGetBool(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 10, &isnull)))
				unseen = true;
		}
		if (!unseen)
			break;
		/* a provider without state: give it one, at its horizon, and read again */
		SPI_freetuptable(SPI_tuptable);
		first_sight();
	}

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
		p->spec = p->spec_key;	/* events.spec holds the key */
		d = SPI_getbinval(tup, desc, 5, &isnull);
		p->config = isnull ? NULL : DatumGetJsonbPCopy(d);
		p->cursor_xid = SPI_getvalue(tup, desc, 6);
		p->cursor_id = SPI_getvalue(tup, desc, 7);
		p->failures = DatumGetInt32(SPI_getbinval(tup, desc, 8, &isnull));
		p->has_requeued = DatumGetBool(SPI_getbinval(tup, desc, 9, &isnull));
		/* secrets and variables the provider may not use (registration's rule) */
		p->refs_problem = SPI_getvalue(tup, desc, 11);
		p->floor = DatumGetTimestampTz(SPI_getbinval(tup, desc, 12, &isnull));
		p->pending_xid = SPI_getvalue(tup, desc, 13);
		/* routing: the event versions it does not receive */
		p->routed_away = delivery_routing(cxt, SPI_getbinval(tup, desc, 14, &isnull));
		p->format = delivery_format_for(p->type);
		if (p->format != NULL)
			provs = lappend(provs, p);
		MemoryContextSwitchTo(old);
	}
	delivery_due_providers = list_length(provs);
	return provs;
}

/*
 * Requeued dead letters whose event is no longer stored (retention removed
 * it) can never be sent: make them dead again, saying why, so they do not
 * stay "retrying" forever.
 */
static void
settle_orphans(DeliveryProvider *p, Datum times)
{
	static SPIPlanPtr plan_kept = NULL;
	Oid			types[3] = {TEXTOID, TEXTOID, TIMESTAMPTZARRAYOID};
	Datum		args[3];
	SPIPlanPtr	plan;
	int			rc;

	/* the requeued events just looked for: only their partitions are read */
	plan = spi_plan_keep(&plan_kept, CURSOR_OPT_CUSTOM_PLAN,
							"UPDATE telemetry.delivery_failures f SET state = 'dead', "
							"error = 'the event is no longer stored (expired before it could be sent again)' "
							"WHERE f.spec_key = $1 AND f.provider = $2 "
							"AND f.state = 'retry' AND f.occurred_at = ANY ($3) "
							"AND NOT EXISTS (SELECT 1 FROM telemetry.events e "
							"WHERE e.occurred_at = f.occurred_at AND e.occurred_at = ANY ($3) "
							"AND e.spec = f.spec_key AND e.xid = f.event_xid AND e.id = f.event_id)",
							3, types);
	args[0] = CStringGetTextDatum(p->spec_key);
	args[1] = CStringGetTextDatum(p->name);
	args[2] = times;
	rc = SPI_execute_plan(plan, args, NULL, false, 0);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "could not update telemetry.delivery_failures: %s", SPI_result_code_string(rc));
}

/*
 * A provider with nothing to send has read everything below the horizon:
 * its floor may move up to its pending sample (see src/floor.c).  At most
 * once an hour, so an idle provider writes next to nothing; a floor an hour
 * old only makes the scan read an hour more.
 */
static void
idle_floor(DeliveryProvider *p)
{
	static SPIPlanPtr plan_kept = NULL;
	Oid			types[5] = {TEXTOID, TEXTOID, XID8OID, XID8OID, TIMESTAMPTZOID};
	Datum		args[5];
	SPIPlanPtr	plan;
	int			rc;

	if (!TIMESTAMP_NOT_FINITE(p->floor) &&
		p->floor > GetCurrentTimestamp() - USECS_PER_HOUR && p->pending_xid != NULL)
		return;
	plan = spi_plan_keep(&plan_kept, 0,
					 "UPDATE telemetry.delivery_state s SET "
					 "floor = CASE WHEN s.pending_xid <= $3 THEN s.pending_at ELSE s.floor END, "
					 "pending_xid = CASE WHEN s.pending_xid IS NULL OR s.pending_xid <= $3 THEN $4 ELSE s.pending_xid END, "
					 "pending_at = CASE WHEN s.pending_xid IS NULL OR s.pending_xid <= $3 THEN $5 ELSE s.pending_at END "
					 "WHERE s.spec_key = $1 AND s.provider = $2",
					 5, types);
	args[0] = CStringGetTextDatum(p->spec_key);
	args[1] = CStringGetTextDatum(p->name);
	args[2] = FullTransactionIdGetDatum(delivery_horizon);
	args[3] = FullTransactionIdGetDatum(delivery_sample_xid);
	args[4] = TimestampTzGetDatum(delivery_sample_at);
	rc = SPI_execute_plan(plan, args, NULL, false, 0);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "could not update telemetry.delivery_state: %s", SPI_result_code_string(rc));
}

/* Mark claimed providers in flight (and create their state rows). */
static void
mark_in_flight(List *provs)
{
	static SPIPlanPtr plan = NULL;
	ListCell   *lc;
	Oid			types[3] = {TEXTOID, TEXTOID, INT4OID};

	foreach(lc, provs)
	{
		DeliveryProvider *p = lfirst(lc);
		Datum		args[3];

		if (p->in_flight == 0)
			continue;
		args[0] = CStringGetTextDatum(p->spec_key);
		args[1] = CStringGetTextDatum(p->name);
		args[2] = Int32GetDatum(p->in_flight);
		spi_plan_run(&plan,
					 "INSERT INTO telemetry.delivery_state AS s "
					 "(spec_key, provider, in_flight, in_flight_since) "
					 "VALUES ($1, $2, $3, pg_catalog.now()) "
					 "ON CONFLICT (spec_key, provider) DO UPDATE "
					 "SET in_flight = EXCLUDED.in_flight, in_flight_since = EXCLUDED.in_flight_since",
					 3, types, args, NULL, SPI_OK_INSERT);
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
	List	   *all;
	List	   *claimed = NIL;
	int			nprov;
	int			budget = max_requests;
	int			per_batch;

	/* a state restored from another cluster first (one cheap query) */
	delivery_restart_restored();
	all = load_providers(cxt);
	nprov = list_length(all);
	delivery_budget_reset();

	*more = false;
	if (nprov == 0)
	{
		MemoryContextSwitchTo(outer);
		return NIL;
	}
	/* this pass's horizon, and a sample of the xid clock (time first) */
	delivery_sample_at = GetCurrentTimestamp();
	delivery_sample_xid = ReadNextFullTransactionId();
	delivery_horizon = telemetry_reader_horizon();
	rotation = (rotation + 1) % nprov;

	for (int k = 0; k < nprov; k++)
	{
		DeliveryProvider *p = list_nth(all, (rotation + k) % nprov);
		int			share;
		Datum		args[6];
		DeliveryEvent *ev;
		int			n;
		int			used;
		bool		stopped = false;
		MemoryContext old;

		p->more_waiting = false;
		if (budget <= 0 || delivery_budget_exhausted())
		{
			*more = true;
			continue;
		}
		/* an even share of the remaining request slots, at least one */
		share = Max(1, budget / (nprov - k));
		per_batch = Min(telemetry_batch_size, p->format->max_batch_events);

		old = MemoryContextSwitchTo(cxt);
		/* the config's own error first (the clearer), else registration's rule */
		p->config_error = delivery_configure(p);
		if (p->config_error == NULL && p->refs_problem != NULL)
			p->config_error = p->refs_problem;
		else
			p->refs_problem = NULL;
		MemoryContextSwitchTo(old);

		args[0] = CStringGetTextDatum(p->spec_key);
		args[1] = CStringGetTextDatum(p->name);

		/* alerts first: few, and the reason some providers exist */
		if (p->format->render_alert != NULL &&
			delivery_claim_alerts(cxt, p, DELIVERY_PASS_ALERTS) == DELIVERY_PASS_ALERTS)
			p->more_waiting = true;
		budget -= list_length(p->alerts);
		share = Max(1, share - list_length(p->alerts));

		if (p->has_requeued)
		{
			/* requeued and replayed events take up to half the share */
			int			nreq = Max(1, share / 2);

			args[2] = Int32GetDatum(per_batch * nreq);
			args[3] = requeued_times(args);
			ev = read_events(cxt, p, requeued_plan(), args, per_batch * nreq, &n, &stopped);
			if (n < per_batch * nreq && !stopped)
				settle_orphans(p, args[3]);
			if (n > 0)
			{
				int			before = list_length(p->requeued);

				old = MemoryContextSwitchTo(cxt);
				cut_batches(p, ev, n, per_batch, nreq, true, &p->requeued);
				MemoryContextSwitchTo(old);
				share = Max(1, share - (list_length(p->requeued) - before));
				budget -= list_length(p->requeued) - before;
				p->more_waiting = true;
			}
		}

		if (!stopped && !delivery_budget_exhausted())
		{
			args[0] = CStringGetTextDatum(p->spec);
			args[1] = CStringGetTextDatum(p->cursor_xid);
			args[2] = CStringGetTextDatum(p->cursor_id);
			args[3] = Int32GetDatum(per_batch * share);
			args[4] = FullTransactionIdGetDatum(delivery_horizon);
			args[5] = TimestampTzGetDatum(TIMESTAMP_NOT_FINITE(p->floor) ? p->floor :
										  p->floor - TELEMETRY_LATE_WINDOW);
			ev = read_events(cxt, p, cursor_plan(), args, per_batch * share, &n, &stopped);
			old = MemoryContextSwitchTo(cxt);
			used = cut_batches(p, ev, n, per_batch, share, false, &p->batches);
			MemoryContextSwitchTo(old);
			if (n == per_batch * share || used < n || stopped)
				p->more_waiting = true;
			else
				p->caught_up = true;	/* every event below the horizon read */
			budget -= list_length(p->batches);
		}
		else
			p->more_waiting = true;
		if (stopped)
			*more = true;
		p->in_flight = 0;
		{
			ListCell   *lc;

			foreach(lc, p->batches)
				p->in_flight += ((DeliveryBatch *) lfirst(lc))->nevents;
			foreach(lc, p->requeued)
				p->in_flight += ((DeliveryBatch *) lfirst(lc))->nevents;
			foreach(lc, p->alerts)
				p->in_flight += ((DeliveryBatch *) lfirst(lc))->nevents;
		}
		if (p->in_flight > 0)
			claimed = lappend(claimed, p);
		else if (p->caught_up)
			idle_floor(p);
	}
	mark_in_flight(claimed);
	MemoryContextSwitchTo(outer);
	return claimed;
}
