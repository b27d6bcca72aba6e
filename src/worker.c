/*
 * worker.c
 *		The telemetry background worker: registration and main loop.
 *
 * One worker per cluster, connected to telemetry.database, modelled on
 * contrib/pg_prewarm/autoprewarm.c.  It sleeps on its latch with a timeout
 * until the next job is due (or a committing backend wakes it for
 * delivery), runs the jobs that are due, each guarded so that one failing
 * job neither stops the others nor crash-loops the worker, and goes back to
 * sleep.  SIGHUP reloads the configuration, SIGTERM ends it (die), and the
 * postmaster restarts it a few seconds after it exits with an error.
 *
 * It stays quiet while there is nothing to do: the extension not installed
 * (or still being created, or dropped), telemetry.enabled off, or its
 * database being dropped (see worker_hook.c: it then disconnects so that
 * DROP DATABASE is not blocked, and waits unconnected until a database of
 * that name exists again).  It only starts once recovery has finished, so a
 * standby never runs it.
 */
#include "telemetry.h"
#include "worker.h"
#include "shmem.h"

#include "access/xlog.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/memutils.h"

/* How long the worker sleeps when there is nothing to do at all. */
#define WORKER_IDLE_MS			10000
/* Delivery runs at least this often, and whenever the worker is woken. */
#define WORKER_DELIVERY_MS		1000
/*
 * ... but wake-ups (one per committing tracking transaction) are coalesced:
 * a woken delivery starts no sooner than this after the previous one ended,
 * so thousands of commits a second cost the worker a few passes, not one
 * transaction each.
 */
#define WORKER_DELIVERY_GAP_MS	100
/* Longest wait before retrying a connection that failed. */
#define WORKER_MAX_BACKOFF_MS	300000

/* Set while the connection to telemetry.database is being made. */
static bool worker_connecting = false;

/* Register the worker with the postmaster; called from _PG_init. */
void
telemetry_worker_register(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 5;
	strlcpy(worker.bgw_library_name, "telemetry", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "telemetry_worker_main", BGW_MAXLEN);
	strlcpy(worker.bgw_name, "telemetry worker", BGW_MAXLEN);
	strlcpy(worker.bgw_type, "telemetry worker", BGW_MAXLEN);
	RegisterBackgroundWorker(&worker);

	telemetry_worker_install_hooks();
}

/* Whether telemetry.database is being dropped or renamed away. */
bool
telemetry_worker_db_gone(void)
{
	bool		gone;

	SpinLockAcquire(&telemetry_shared->mutex);
	gone = telemetry_shared->worker_db_gone;
	SpinLockRelease(&telemetry_shared->mutex);
	return gone;
}

/*
 * Exit callback: unpublish pid and latch before the PGPROC goes away, and
 * count a connection attempt that failed (the database does not exist), so
 * the next incarnation backs off instead of filling the log.
 */
static void
worker_detach(int code, Datum arg)
{
	SpinLockAcquire(&telemetry_shared->mutex);
	if (telemetry_shared->worker_pid == MyProcPid)
	{
		telemetry_shared->worker_pid = 0;
		telemetry_shared->worker_latch = NULL;
		telemetry_shared->worker_connected = false;
	}
	if (worker_connecting && telemetry_shared->worker_connect_failures < 30)
		telemetry_shared->worker_connect_failures++;
	SpinLockRelease(&telemetry_shared->mutex);
}

/*
 * Publish pid, latch and start time so backends can wake the worker and
 * telemetry.worker_status can show it.  A second copy (which the postmaster
 * never starts, but a stray dynamic registration could) exits at once.
 */
static void
worker_attach(void)
{
	pid_t		other;

	SpinLockAcquire(&telemetry_shared->mutex);
	other = telemetry_shared->worker_pid;
	if (other == 0 || other == MyProcPid)
	{
		telemetry_shared->worker_pid = MyProcPid;
		telemetry_shared->worker_latch = MyLatch;
		telemetry_shared->worker_started_at = GetCurrentTimestamp();
	}
	SpinLockRelease(&telemetry_shared->mutex);

	if (other != 0 && other != MyProcPid)
	{
		ereport(LOG,
				(errmsg("telemetry worker already running under PID %d", (int) other)));
		proc_exit(0);
	}
	before_shmem_exit(worker_detach, (Datum) 0);
}

/* Sleep on the latch, then handle interrupts and reload requests. */
static int
worker_wait(long timeout_ms)
{
	int			rc;
	int			events = WL_LATCH_SET | WL_EXIT_ON_PM_DEATH;

	if (timeout_ms >= 0)
		events |= WL_TIMEOUT;
	rc = WaitLatch(MyLatch, events, timeout_ms, PG_WAIT_EXTENSION);
	ResetLatch(MyLatch);
	CHECK_FOR_INTERRUPTS();
	if (ConfigReloadPending)
	{
		ConfigReloadPending = false;
		ProcessConfigFile(PGC_SIGHUP);
	}
	return rc;
}

/*
 * Before connecting: wait, unconnected, while telemetry.database is known
 * to be gone (until CREATE DATABASE or a rename brings the name back), and
 * back off after failed connection attempts.
 */
static void
worker_wait_for_database(void)
{
	int			failures;
	TimestampTz until;

	if (telemetry_worker_db_gone())
	{
		char		why[TELEMETRY_STATUS_LEN];
		TelemetryJob job;

		snprintf(why, sizeof(why), "idle: database \"%s\" does not exist", telemetry_database);
		for (job = 0; job < TELEMETRY_NJOBS; job++)
			worker_job_record(job, telemetry_shared->jobs[job].last_run, 0, why, NULL);
		while (telemetry_worker_db_gone())
			worker_wait(-1);
	}

	SpinLockAcquire(&telemetry_shared->mutex);
	failures = telemetry_shared->worker_connect_failures;
	SpinLockRelease(&telemetry_shared->mutex);
	if (failures == 0)
		return;

	/* the postmaster already waited bgw_restart_time: 5 s, 10 s, ... 5 min */
	until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
										Min((long) 5000 << Min(failures - 1, 10),
											WORKER_MAX_BACKOFF_MS) - 5000);
	for (;;)
	{
		long		left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), until);

		SpinLockAcquire(&telemetry_shared->mutex);
		failures = telemetry_shared->worker_connect_failures;
		SpinLockRelease(&telemetry_shared->mutex);
		if (left <= 0 || failures == 0)
			break;
		worker_wait(left);
	}
}

/* Earliest of the given times. */
static TimestampTz
earliest(TimestampTz a, TimestampTz b)
{
	return a < b ? a : b;
}

/* Entry point of the worker process. */
void
telemetry_worker_main(Datum main_arg)
{
	TimestampTz next_run[TELEMETRY_NJOBS] = {0};
	TimestampTz last_run[TELEMETRY_NJOBS] = {0};
	int			last_maintenance_interval;
	int			last_anomaly_interval;
	bool		woken = true;
	TimestampTz delivery_ended = 0;
	MemoryContext loop_cxt;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	if (telemetry_shared == NULL)
		proc_exit(0);			/* cannot happen: registered from preload */
	worker_attach();

	worker_wait_for_database();
	worker_connecting = true;
	BackgroundWorkerInitializeConnection(telemetry_database, NULL, 0);
	worker_connecting = false;
	SpinLockAcquire(&telemetry_shared->mutex);
	telemetry_shared->worker_connect_failures = 0;
	telemetry_shared->worker_connected = true;
	SpinLockRelease(&telemetry_shared->mutex);

	pgstat_report_appname("telemetry worker");
	pgstat_report_activity(STATE_IDLE, NULL);

	loop_cxt = AllocSetContextCreate(TopMemoryContext, "telemetry worker",
									 ALLOCSET_DEFAULT_SIZES);
	last_maintenance_interval = telemetry_maintenance_interval;
	last_anomaly_interval = worker_anomaly_interval_ms();

	for (;;)
	{
		TimestampTz now;
		TimestampTz wake_at;
		long		timeout;
		int			rc;

		MemoryContextSwitchTo(loop_cxt);
		MemoryContextReset(loop_cxt);

		/* disconnect so that DROP DATABASE (or a rename) can proceed */
		if (telemetry_worker_db_gone())
			proc_exit(1);

		/* a changed interval applies from the last run on */
		if (last_maintenance_interval != telemetry_maintenance_interval &&
			last_run[TELEMETRY_JOB_MAINTENANCE] != 0)
			next_run[TELEMETRY_JOB_MAINTENANCE] =
				TimestampTzPlusMilliseconds(last_run[TELEMETRY_JOB_MAINTENANCE],
											telemetry_maintenance_interval * 1000L);
		last_maintenance_interval = telemetry_maintenance_interval;
		if (last_anomaly_interval != worker_anomaly_interval_ms() &&
			last_run[TELEMETRY_JOB_ANOMALY] != 0)
			next_run[TELEMETRY_JOB_ANOMALY] =
				TimestampTzPlusMilliseconds(last_run[TELEMETRY_JOB_ANOMALY],
											worker_anomaly_interval_ms());
		last_anomaly_interval = worker_anomaly_interval_ms();

		if (!telemetry_enabled || RecoveryInProgress() || !worker_extension_present())
		{
			const char *why = !telemetry_enabled ? "idle: telemetry.enabled is off" :
				RecoveryInProgress() ? "idle: recovery in progress" :
				"idle: extension not installed";
			TelemetryJob job;

			/* nothing to do; say so, and look again later (or when woken) */
			now = GetCurrentTimestamp();
			for (job = 0; job < TELEMETRY_NJOBS; job++)
			{
				if (next_run[job] < now)
					next_run[job] = now;	/* run as soon as there is work */
				worker_job_record(job, last_run[job],
								  TimestampTzPlusMilliseconds(now, WORKER_IDLE_MS),
								  why, NULL);
			}
			/*
			 * The delivery wake-up flag stays as it is: an idle worker
			 * delivers nothing, so committers need not signal it.  Wakes
			 * that matter here (extension created, database back) set the
			 * latch unconditionally.
			 */
			worker_wait(WORKER_IDLE_MS);
			woken = true;
			continue;
		}

		now = GetCurrentTimestamp();
		if (now >= next_run[TELEMETRY_JOB_MAINTENANCE])
		{
			last_run[TELEMETRY_JOB_MAINTENANCE] = now;
			next_run[TELEMETRY_JOB_MAINTENANCE] =
				TimestampTzPlusMilliseconds(now, telemetry_maintenance_interval * 1000L);
			worker_run_guarded(TELEMETRY_JOB_MAINTENANCE, worker_job_maintenance, now,
							   next_run[TELEMETRY_JOB_MAINTENANCE]);
		}

		now = GetCurrentTimestamp();
		if (now >= next_run[TELEMETRY_JOB_ANOMALY])
		{
			last_run[TELEMETRY_JOB_ANOMALY] = now;
			/* the job itself works out the interval the specs ask for */
			worker_run_guarded(TELEMETRY_JOB_ANOMALY, worker_job_anomaly, now,
							   TimestampTzPlusMilliseconds(now, worker_anomaly_interval_ms()));
			last_anomaly_interval = worker_anomaly_interval_ms();
			next_run[TELEMETRY_JOB_ANOMALY] =
				TimestampTzPlusMilliseconds(now, last_anomaly_interval);
			worker_job_set_next(TELEMETRY_JOB_ANOMALY, next_run[TELEMETRY_JOB_ANOMALY]);
		}

		now = GetCurrentTimestamp();
		if (woken)
			next_run[TELEMETRY_JOB_DELIVERY] =
				earliest(next_run[TELEMETRY_JOB_DELIVERY],
						 TimestampTzPlusMilliseconds(delivery_ended, WORKER_DELIVERY_GAP_MS));
		if (now >= next_run[TELEMETRY_JOB_DELIVERY])
		{
			telemetry_delivery_wake_consumed();
			last_run[TELEMETRY_JOB_DELIVERY] = now;
			next_run[TELEMETRY_JOB_DELIVERY] =
				TimestampTzPlusMilliseconds(now, WORKER_DELIVERY_MS);
			worker_run_guarded(TELEMETRY_JOB_DELIVERY, worker_job_delivery, now,
							   next_run[TELEMETRY_JOB_DELIVERY]);
			delivery_ended = GetCurrentTimestamp();
		}

		wake_at = earliest(next_run[TELEMETRY_JOB_MAINTENANCE],
						   earliest(next_run[TELEMETRY_JOB_ANOMALY],
									next_run[TELEMETRY_JOB_DELIVERY]));
		timeout = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), wake_at);
		rc = worker_wait(timeout);
		woken = (rc & WL_LATCH_SET) != 0;
	}
}
