/*
 * worker_status.c
 *		SQL access to the worker's shared-memory status.
 */
#include "telemetry.h"
#include "shmem.h"

#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"

PG_FUNCTION_INFO_V1(telemetry_worker_status);

/*
 * SQL: telemetry._worker_status() returns one row per job: the worker's
 * pid and start time (NULL when none runs) and the job's last run, outcome,
 * error and next run (NULL when unknown).
 */
Datum
telemetry_worker_status(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TelemetryJobStatus jobs[TELEMETRY_NJOBS];
	pid_t		pid = 0;
	TimestampTz started_at = 0;
	int			i;

	InitMaterializedSRF(fcinfo, 0);

	memset(jobs, 0, sizeof(jobs));
	if (telemetry_shared != NULL)
	{
		SpinLockAcquire(&telemetry_shared->mutex);
		pid = telemetry_shared->worker_pid;
		started_at = telemetry_shared->worker_started_at;
		memcpy(jobs, telemetry_shared->jobs, sizeof(jobs));
		SpinLockRelease(&telemetry_shared->mutex);
	}

	for (i = 0; i < TELEMETRY_NJOBS; i++)
	{
		Datum		values[7];
		bool		nulls[7];

		memset(nulls, 0, sizeof(nulls));
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
