/*
 * delivery_record.c
 *		Record the outcomes of a delivery pass.
 *
 * Per provider, batches are settled in cursor order: the cursor moves past
 * a batch that was delivered or dead-lettered, and stops at the first one
 * that must be retried (or was not sent); later batches are sent again on
 * the next attempt, with the same ids.  Events still failing
 * telemetry.max_delivery_age after they were stored are dead-lettered.
 * A retry is scheduled with exponential backoff (base 1 s, cap 5 min) and
 * jitter, and never sooner than the provider's Retry-After.  History and
 * dead letters (the owner's) keep each failure's detail; delivery_state's
 * last_error, which telemetry.delivery_status shows everyone, keeps only
 * its summary (status code, names of settings).
 */
#include "telemetry.h"
#include "delivery.h"
#include "spi_plan.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/pg_prng.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/xid8.h"

#define BACKOFF_BASE_MS 1000
#define BACKOFF_CAP_MS	(300 * 1000)

typedef struct ProviderTally
{
	DeliveryProvider *prov;
	char	   *cursor_xid;
	char	   *cursor_id;
	int64		delivered;
	int			retrying;
	bool		blocked;		/* cursor stops: later batches are resent */
	bool		retry;			/* some batch must be retried */
	bool		success;
	bool		disable;
	long		retry_after;	/* seconds, -1 none */
	char	   *error;			/* public summary, for delivery_state */
	TimestampTz max_age_cutoff;
} ProviderTally;

static const char *const outcome_names[] = {
	"retry", "delivered", "retry", "dead", "split", "disabled"
};

/* text[] of the ids (or xids) of events[from .. from + n). */
static Datum
text_array(DeliveryEvent *ev, int n, bool xids)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(n, 1));

	for (int i = 0; i < n; i++)
		d[i] = CStringGetTextDatum(xids ? ev[i].xid : ev[i].id);
	return PointerGetDatum(construct_array(d, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/* timestamptz[] of the occurred_at of events. */
static Datum
time_array(DeliveryEvent *ev, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(n, 1));

	for (int i = 0; i < n; i++)
		d[i] = TimestampTzGetDatum(ev[i].occurred_at);
	return PointerGetDatum(construct_array(d, n, TIMESTAMPTZOID, sizeof(TimestampTz),
										   FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/* Dead-letter events of a provider (or re-dead-letter requeued ones). */
static void
dead_letter(DeliveryProvider *p, DeliveryEvent *ev, int n, long status, const char *error)
{
	static SPIPlanPtr dead_letter_plan = NULL;
	Oid			types[7] = {TEXTOID, TEXTOID, TEXTARRAYOID, TEXTARRAYOID,
	TIMESTAMPTZARRAYOID, INT4OID, TEXTOID};
	Datum		args[7];
	char		nulls[8] = "       ";

	if (n <= 0)
		return;
	args[0] = CStringGetTextDatum(p->spec_key);
	args[1] = CStringGetTextDatum(p->name);
	args[2] = text_array(ev, n, false);
	args[3] = text_array(ev, n, true);
	args[4] = time_array(ev, n);
	args[5] = Int32GetDatum((int32) status);
	if (status == 0)
		nulls[5] = 'n';
	args[6] = CStringGetTextDatum(error ? error : "");
	spi_plan_run(&dead_letter_plan, "INSERT INTO telemetry.delivery_failures AS f "
		"(spec_key, provider, event_id, event_xid, occurred_at, state, status, error) "
		"SELECT $1, $2, u.id::uuid, u.xid::pg_catalog.xid8, u.at, 'dead', $6, $7 "
		"FROM ROWS FROM (pg_catalog.unnest($3), pg_catalog.unnest($4), pg_catalog.unnest($5)) AS u(id, xid, at) "
		"ON CONFLICT (spec_key, provider, event_id) DO UPDATE "
		"SET state = 'dead', attempts = f.attempts + 1, status = EXCLUDED.status, "
		"error = EXCLUDED.error, failed_at = pg_catalog.now()",
		7, types, args, nulls, SPI_OK_INSERT);
}

/* Settle requeued dead letters after their attempt. */
static void
settle_requeued(DeliveryProvider *p, DeliveryBatch *b)
{
	static SPIPlanPtr requeued_delete_plan = NULL;
	static SPIPlanPtr requeued_update_plan = NULL;
	Oid			types[6] = {TEXTOID, TEXTOID, TEXTARRAYOID, INT4OID, TEXTOID, INT4OID};
	Datum		args[6];
	char		nulls[7] = "      ";

	args[0] = CStringGetTextDatum(p->spec_key);
	args[1] = CStringGetTextDatum(p->name);
	args[2] = text_array(b->events, b->nevents, false);
	if (b->outcome == DELIVERY_OK)
	{
		spi_plan_run(&requeued_delete_plan, "DELETE FROM telemetry.delivery_failures "
			"WHERE spec_key = $1 AND provider = $2 "
			"AND event_id = ANY ($3::uuid[])",
			3, types, args, NULL, SPI_OK_DELETE);
		return;
	}
	args[3] = Int32GetDatum((int32) b->req.status);
	if (b->req.status == 0)
		nulls[3] = 'n';
	args[4] = CStringGetTextDatum(b->error ? b->error : "");
	args[5] = Int32GetDatum(b->outcome == DELIVERY_DEAD ? -1 : telemetry_max_delivery_age);
	spi_plan_run(&requeued_update_plan, "UPDATE telemetry.delivery_failures "
		"SET attempts = attempts + 1, status = $4, error = $5, failed_at = pg_catalog.now(), "
		"state = CASE WHEN $6 < 0 OR requeued_at < pg_catalog.now() - pg_catalog.make_interval(secs => $6) "
		"THEN 'dead' ELSE 'retry' END "
		"WHERE spec_key = $1 AND provider = $2 "
		"AND event_id = ANY ($3::uuid[])",
		6, types, args, nulls, SPI_OK_UPDATE);
}

static void history(DeliveryProvider *p, DeliveryBatch *b);

/*
 * Count the outcome of a settled batch of alerts or of requeued events
 * (batches outside the cursor's order, which never block it) in the
 * provider's tally: success, the first error's summary, retry (with the
 * longest Retry-After) and disabling.
 */
static void
tally_side_batch(ProviderTally *t, DeliveryBatch *b)
{
	if (b->outcome == DELIVERY_OK)
	{
		t->success = true;
		return;
	}
	if (t->error == NULL)
		t->error = b->public_error;
	if (b->outcome == DELIVERY_RETRY)
	{
		t->retry = true;
		t->retry_after = Max(t->retry_after, b->req.retry_after);
	}
	if (b->outcome == DELIVERY_DISABLE)
		t->disable = true;
}

/*
 * Settle a batch of alerts or of requeued events (walking the halves of a
 * split one): these are outside the cursor's order and never block it.
 */
static void
settle_side_tree(ProviderTally *t, DeliveryBatch *b)
{
	if (b->outcome == DELIVERY_PENDING)
		return;
	if (b->routed_away)
	{
		/* requeued events routed away from this provider: no longer to be sent */
		settle_requeued(t->prov, b);
		return;
	}
	history(t->prov, b);
	if (b->outcome == DELIVERY_SPLIT)
	{
		settle_side_tree(t, b->half[0]);
		settle_side_tree(t, b->half[1]);
		return;
	}
	if (b->alerts)
		delivery_record_alerts(t->prov, b);
	else
	{
		settle_requeued(t->prov, b);
		if (b->outcome == DELIVERY_OK)
			t->delivered += b->nevents;
	}
	tally_side_batch(t, b);
}

/* One row of delivery history for a settled batch. */
static void
history(DeliveryProvider *p, DeliveryBatch *b)
{
	static SPIPlanPtr history_plan = NULL;
	Oid			types[9] = {TEXTOID, TEXTOID, INT4OID, INT4OID, INT4OID, TEXTOID,
	FLOAT8OID, TEXTOID, TEXTOID};
	Datum		args[9];
	char		nulls[10] = "         ";
	bool		sent = b->skip_reason == NULL && b->prov->config_error == NULL;

	args[0] = CStringGetTextDatum(p->spec_key);
	args[1] = CStringGetTextDatum(p->name);
	args[2] = Int32GetDatum(b->nevents);
	args[3] = Int32GetDatum(sent ? (int32) b->req.body_len : 0);
	args[4] = Int32GetDatum((int32) b->req.status);
	if (!sent || b->req.status == 0)
		nulls[4] = 'n';
	args[5] = CStringGetTextDatum(outcome_names[b->outcome]);
	args[6] = Float8GetDatum(b->req.elapsed_ms);
	if (!sent)
		nulls[6] = 'n';
	args[7] = CStringGetTextDatum(b->error ? b->error : "");
	if (b->error == NULL)
		nulls[7] = 'n';
	/* a batch of alerts says so (events counts its alerts) */
	args[8] = CStringGetTextDatum("alerts");
	if (!b->alerts)
		nulls[8] = 'n';
	spi_plan_run(&history_plan, "INSERT INTO telemetry.delivery_history "
		"(spec_key, provider, events, bytes, status, outcome, duration_ms, error, note) "
		"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
		9, types, args, nulls, SPI_OK_INSERT);
}

/* Settle one leaf batch (or walk a split one) in cursor order. */
static void
settle(ProviderTally *t, DeliveryBatch *b)
{
	DeliveryProvider *p = t->prov;
	DeliveryEvent *last = &b->events[b->nevents - 1];

	if (b->routed_away)
	{
		/* events routed away from this provider: the cursor passes them */
		if (!t->blocked)
		{
			t->cursor_xid = last->xid;
			t->cursor_id = last->id;
		}
		return;
	}
	if (b->outcome == DELIVERY_SPLIT)
	{
		history(p, b);
		settle(t, b->half[0]);
		settle(t, b->half[1]);
		return;
	}
	if (b->outcome != DELIVERY_PENDING)
		history(p, b);
	if (b->outcome != DELIVERY_OK && b->outcome != DELIVERY_PENDING && t->error == NULL)
		t->error = b->public_error;

	switch (b->outcome)
	{
		case DELIVERY_OK:
			t->success = true;
			if (!t->blocked)
			{
				t->cursor_xid = last->xid;
				t->cursor_id = last->id;
				t->delivered += b->nevents;
			}
			break;
		case DELIVERY_DEAD:
			if (!t->blocked)
			{
				dead_letter(p, b->events, b->nevents, b->req.status, b->error);
				t->cursor_xid = last->xid;
				t->cursor_id = last->id;
			}
			break;
		case DELIVERY_RETRY:
			t->retry = true;
			if (b->req.retry_after > t->retry_after)
				t->retry_after = b->req.retry_after;
			if (!t->blocked)
			{
				int			old = 0;

				/* give up on events stored longer ago than max_delivery_age */
				while (old < b->nevents && b->events[old].received_at < t->max_age_cutoff)
					old++;
				if (old > 0)
				{
					char	   *why = psprintf("%s (gave up after telemetry.max_delivery_age)",
											   b->error ? b->error : "failed");

					dead_letter(p, b->events, old, b->req.status, why);
					t->cursor_xid = b->events[old - 1].xid;
					t->cursor_id = b->events[old - 1].id;
				}
				t->retrying += b->nevents - old;
				t->blocked = true;
			}
			break;
		case DELIVERY_DISABLE:
			t->disable = true;
			t->blocked = true;
			break;
		case DELIVERY_PENDING:
		case DELIVERY_SPLIT:
			t->blocked = true;
			break;
	}
}

/* Delay before the next attempt after `failures` consecutive failures. */
static int64
backoff_ms(int failures, long retry_after)
{
	int64		d = BACKOFF_BASE_MS;

	for (int i = 1; i < failures && d < BACKOFF_CAP_MS; i++)
		d *= 2;
	d = Min(d, BACKOFF_CAP_MS);
	/* "equal jitter": between half and all of the delay */
	d = d / 2 + (int64) (pg_prng_double(&pg_global_prng_state) * (d / 2));
	if (retry_after > 0)
		d = Max(d, Min((int64) retry_after, (int64) telemetry_max_delivery_age) * 1000);
	return d;
}

/* Write a provider's state row. */
static void
save_state(ProviderTally *t)
{
	static SPIPlanPtr state_plan = NULL;
	static SPIPlanPtr disable_plan = NULL;
	DeliveryProvider *p = t->prov;
	Oid			types[15] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT8OID, INT4OID,
		INT4OID, TIMESTAMPTZOID, BOOLOID, TEXTOID, TIMESTAMPTZOID,
	BOOLOID, XID8OID, XID8OID, TIMESTAMPTZOID};
	Datum		args[15];
	char		nulls[16] = "               ";
	TimestampTz at = GetCurrentTimestamp();	/* the attempt's end: backoff starts here */
	int			failures = t->retry ? p->failures + 1 : 0;

	args[0] = CStringGetTextDatum(p->spec_key);
	args[1] = CStringGetTextDatum(p->name);
	args[2] = CStringGetTextDatum(t->cursor_xid);
	args[3] = CStringGetTextDatum(t->cursor_id);
	args[4] = Int64GetDatum(t->delivered);
	args[5] = Int32GetDatum(t->retrying);
	args[6] = Int32GetDatum(failures);
	if (t->retry)
		args[7] = TimestampTzGetDatum(at +
									  backoff_ms(failures, t->retry_after) * 1000);
	else
		nulls[7] = 'n';
	args[8] = BoolGetDatum(t->success);
	args[9] = CStringGetTextDatum(t->error ? t->error : "");
	if (t->error == NULL)
		nulls[9] = 'n';
	args[10] = TimestampTzGetDatum(at);

	/*
	 * Every event below the horizon read and settled (nothing blocks the
	 * cursor): the floor may move up to the pending sample (src/floor.c).
	 */
	args[11] = BoolGetDatum(p->caught_up && !t->blocked);
	args[12] = FullTransactionIdGetDatum(delivery_horizon);
	args[13] = FullTransactionIdGetDatum(delivery_sample_xid);
	args[14] = TimestampTzGetDatum(delivery_sample_at);

	/*
	 * A provider that a registration meanwhile dropped (its state removed,
	 * see spec_deploy.c) is not made again: only existing state is updated.
	 */
	spi_plan_run(&state_plan, "UPDATE telemetry.delivery_state s SET "
		"cursor_xid = $3::pg_catalog.xid8, cursor_id = $4::uuid, "
		"delivered = s.delivered + $5, in_flight = 0, in_flight_since = NULL, "
		"retrying = $6, failures = $7, next_attempt_at = $8, "
		"last_success_at = COALESCE(CASE WHEN $9 THEN pg_catalog.now() END, s.last_success_at), "
		"last_error = COALESCE($10, s.last_error), "
		"last_error_at = COALESCE(CASE WHEN $10 IS NOT NULL THEN $11 END, s.last_error_at), "
		"floor = CASE WHEN $12 AND s.pending_xid <= $13 THEN s.pending_at ELSE s.floor END, "
		"pending_xid = CASE WHEN $12 AND (s.pending_xid IS NULL OR s.pending_xid <= $13) THEN $14 ELSE s.pending_xid END, "
		"pending_at = CASE WHEN $12 AND (s.pending_xid IS NULL OR s.pending_xid <= $13) THEN $15 ELSE s.pending_at END "
		"WHERE s.spec_key = $1 AND s.provider = $2",
		15, types, args, nulls, SPI_OK_UPDATE);

	if (t->disable)
	{
		Oid			dtypes[2] = {TEXTOID, TEXTOID};

		/* every version's row of the provider: a new version keeps it off */
		spi_plan_run(&disable_plan, "UPDATE telemetry.providers SET enabled = false, "
			"disabled_reason = 'webhook answered 410 Gone at ' || pg_catalog.now()::text "
			"WHERE spec_key = $1 AND name = $2",
			2, dtypes, args, NULL, SPI_OK_UPDATE);
	}
}

/*
 * Record every provider's outcomes; returns the number of events
 * delivered.  Sets *more when a provider had more events waiting and
 * nothing failed.  Runs in a transaction with SPI connected.
 */
int
delivery_record(List *providers, bool *more)
{
	ListCell   *lc;
	int64		total = 0;

	foreach(lc, providers)
	{
		DeliveryProvider *p = lfirst(lc);
		ProviderTally t;
		ListCell   *bc;

		memset(&t, 0, sizeof(t));
		t.prov = p;
		t.cursor_xid = p->cursor_xid;
		t.cursor_id = p->cursor_id;
		t.retry_after = -1;
		t.max_age_cutoff = GetCurrentTimestamp() - (int64) telemetry_max_delivery_age * USECS_PER_SEC;

		foreach(bc, p->alerts)
			settle_side_tree(&t, lfirst(bc));
		foreach(bc, p->requeued)
			settle_side_tree(&t, lfirst(bc));
		foreach(bc, p->batches)
			settle(&t, lfirst(bc));
		save_state(&t);
		total += t.delivered;
		if (p->more_waiting && !t.retry && !t.disable)
			*more = true;
	}
	return (int) Min(total, PG_INT32_MAX);
}
