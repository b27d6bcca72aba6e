/*
 * worker_status.c
 *		SQL access to the launcher's and the workers' shared state, and the
 *		warning of CREATE EXTENSION on a server that runs no worker.
 */
#include "telemetry.h"
#include "worker.h"
#include "shmem.h"

#include "commands/dbcommands.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"

PG_FUNCTION_INFO_V1(telemetry_worker_status);
PG_FUNCTION_INFO_V1(telemetry_workers_list);
PG_FUNCTION_INFO_V1(telemetry_warn_without_worker);

#define NO_PRELOAD_MSG "telemetry is not in shared_preload_libraries: no background worker serves this database"
#define NO_PRELOAD_DETAIL "No partitions are made (events pile up in telemetry.events_default), no retention is enforced, no anomaly checks run and no events are delivered."

/*
 * Why no worker runs for this database, from the launcher's table (or
 * because there is no launcher at all); NULL when one should be running.
 */
static const char *
no_worker_reason(void)
{
	int			i;
	int			state = -1;

	if (telemetry_workers == NULL)
		return "idle: " NO_PRELOAD_MSG;
	SpinLockAcquire(&telemetry_workers->mutex);
	for (i = 0; i < telemetry_workers->ndbs; i++)
	{
		if (TELEMETRY_DBS()[i].dboid == MyDatabaseId)
			state = TELEMETRY_DBS()[i].state;
	}
	SpinLockRelease(&telemetry_workers->mutex);
	if (state < 0)
		return "idle: not known to the launcher yet";
	return psprintf("idle: %s", telemetry_db_state_names[state]);
}

/*
 * SQL: telemetry._worker_status() returns one row per job of this
 * database's worker: its pid and start time (NULL when none runs) and the
 * job's last run, outcome, error and next run (NULL when unknown).  When no
 * worker serves the database, every job's outcome says why.
 */
Datum
telemetry_worker_status(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TelemetryJobStatus jobs[TELEMETRY_NJOBS];
	TelemetryWorkerSlot *slot;
	pid_t		pid = 0;
	TimestampTz started_at = 0;
	const char *why = NULL;
	int			i;

	InitMaterializedSRF(fcinfo, 0);

	memset(jobs, 0, sizeof(jobs));
	slot = telemetry_worker_slot_for(MyDatabaseId);
	if (slot != NULL)
	{
		SpinLockAcquire(&telemetry_workers->mutex);
		if (slot->dboid == MyDatabaseId)
		{
			pid = slot->pid;
			started_at = slot->started_at;
			memcpy(jobs, slot->jobs, sizeof(jobs));
		}
		else
			slot = NULL;
		SpinLockRelease(&telemetry_workers->mutex);
	}
	if (slot == NULL)
		why = no_worker_reason();

	for (i = 0; i < TELEMETRY_NJOBS; i++)
	{
		Datum		values[7];
		bool		nulls[7];

		memset(nulls, 0, sizeof(nulls));
		if (why != NULL)
			strlcpy(jobs[i].last_outcome, why, TELEMETRY_STATUS_LEN);
		values[0] = CStringGetTextDatum(telemetry_job_names[i]);
		values[1] = Int32GetDatum((int32) pid);
		nulls[1] = (pid == 0);
		values[2] = TimestampTzGetDatum(started_at);
		nulls[2] = (pid == 0 || started_at == 0);
		values[3] = TimestampTzGetDatum(jobs[i].last_run);
		nulls[3] = (jobs[i].last_run == 0);
		jobs[i].last_outcome[TELEMETRY_STATUS_LEN - 1] = '\0';
		jobs[i].last_error[TELEMETRY_STATUS_LEN - 1] = '\0';
		values[4] = CStringGetTextDatum(jobs[i].last_outcome);
		nulls[4] = (jobs[i].last_outcome[0] == '\0');
		values[5] = CStringGetTextDatum(jobs[i].last_error);
		nulls[5] = (jobs[i].last_error[0] == '\0');
		values[6] = TimestampTzGetDatum(jobs[i].next_run);
		nulls[6] = (jobs[i].next_run == 0);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * SQL: telemetry._workers() returns one row per database the launcher
 * knows (connectable, not a template): oid, state, the worker's pid and
 * start time, failed starts in a row and the next start after a failure.
 * Nothing without shared_preload_libraries.
 */
Datum
telemetry_workers_list(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TelemetryDbStatus *copy;
	pid_t	   *pids;
	TimestampTz *started;
	int			n;
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	if (telemetry_workers == NULL)
		return (Datum) 0;

	copy = palloc(sizeof(TelemetryDbStatus) * telemetry_workers->max_dbs);
	pids = palloc0(sizeof(pid_t) * telemetry_workers->max_dbs);
	started = palloc0(sizeof(TimestampTz) * telemetry_workers->max_dbs);
	SpinLockAcquire(&telemetry_workers->mutex);
	n = telemetry_workers->ndbs;
	memcpy(copy, TELEMETRY_DBS(), sizeof(TelemetryDbStatus) * n);
	for (i = 0; i < n; i++)
	{
		int			s = copy[i].slot;

		if (s >= 0 && s < telemetry_max_workers &&
			telemetry_workers->slots[s].dboid == copy[i].dboid)
		{
			pids[i] = telemetry_workers->slots[s].pid;
			started[i] = telemetry_workers->slots[s].started_at;
		}
	}
	SpinLockRelease(&telemetry_workers->mutex);

	for (i = 0; i < n; i++)
	{
		Datum		values[6];
		bool		nulls[6];
		TelemetryDbState state = copy[i].state;

		memset(nulls, 0, sizeof(nulls));
		/* the worker attached since the launcher last looked */
		if (state == DBSTATE_STARTING && pids[i] != 0)
			state = DBSTATE_RUNNING;
		values[0] = ObjectIdGetDatum(copy[i].dboid);
		values[1] = CStringGetTextDatum(telemetry_db_state_names[state]);
		values[2] = Int32GetDatum((int32) pids[i]);
		nulls[2] = (pids[i] == 0);
		values[3] = TimestampTzGetDatum(started[i]);
		nulls[3] = (pids[i] == 0 || started[i] == 0);
		values[4] = Int32GetDatum(copy[i].failures);
		values[5] = TimestampTzGetDatum(copy[i].retry_at);
		nulls[5] = (copy[i].retry_at == 0);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * SQL: telemetry._warn_without_worker(), run by the install script: a
 * WARNING when the library was not preloaded, so CREATE EXTENSION says
 * what will not happen.
 */
Datum
telemetry_warn_without_worker(PG_FUNCTION_ARGS)
{
	if (telemetry_workers == NULL)
		ereport(WARNING,
				(errmsg(NO_PRELOAD_MSG),
				 errdetail(NO_PRELOAD_DETAIL),
				 errhint("Add telemetry to shared_preload_libraries and restart the server, or run telemetry_run_maintenance(), telemetry_check_anomalies() and telemetry_deliver() on a schedule of your own.")));
	PG_RETURN_VOID();
}
