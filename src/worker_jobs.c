/*
 * worker_jobs.c
 *		A database worker's jobs (maintenance, anomaly checks, delivery),
 *		the transaction wrapper they share, and the guard that keeps a
 *		failing job from taking the worker down.
 *
 * Every job starts and ends with no transaction open.  The SQL they run
 * calls only functions of schema telemetry (where no role but the
 * extension's owner can create objects), names every object with its
 * schema and resolves no operator or type by name; the session's
 * search_path is pinned as well (worker_session.c).
 */
#include "telemetry.h"
#include "worker.h"
#include "run_lock.h"
#include "shmem.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "pgstat.h"
#include "storage/lock.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

/* Memory context of the job that called telemetry_worker_tx_begin. */
static MemoryContext job_cxt = NULL;

/*
 * Start one of the worker's short transactions, with an SPI connection and
 * a snapshot, and say in pg_stat_activity what it does.  Every job of the
 * worker (delivery included) uses this pair.
 */
void
telemetry_worker_tx_begin(const char *activity)
{
	job_cxt = CurrentMemoryContext;
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, activity);
}

/*
 * Commit what telemetry_worker_tx_begin started, report statistics (so
 * autovacuum sees what the worker wrote) and return to the job's memory
 * context.
 */
void
telemetry_worker_tx_commit(void)
{
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
	if (job_cxt)
		MemoryContextSwitchTo(job_cxt);
}

/*
 * The owner of the extension in this database, InvalidOid when it is not
 * installed (or its CREATE has not committed, or its DROP has).  The one
 * place the worker asks; works inside and outside a transaction.
 */
Oid
worker_extension_owner(void)
{
	MemoryContext ctx = CurrentMemoryContext;
	bool		own_xact = !IsTransactionState();
	Oid			owner;

	if (own_xact)
	{
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
	}
	owner = creating_extension ? InvalidOid : telemetry_extension_owner();
	if (own_xact)
		CommitTransactionCommand();
	MemoryContextSwitchTo(ctx);
	return owner;
}

/* Copy a result column as text into the job's context (NULL stays NULL). */
static char *
spi_getstr(int row, int col)
{
	char	   *v = SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col);

	return v ? MemoryContextStrdup(job_cxt, v) : NULL;
}

/* A key of a jsonb object as text, or NULL (no operator resolved by name). */
static char *
jsonb_key_text(Jsonb *jb, const char *key)
{
	JsonbValue *v;

	if (jb == NULL || !JB_ROOT_IS_OBJECT(jb))
		return NULL;
	v = getKeyJsonValueFromContainer(&jb->root, key, strlen(key), NULL);
	if (v == NULL || v->type == jbvNull)
		return NULL;
	if (v->type == jbvString)
		return pnstrdup(v->val.string.val, v->val.string.len);
	if (v->type == jbvBool)
		return pstrdup(v->val.boolean ? "true" : "false");
	if (v->type == jbvNumeric)
		return DatumGetCString(DirectFunctionCall1(numeric_out,
												   NumericGetDatum(v->val.numeric)));
	return NULL;
}

/* Column col of row 0 as a jsonb copied into the job's context, or NULL. */
static Jsonb *
spi_getjsonb(int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, col, &isnull);
	MemoryContext old;
	Jsonb	   *jb;

	if (isnull)
		return NULL;
	old = MemoryContextSwitchTo(job_cxt);
	jb = DatumGetJsonbPCopy(d);
	MemoryContextSwitchTo(old);
	return jb;
}

/* Store a job's status in this worker's slot. */
void
worker_job_record(TelemetryJob job, TimestampTz last_run, TimestampTz next_run,
				  const char *outcome, const char *error)
{
	TelemetryJobStatus *st;
	int			olen;
	int			elen = 0;

	if (MyWorkerSlot == NULL)
		return;
	st = &MyWorkerSlot->jobs[job];
	/* clip on a character boundary: the status is shown as text */
	outcome = outcome ? outcome : "";
	olen = pg_mbcliplen(outcome, strlen(outcome), TELEMETRY_STATUS_LEN - 1);
	if (error)
		elen = pg_mbcliplen(error, strlen(error), TELEMETRY_STATUS_LEN - 1);

	SpinLockAcquire(&telemetry_workers->mutex);
	st->last_run = last_run;
	st->next_run = next_run;
	memcpy(st->last_outcome, outcome, olen);
	st->last_outcome[olen] = '\0';
	if (error)
	{
		memcpy(st->last_error, error, elen);
		st->last_error[elen] = '\0';
	}
	SpinLockRelease(&telemetry_workers->mutex);
}

/*
 * Run one job, catching its errors: the transaction is aborted, the run
 * locks the job held at session level are released, the error is recorded
 * in the job's status and logged once (not again while it repeats).
 * *next_run comes in as the job's regular next run and goes out as the
 * earlier of that and the time the job asked for.  Returns whether the job
 * succeeded.
 */
bool
worker_run_guarded(TelemetryJob job, TelemetryJobFn fn, TimestampTz started,
				   TimestampTz *next_run)
{
	MemoryContext ctx = CurrentMemoryContext;
	char		outcome[TELEMETRY_STATUS_LEN];
	volatile TimestampTz asked = 0;
	volatile bool ok = true;

	outcome[0] = '\0';
	PG_TRY();
	{
		asked = fn(outcome, sizeof(outcome));
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		bool		repeated;

		HOLD_INTERRUPTS();
		MemoryContextSwitchTo(ctx);
		edata = CopyErrorData();
		FlushErrorState();
		AbortOutOfAnyTransaction();
		/* session-level run locks (run_lock.c) and advisory ones */
		LockReleaseAll(DEFAULT_LOCKMETHOD, true);
		LockReleaseAll(USER_LOCKMETHOD, true);
		pgstat_report_activity(STATE_IDLE, NULL);
		RESUME_INTERRUPTS();

		/* the extension was dropped under the job: nothing to report */
		if (!OidIsValid(worker_extension_owner()))
		{
			worker_job_record(job, started, *next_run,
							  "idle: extension not installed", NULL);
			FreeErrorData(edata);
			MemoryContextSwitchTo(ctx);
			return false;
		}

		SpinLockAcquire(&telemetry_workers->mutex);
		repeated = strncmp(MyWorkerSlot->jobs[job].last_error,
						   edata->message ? edata->message : "",
						   TELEMETRY_STATUS_LEN - 1) == 0;
		SpinLockRelease(&telemetry_workers->mutex);
		if (!repeated)
			ereport(LOG,
					(errmsg("telemetry worker: %s job failed: %s",
							telemetry_job_names[job], edata->message)));
		worker_job_record(job, started, *next_run, "error",
						  edata->message ? edata->message : "unknown error");
		FreeErrorData(edata);
		ok = false;
	}
	PG_END_TRY();

	if (ok)
	{
		if (asked != 0 && asked < *next_run)
			*next_run = asked;
		worker_job_record(job, started, *next_run, outcome, NULL);
	}
	MemoryContextSwitchTo(ctx);
	return ok;
}

/*
 * Maintenance: take the maintenance lock for the session, then run phase
 * 1 (retention, history) and phase 2 (drain the default partition,
 * premake), one transaction per step, repeating a step while it says
 * "more".  Stops early when the extension goes away or the worker is asked
 * to leave.
 */
TimestampTz
worker_job_maintenance(char *outcome, size_t len)
{
	Datum		as_of = TimestampTzGetDatum(GetCurrentTimestamp());
	Jsonb	   *acc;
	bool		locked;
	int			phase;
	bool		stopped = false;
	char	   *summary;

	telemetry_worker_tx_begin("telemetry maintenance: lock");
	if (SPI_execute("SELECT telemetry._maintenance_merge('{}', '{}')",
					true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not start a maintenance run");
	acc = spi_getjsonb(1);
	/* the lock telemetry._run_lock('maintenance') takes, for the session */
	locked = telemetry_run_lock_acquire(RUN_LOCK_MAINTENANCE, true, false);
	telemetry_worker_tx_commit();
	if (!locked)
	{
		snprintf(outcome, len, "skipped: another maintenance run is in progress");
		return 0;
	}

	for (phase = 1; phase <= 2 && !stopped; phase++)
	{
		Oid			plan_types[2] = {TIMESTAMPTZOID, INT4OID};
		Datum		plan_args[2] = {as_of, Int32GetDatum(phase)};
		int			nsteps;
		char	  **kinds;
		char	  **targets;
		int			i;

		telemetry_worker_tx_begin("telemetry maintenance: plan");
		if (SPI_execute_with_args("SELECT p.kind, p.target FROM telemetry._maintenance_plan($1, $2) AS p",
								  2, plan_types, plan_args, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not plan maintenance");
		nsteps = (int) SPI_processed;
		kinds = MemoryContextAlloc(job_cxt, sizeof(char *) * Max(nsteps, 1));
		targets = MemoryContextAlloc(job_cxt, sizeof(char *) * Max(nsteps, 1));
		for (i = 0; i < nsteps; i++)
		{
			kinds[i] = spi_getstr(i, 1);
			targets[i] = spi_getstr(i, 2);
		}
		telemetry_worker_tx_commit();

		for (i = 0; i < nsteps && !stopped; i++)
		{
			bool		more = true;

			while (more)
			{
				Oid			types[4] = {TEXTOID, TEXTOID, TIMESTAMPTZOID, JSONBOID};
				Datum		args[4];
				char	   *m;

				CHECK_FOR_INTERRUPTS();
				if (telemetry_worker_should_stop())
				{
					stopped = true;
					break;
				}
				args[0] = CStringGetTextDatum(kinds[i]);
				args[1] = CStringGetTextDatum(targets[i]);
				args[2] = as_of;
				args[3] = JsonbPGetDatum(acc);

				telemetry_worker_tx_begin("telemetry maintenance");
				if (!OidIsValid(worker_extension_owner()))
				{
					telemetry_worker_tx_commit();
					stopped = true;
					break;
				}
				if (SPI_execute_with_args("SELECT r, telemetry._maintenance_merge($4, r)"
										  " FROM telemetry._maintenance_step($1, $2, $3) AS r",
										  4, types, args, NULL, false, 1) != SPI_OK_SELECT ||
					SPI_processed != 1)
					elog(ERROR, "maintenance step failed");
				m = jsonb_key_text(spi_getjsonb(1), "more");
				more = m != NULL && strcmp(m, "true") == 0;
				acc = spi_getjsonb(2);
				telemetry_worker_tx_commit();
			}
		}
	}

	telemetry_run_lock_release(RUN_LOCK_MAINTENANCE);
	summary = acc ? JsonbToCString(NULL, &acc->root, VARSIZE(acc)) : "{}";
	snprintf(outcome, len, "%s: %s", stopped ? "stopped" : "ok", summary);
	return 0;
}

/* Whether telemetry._anomaly_job exists (not in older versions). */
static bool
anomaly_job_exists(void)
{
	List	   *name = list_make2(makeString("telemetry"), makeString("_anomaly_job"));

	return OidIsValid(LookupFuncName(name, -1, NULL, true));
}

/*
 * Anomaly checks: telemetry._anomaly_job() checks and says when the next
 * check is due; that time is honoured (the caller bounds it by
 * telemetry.anomaly_interval).
 */
TimestampTz
worker_job_anomaly(char *outcome, size_t len)
{
	Jsonb	   *result;
	char	   *recorded;
	char	   *next;
	TimestampTz next_at = 0;

	telemetry_worker_tx_begin("telemetry anomaly checks");
	if (!anomaly_job_exists())
	{
		telemetry_worker_tx_commit();
		snprintf(outcome, len, "idle: telemetry._anomaly_job() not installed");
		return 0;
	}
	if (SPI_execute("SELECT telemetry._anomaly_job()", false, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "telemetry._anomaly_job() failed");
	result = spi_getjsonb(1);
	telemetry_worker_tx_commit();

	recorded = jsonb_key_text(result, "recorded");
	next = jsonb_key_text(result, "next_check_at");
	if (next != NULL)
		next_at = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in,
														  CStringGetDatum(next),
														  ObjectIdGetDatum(InvalidOid),
														  Int32GetDatum(-1)));
	snprintf(outcome, len, "ok: %s recorded", recorded ? recorded : "0");
	return next_at;
}

/*
 * How long after a delivery job a wake-up (a committing tracking
 * transaction) starts the next one: about the time events take to fill
 * one request (telemetry.batch_size) at the rate the last job delivered
 * them, between these bounds.  Each pass has a fixed cost (two short
 * transactions), so a slow trickle of events waits up to the longest gap
 * and costs the worker at most ten passes a second, while at thousands of
 * events a second passes follow each other closely: events wait about as
 * long as a full batch takes to gather, not a fixed 100 ms.
 */
#define DELIVERY_GAP_MIN_MS		10
#define DELIVERY_GAP_MAX_MS		100

static long delivery_gap_ms = DELIVERY_GAP_MAX_MS;
static TimestampTz delivery_job_ended = 0;

long
worker_delivery_wake_gap_ms(void)
{
	return delivery_gap_ms;
}

/* Set the next gap from a job that delivered `delivered` events. */
static void
delivery_gap_update(int64 delivered)
{
	TimestampTz now = GetCurrentTimestamp();
	double		ms = delivery_job_ended ? (now - delivery_job_ended) / 1000.0 : 0;

	/* the events of the last gap and job, at this rate, fill one batch in */
	if (delivered > 0 && ms > 0)
		delivery_gap_ms = Max(DELIVERY_GAP_MIN_MS,
							  Min(DELIVERY_GAP_MAX_MS,
								  (long) (telemetry_batch_size * ms / delivered)));
	else
		delivery_gap_ms = DELIVERY_GAP_MAX_MS;
	delivery_job_ended = now;
}

/*
 * Delivery: passes of the delivery code, which opens and commits its own
 * transactions, while it says more work is waiting (bounded, so the other
 * jobs get their turn).
 */
TimestampTz
worker_job_delivery(char *outcome, size_t len)
{
	bool		more = true;
	bool		none_due = false;
	int64		delivered = 0;
	int			passes;

	/*
	 * Commits from now on wake the worker again (events they store may be
	 * after this pass's horizon), unless no provider was due last time:
	 * then only this job's own timer and explicit wake-ups bring it back.
	 */
	if (!worker_delivery_quiet)
		telemetry_delivery_wake_consumed();
	for (passes = 0; more && passes < 100; passes++)
	{
		CHECK_FOR_INTERRUPTS();
		if (telemetry_worker_should_stop())
			break;
		more = false;
		delivered += telemetry_delivery_worker_pass(&more, &none_due);
		if (IsTransactionState())
			elog(ERROR, "delivery pass left a transaction open");
		pgstat_report_stat(false);
	}
	delivery_gap_update(delivered);
	if (none_due)
		telemetry_delivery_wake_suppress();
	else if (worker_delivery_quiet)
		telemetry_delivery_wake_consumed();
	worker_delivery_quiet = none_due;
	snprintf(outcome, len, "ok: " INT64_FORMAT " delivered%s", delivered,
			 none_due ? ", no provider due (backing off, disabled or none)" :
			 more ? ", more waiting" : "");
	return 0;
}
