/*
 * worker.c
 *		A database worker: the process that serves one database.
 *
 * Started by the launcher (worker_launcher.c) in a slot of shared memory
 * that names the database and the extension's owner, the role it acts as.
 * It connects, makes its session one the database's owner cannot steer
 * (worker_session.c), checks that the extension is there with the owner it
 * was started for, and then runs its jobs from a small table: each job has
 * a regular interval, may ask to run sooner, and is guarded so that one
 * failing job neither stops the others nor takes the worker down.  Between
 * jobs it sleeps on its latch until the next one is due, or until a
 * committing transaction wakes it for delivery.
 *
 * It leaves (exit code 0, a reason in its slot, so the launcher knows not to
 * restart it) when the extension is dropped or changes owner, and when it
 * is asked to: DROP or RENAME of its database (worker_hook.c),
 * telemetry.enabled = off, or its database no longer listed in
 * telemetry.database.  Any other exit (an error, pg_terminate_backend) is a
 * failure the launcher restarts with a growing delay.
 */
#include "telemetry.h"
#include "worker.h"
#include "shmem.h"

#include "access/xact.h"
#include "commands/dbcommands.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/memutils.h"

/* Delivery runs every telemetry.delivery_interval, and when the worker is woken... */
/*
 * ... except while no provider is due (all backing off or disabled): then
 * commits do not wake it, and it looks again this often.
 */
#define WORKER_QUIET_DELIVERY_MS	5000
/*
 * ... but wake-ups (one per committing tracking transaction) are coalesced:
 * a woken delivery starts no sooner than worker_delivery_wake_gap_ms()
 * after the previous one ended (worker_jobs.c), so thousands of commits a
 * second cost the worker a few passes.
 */

TelemetryWorkerSlot *MyWorkerSlot = NULL;
bool		worker_delivery_quiet = false;

/* Regular intervals of the jobs. */
static long
maintenance_interval_ms(void)
{
	return telemetry_maintenance_interval * 1000L;
}

static long
anomaly_interval_ms(void)
{
	return telemetry_anomaly_interval;
}

static long
delivery_interval_ms(void)
{
	return worker_delivery_quiet ? WORKER_QUIET_DELIVERY_MS : telemetry_delivery_interval;
}

/* The table of jobs. */
typedef struct WorkerJobDef
{
	TelemetryJob id;
	TelemetryJobFn run;
	long		(*interval_ms) (void);	/* longest time between two runs */
	/* non-NULL: a wake-up makes the job due this long after its last run ended */
	long		(*wake_gap_ms) (void);
} WorkerJobDef;

static const WorkerJobDef worker_jobs[TELEMETRY_NJOBS] = {
	{TELEMETRY_JOB_MAINTENANCE, worker_job_maintenance, maintenance_interval_ms, NULL},
	{TELEMETRY_JOB_ANOMALY, worker_job_anomaly, anomaly_interval_ms, NULL},
	{TELEMETRY_JOB_DELIVERY, worker_job_delivery, delivery_interval_ms, worker_delivery_wake_gap_ms},
};

/* When each job last ran, ended, asked to run again, and is due. */
typedef struct WorkerJobState
{
	TimestampTz last_run;
	TimestampTz ended;
	TimestampTz due;
	long		interval;		/* interval_ms() at the last run */
} WorkerJobState;

/* Whether the worker has been asked to leave (checked between steps). */
bool
telemetry_worker_should_stop(void)
{
	bool		stop;

	if (MyWorkerSlot == NULL)
		return false;
	SpinLockAcquire(&telemetry_workers->mutex);
	stop = MyWorkerSlot->stop;
	SpinLockRelease(&telemetry_workers->mutex);
	return stop;
}

/*
 * Exit callback: unpublish pid and latch before the PGPROC goes away, say
 * that the worker has left, and wake the launcher.
 */
static void
worker_detach(int code, Datum arg)
{
	Latch	   *launcher;

	SpinLockAcquire(&telemetry_workers->mutex);
	MyWorkerSlot->pid = 0;
	MyWorkerSlot->latch = NULL;
	MyWorkerSlot->connected = false;
	MyWorkerSlot->exited = true;
	if (MyWorkerSlot->stop)
		MyWorkerSlot->exit_reason = WORKER_EXIT_STOP;
	launcher = telemetry_workers->launcher_latch;
	SpinLockRelease(&telemetry_workers->mutex);
	if (launcher)
		SetLatch(launcher);
}

/* Leave cleanly, telling the launcher why. */
static void
worker_leave(WorkerExit reason, const char *why)
{
	TelemetryJob job;

	for (job = 0; job < TELEMETRY_NJOBS; job++)
		worker_job_record(job, MyWorkerSlot->jobs[job].last_run, 0, why, NULL);
	SpinLockAcquire(&telemetry_workers->mutex);
	MyWorkerSlot->exit_reason = reason;
	SpinLockRelease(&telemetry_workers->mutex);
	proc_exit(0);
}

/* Sleep on the latch, then handle interrupts and reload requests. */
static int
worker_wait(long timeout_ms)
{
	int			rc;

	rc = WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
				   Max(timeout_ms, 0), PG_WAIT_EXTENSION);
	ResetLatch(MyLatch);
	CHECK_FOR_INTERRUPTS();
	if (ConfigReloadPending)
	{
		ConfigReloadPending = false;
		ProcessConfigFile(PGC_SIGHUP);
	}
	return rc;
}

/* Leave when the extension is gone or has another owner, or when asked to. */
static void
worker_check_still_wanted(Oid owner, const char *dbname)
{
	Oid			now_owner;

	if (telemetry_worker_should_stop())
		worker_leave(WORKER_EXIT_STOP, "idle: asked to leave");
	if (!telemetry_enabled)
		worker_leave(WORKER_EXIT_STOP, "idle: telemetry.enabled is off");
	if (!telemetry_database_listed(dbname))
		worker_leave(WORKER_EXIT_STOP, "idle: not listed in telemetry.database");
	now_owner = worker_extension_owner();
	if (!OidIsValid(now_owner))
		worker_leave(WORKER_EXIT_NO_EXTENSION, "idle: extension not installed");
	if (now_owner != owner)
		worker_leave(WORKER_EXIT_OWNER_CHANGED, "idle: the extension's owner changed");
}

/* Entry point of a database worker; main_arg is its slot number. */
void
telemetry_worker_main(Datum main_arg)
{
	int			slotno = DatumGetInt32(main_arg);
	WorkerJobState jobs[TELEMETRY_NJOBS];
	Oid			dboid;
	Oid			owner;
	bool		as_owner;
	bool		woken = true;
	char	   *dbname;
	MemoryContext loop_cxt;
	int			i;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	if (telemetry_workers == NULL || slotno < 0 || slotno >= telemetry_max_workers)
		proc_exit(0);			/* cannot happen: started by the launcher */
	MyWorkerSlot = &telemetry_workers->slots[slotno];

	SpinLockAcquire(&telemetry_workers->mutex);
	dboid = MyWorkerSlot->dboid;
	owner = MyWorkerSlot->owner;
	as_owner = MyWorkerSlot->owner_can_login;
	if (MyWorkerSlot->pid != 0 || !OidIsValid(dboid))
		dboid = InvalidOid;		/* a stray start: leave the slot alone */
	else
	{
		MyWorkerSlot->pid = MyProcPid;
		MyWorkerSlot->latch = MyLatch;
		MyWorkerSlot->started_at = GetCurrentTimestamp();
	}
	SpinLockRelease(&telemetry_workers->mutex);
	if (!OidIsValid(dboid))
	{
		MyWorkerSlot = NULL;
		proc_exit(0);
	}
	before_shmem_exit(worker_detach, (Datum) 0);

	/* connect as the extension's owner, and take the session back */
	worker_session_snapshot_gucs();
	BackgroundWorkerInitializeConnectionByOid(dboid, as_owner ? owner : InvalidOid, 0);
	worker_session_harden(owner, as_owner);
	SpinLockAcquire(&telemetry_workers->mutex);
	MyWorkerSlot->connected = true;
	SpinLockRelease(&telemetry_workers->mutex);

	pgstat_report_appname("telemetry worker");
	pgstat_report_activity(STATE_IDLE, NULL);
	StartTransactionCommand();
	dbname = MemoryContextStrdup(TopMemoryContext, get_database_name(MyDatabaseId));
	CommitTransactionCommand();

	loop_cxt = AllocSetContextCreate(TopMemoryContext, "telemetry worker",
									 ALLOCSET_DEFAULT_SIZES);
	memset(jobs, 0, sizeof(jobs));
	for (i = 0; i < TELEMETRY_NJOBS; i++)
		jobs[i].interval = worker_jobs[i].interval_ms();

	for (;;)
	{
		TimestampTz wake_at = DT_NOEND;
		int			rc;

		MemoryContextSwitchTo(loop_cxt);
		MemoryContextReset(loop_cxt);
		worker_check_still_wanted(owner, dbname);

		for (i = 0; i < TELEMETRY_NJOBS; i++)
		{
			const WorkerJobDef *def = &worker_jobs[i];
			WorkerJobState *st = &jobs[def->id];
			TimestampTz now;
			TimestampTz next;

			if (telemetry_worker_should_stop())
				worker_leave(WORKER_EXIT_STOP, "idle: asked to leave");

			/* a changed interval counts from the job's last run */
			if (def->interval_ms() != st->interval)
			{
				st->interval = def->interval_ms();
				if (st->last_run != 0)
					st->due = TimestampTzPlusMilliseconds(st->last_run, st->interval);
			}
			if (woken && def->wake_gap_ms != NULL)
				st->due = Min(st->due, TimestampTzPlusMilliseconds(st->ended, def->wake_gap_ms()));

			now = GetCurrentTimestamp();
			if (now >= st->due)
			{
				st->last_run = now;
				next = TimestampTzPlusMilliseconds(now, st->interval);
				worker_run_guarded(def->id, def->run, now, &next);
				st->due = next;
				st->ended = GetCurrentTimestamp();
				MemoryContextSwitchTo(loop_cxt);
			}
			wake_at = Min(wake_at, st->due);
		}

		rc = worker_wait(TimestampDifferenceMilliseconds(GetCurrentTimestamp(), wake_at));
		woken = (rc & WL_LATCH_SET) != 0;
	}
}
