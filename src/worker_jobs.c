/*
 * worker_jobs.c
 *		The worker's jobs (maintenance, anomaly checks, delivery) and the
 *		guard that keeps a failing job from taking the worker down.
 *
 * Every job starts and ends with no transaction open.  Maintenance runs
 * the steps of telemetry._maintenance_plan() one transaction each, so a
 * partition's DDL holds its locks only for that step; statistics are
 * reported after every commit so autovacuum sees what the worker wrote.
 */
#include "telemetry.h"
#include "worker.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/lock.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

/* Interval of the anomaly job, as last worked out from GUC and specs. */
static int	anomaly_interval_ms = -1;

/* Start a transaction with a snapshot and an SPI connection. */
static void
tx_begin(const char *activity)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, activity);
}

/* Commit what tx_begin started, report statistics, return to ctx. */
static void
tx_commit(MemoryContext ctx)
{
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
	MemoryContextSwitchTo(ctx);
}

/*
 * Whether the extension is installed (and committed) in this database.
 * A CREATE EXTENSION still in progress is invisible here, as is one being
 * dropped once the drop commits.
 */
bool
worker_extension_present(void)
{
	MemoryContext ctx = CurrentMemoryContext;
	bool		present;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	present = OidIsValid(get_extension_oid("telemetry", true));
	CommitTransactionCommand();
	MemoryContextSwitchTo(ctx);
	return present;
}

/* Copy a text or jsonb result column into ctx (NULL stays NULL). */
static char *
spi_getstr(int row, int col, MemoryContext ctx)
{
	char	   *v = SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col);

	return v ? MemoryContextStrdup(ctx, v) : NULL;
}

/* Store a job's status in shared memory. */
void
worker_job_record(TelemetryJob job, TimestampTz last_run, TimestampTz next_run,
				  const char *outcome, const char *error)
{
	TelemetryJobStatus *st = &telemetry_shared->jobs[job];
	int			olen;
	int			elen = 0;

	/* clip on a character boundary: the status is shown as text */
	outcome = outcome ? outcome : "";
	olen = pg_mbcliplen(outcome, strlen(outcome), TELEMETRY_STATUS_LEN - 1);
	if (error)
		elen = pg_mbcliplen(error, strlen(error), TELEMETRY_STATUS_LEN - 1);

	SpinLockAcquire(&telemetry_shared->mutex);
	st->last_run = last_run;
	st->next_run = next_run;
	memcpy(st->last_outcome, outcome, olen);
	st->last_outcome[olen] = '\0';
	if (error)
	{
		memcpy(st->last_error, error, elen);
		st->last_error[elen] = '\0';
	}
	SpinLockRelease(&telemetry_shared->mutex);
}

/* Correct a job's next run once the job itself has worked it out. */
void
worker_job_set_next(TelemetryJob job, TimestampTz next_run)
{
	SpinLockAcquire(&telemetry_shared->mutex);
	telemetry_shared->jobs[job].next_run = next_run;
	SpinLockRelease(&telemetry_shared->mutex);
}

/*
 * Run one job, catching its errors: the transaction is aborted, advisory
 * locks the job held at session level are released, the error is recorded
 * in the job's status and logged once (not again while it repeats).
 * Returns whether the job succeeded.
 */
bool
worker_run_guarded(TelemetryJob job, TelemetryJobFn fn, TimestampTz started,
				   TimestampTz next_run)
{
	MemoryContext ctx = CurrentMemoryContext;
	char		outcome[TELEMETRY_STATUS_LEN];
	volatile bool ok = true;

	outcome[0] = '\0';
	PG_TRY();
	{
		fn(outcome, sizeof(outcome));
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
		LockReleaseAll(USER_LOCKMETHOD, true);
		pgstat_report_activity(STATE_IDLE, NULL);
		RESUME_INTERRUPTS();

		/* the extension was dropped under the job: nothing to report */
		if (!worker_extension_present())
		{
			worker_job_record(job, started, next_run,
							  "idle: extension not installed", NULL);
			FreeErrorData(edata);
			MemoryContextSwitchTo(ctx);
			return false;
		}

		SpinLockAcquire(&telemetry_shared->mutex);
		repeated = strncmp(telemetry_shared->jobs[job].last_error,
						   edata->message ? edata->message : "",
						   TELEMETRY_STATUS_LEN - 1) == 0;
		SpinLockRelease(&telemetry_shared->mutex);
		if (!repeated)
			ereport(LOG,
					(errmsg("telemetry worker: %s job failed: %s",
							telemetry_job_names[job], edata->message)));
		worker_job_record(job, started, next_run, "error",
						  edata->message ? edata->message : "unknown error");
		FreeErrorData(edata);
		ok = false;
	}
	PG_END_TRY();

	if (ok)
		worker_job_record(job, started, next_run, outcome, NULL);
	MemoryContextSwitchTo(ctx);
	return ok;
}

/*
 * Maintenance: take the maintenance lock for the session, then run phase
 * 1 (retention, history) and phase 2 (drain the default partition,
 * premake), one transaction per step, repeating a step while it says
 * "more".  Stops early when the extension goes away or the database is
 * being dropped.
 */
void
worker_job_maintenance(char *outcome, size_t len)
{
	MemoryContext ctx = CurrentMemoryContext;
	Datum		as_of = TimestampTzGetDatum(GetCurrentTimestamp());
	char	   *acc = "{}";
	bool		locked;
	int			phase;
	bool		stopped = false;

	tx_begin("telemetry maintenance: lock");
	if (SPI_execute("SELECT pg_try_advisory_lock(telemetry._maintenance_lock_key())",
					false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not take the maintenance lock");
	locked = strcmp(spi_getstr(0, 1, ctx), "t") == 0;
	tx_commit(ctx);
	if (!locked)
	{
		snprintf(outcome, len, "skipped: another maintenance run is in progress");
		return;
	}

	for (phase = 1; phase <= 2 && !stopped; phase++)
	{
		Oid			plan_types[2] = {TIMESTAMPTZOID, INT4OID};
		Datum		plan_args[2] = {as_of, Int32GetDatum(phase)};
		int			nsteps;
		char	  **kinds;
		char	  **targets;
		int			i;

		tx_begin("telemetry maintenance: plan");
		if (SPI_execute_with_args("SELECT kind, target FROM telemetry._maintenance_plan($1, $2)",
								  2, plan_types, plan_args, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not plan maintenance");
		nsteps = (int) SPI_processed;
		kinds = MemoryContextAlloc(ctx, sizeof(char *) * Max(nsteps, 1));
		targets = MemoryContextAlloc(ctx, sizeof(char *) * Max(nsteps, 1));
		for (i = 0; i < nsteps; i++)
		{
			kinds[i] = spi_getstr(i, 1, ctx);
			targets[i] = spi_getstr(i, 2, ctx);
		}
		tx_commit(ctx);

		for (i = 0; i < nsteps && !stopped; i++)
		{
			bool		more = true;

			while (more)
			{
				Oid			types[4] = {TEXTOID, TEXTOID, TIMESTAMPTZOID, TEXTOID};
				Datum		args[4];

				CHECK_FOR_INTERRUPTS();
				if (telemetry_worker_db_gone())
				{
					stopped = true;
					break;
				}
				args[0] = CStringGetTextDatum(kinds[i]);
				args[1] = CStringGetTextDatum(targets[i]);
				args[2] = as_of;
				args[3] = CStringGetTextDatum(acc);

				tx_begin("telemetry maintenance");
				if (!OidIsValid(get_extension_oid("telemetry", true)))
				{
					tx_commit(ctx);
					stopped = true;
					break;
				}
				if (SPI_execute_with_args("SELECT coalesce((r->>'more')::boolean, false),"
										  " telemetry._maintenance_merge($4::jsonb, r)"
										  " FROM telemetry._maintenance_step($1, $2, $3) r",
										  4, types, args, NULL, false, 1) != SPI_OK_SELECT ||
					SPI_processed != 1)
					elog(ERROR, "maintenance step failed");
				more = strcmp(spi_getstr(0, 1, ctx), "t") == 0;
				acc = spi_getstr(0, 2, ctx);
				tx_commit(ctx);
			}
		}
	}

	tx_begin("telemetry maintenance: unlock");
	SPI_execute("SELECT pg_advisory_unlock(telemetry._maintenance_lock_key())", false, 1);
	tx_commit(ctx);

	snprintf(outcome, len, "%s: %s", stopped ? "stopped" : "ok", acc);
}

/* The anomaly job's interval: telemetry.anomaly_interval, or less where a spec asks. */
int
worker_anomaly_interval_ms(void)
{
	if (anomaly_interval_ms <= 0)
		return telemetry_anomaly_interval;
	return Min(anomaly_interval_ms, telemetry_anomaly_interval);
}

/*
 * Anomaly checks: call telemetry_check_anomalies() in the extension's
 * schema if that function exists, and work out the interval to the next
 * check from the specs' checkIntervalMs.
 */
void
worker_job_anomaly(char *outcome, size_t len)
{
	MemoryContext ctx = CurrentMemoryContext;
	char	   *schema;
	char	   *fn = NULL;
	char	   *result = NULL;
	char	   *ms;

	tx_begin("telemetry anomaly checks");
	if (SPI_execute("SELECT n.nspname FROM pg_catalog.pg_extension e"
					" JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace"
					" WHERE e.extname = 'telemetry'", true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not find the extension's schema");
	if (SPI_processed == 0)
	{
		tx_commit(ctx);
		snprintf(outcome, len, "idle: extension not installed");
		return;
	}
	schema = spi_getstr(0, 1, ctx);
	fn = psprintf("%s.telemetry_check_anomalies()", quote_identifier(schema));

	if (SPI_execute("SELECT min(anomaly_check_interval_ms) FROM telemetry.specs"
					" WHERE anomaly_enabled AND anomaly_check_interval_ms > 0",
					true, 1) == SPI_OK_SELECT && SPI_processed == 1 &&
		(ms = spi_getstr(0, 1, ctx)) != NULL)
		anomaly_interval_ms = Max(100, pg_strtoint32(ms));
	else
		anomaly_interval_ms = -1;

	{
		Oid			types[1] = {TEXTOID};
		Datum		args[1] = {CStringGetTextDatum(fn)};

		if (SPI_execute_with_args("SELECT to_regprocedure($1) IS NOT NULL",
								  1, types, args, NULL, true, 1) != SPI_OK_SELECT ||
			strcmp(spi_getstr(0, 1, ctx), "t") != 0)
		{
			tx_commit(ctx);
			snprintf(outcome, len, "idle: telemetry_check_anomalies() not installed");
			return;
		}
	}

	if (SPI_execute(psprintf("SELECT %s::text", fn), false, 1) != SPI_OK_SELECT)
		elog(ERROR, "telemetry_check_anomalies() failed");
	if (SPI_processed == 1)
		result = spi_getstr(0, 1, ctx);
	tx_commit(ctx);
	snprintf(outcome, len, "ok%s%s", result ? ": " : "", result ? result : "");
}

/*
 * Delivery: passes of the delivery code, which opens and commits its own
 * transactions, while it says more work is waiting (bounded, so the other
 * jobs get their turn).
 */
void
worker_job_delivery(char *outcome, size_t len)
{
	bool		more = true;
	int64		delivered = 0;
	int			passes;

	for (passes = 0; more && passes < 100; passes++)
	{
		CHECK_FOR_INTERRUPTS();
		if (telemetry_worker_db_gone())
			break;
		more = false;
		delivered += telemetry_delivery_worker_pass(&more);
		if (IsTransactionState())
			elog(ERROR, "delivery pass left a transaction open");
		pgstat_report_stat(false);
	}
	snprintf(outcome, len, "ok: " INT64_FORMAT " delivered%s", delivered,
			 more ? ", more waiting" : "");
}
