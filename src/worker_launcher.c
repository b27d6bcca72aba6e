/*
 * worker_launcher.c
 *		The launcher: one background worker that keeps one database worker
 *		per database with the extension, and the probes it learns from.
 *
 * The launcher connects to no database.  It reads pg_database (a shared
 * catalog) at start, every telemetry.rescan_interval and when a backend
 * asks (CREATE DATABASE, ALTER DATABASE, a released DROP/RENAME hold), and
 * learns whether a database has the extension from a probe: a short-lived
 * worker that connects to it as the bootstrap superuser, reads
 * pg_extension and pg_authid with catalog scans (it runs no SQL and no
 * function of the database), writes the answer to shared memory and
 * leaves.  One probe runs at a time; a backend that commits CREATE
 * EXTENSION telemetry asks for its database to be probed first.
 *
 * Template databases, databases that do not allow connections and (when
 * telemetry.database lists names) unlisted databases are skipped.  At most
 * telemetry.max_workers databases are served, first come first served;
 * the others are shown as not served in telemetry.workers and logged once.
 * A database worker that exits without saying why (an error, a FATAL at
 * connection, pg_terminate_backend) is restarted after 1 s, 2 s, 4 s, ...
 * up to 5 minutes, reset once it has run for a minute; the others are not
 * affected.  A worker that crashes hard (a signal) makes the postmaster
 * restart the whole cluster (restart_after_crash), after which the
 * launcher starts every worker again.
 *
 * The launcher starts once recovery has finished, so a standby runs no
 * worker at all (it starts at promotion).
 */
#include "telemetry.h"
#include "worker.h"
#include "shmem.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/varlena.h"

#define LAUNCHER_MAX_BACKOFF_MS		300000
#define LAUNCHER_STABLE_MS			60000
#define LAUNCHER_PROBE_TIMEOUT_MS	60000

/* What the launcher knows of one database (its own memory). */
typedef struct LauncherDb
{
	Oid			oid;
	NameData	name;
	bool		seen;			/* in the last scan of pg_database */
	bool		probed;			/* has_ext, owner are known */
	bool		need_probe;
	bool		has_ext;
	Oid			owner;
	bool		can_login;
	TelemetryDbState state;
	int			slot;			/* worker slot or -1 */
	BackgroundWorkerHandle *handle;
	int			failures;
	TimestampTz since;
	TimestampTz retry_at;
	bool		logged;			/* "not served" logged */
} LauncherDb;

static LauncherDb *dbs = NULL;
static int	ndbs = 0;
static int	maxdbs = 0;

/* The probe running now, if any. */
static BackgroundWorkerHandle *probe_handle = NULL;
static Oid	probe_oid = InvalidOid;
static TimestampTz probe_started = 0;

static bool logged_no_slot = false;

/*
 * Register the launcher with the postmaster and install the hooks; called
 * from _PG_init under shared_preload_libraries.
 */
void
telemetry_worker_register(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 5;
	strlcpy(worker.bgw_library_name, "telemetry", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "telemetry_launcher_main", BGW_MAXLEN);
	strlcpy(worker.bgw_name, "telemetry launcher", BGW_MAXLEN);
	strlcpy(worker.bgw_type, "telemetry launcher", BGW_MAXLEN);
	RegisterBackgroundWorker(&worker);

	if (telemetry_max_workers + 2 > max_worker_processes)
		ereport(WARNING,
				(errmsg("telemetry.max_workers (%d) plus the launcher and a probe exceed max_worker_processes (%d)",
						telemetry_max_workers, max_worker_processes),
				 errhint("Raise max_worker_processes to at least %d, or lower telemetry.max_workers.",
						 telemetry_max_workers + 2 + max_parallel_workers)));

	telemetry_worker_install_hooks();
}

/*
 * Whether telemetry.database lets the workers serve a database: an empty
 * list serves every database.
 */
bool
telemetry_database_listed(const char *datname)
{
	char	   *raw;
	List	   *names;
	ListCell   *lc;
	bool		found = false;

	if (telemetry_database == NULL || telemetry_database[0] == '\0')
		return true;
	if (datname == NULL)
		return false;
	raw = pstrdup(telemetry_database);
	if (!SplitIdentifierString(raw, ',', &names))
		return false;
	foreach(lc, names)
	{
		if (strcmp((char *) lfirst(lc), datname) == 0)
			found = true;
	}
	list_free(names);
	pfree(raw);
	return found;
}

/* ---- probes ---- */

/* Register a dynamic worker that tells us when it starts and stops. */
static BackgroundWorkerHandle *
start_bgworker(const char *function, const char *type, const char *name, Datum arg)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(worker.bgw_library_name, "telemetry", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, function, BGW_MAXLEN);
	strlcpy(worker.bgw_type, type, BGW_MAXLEN);
	snprintf(worker.bgw_name, BGW_MAXLEN, "%s for database %s", type, name);
	worker.bgw_main_arg = arg;
	worker.bgw_notify_pid = MyProcPid;
	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		handle = NULL;
	MemoryContextSwitchTo(old);
	return handle;
}

/* Whether a DROP or RENAME of the database is in progress. */
static bool
db_held(Oid dboid)
{
	TimestampTz now = GetCurrentTimestamp();
	bool		held = false;
	int			i;

	SpinLockAcquire(&telemetry_workers->mutex);
	for (i = 0; i < lengthof(telemetry_workers->holds); i++)
	{
		if (telemetry_workers->holds[i].dboid == dboid &&
			telemetry_workers->holds[i].until > now)
			held = true;
	}
	SpinLockRelease(&telemetry_workers->mutex);
	return held;
}

/* Whether a database is one the launcher looks at at all. */
static bool
db_wanted(LauncherDb *db)
{
	return telemetry_enabled && telemetry_database_listed(NameStr(db->name));
}

/* Start the probe of the next database that needs one. */
static void
start_next_probe(void)
{
	Oid			wanted[lengthof(telemetry_workers->probe_wanted)];
	LauncherDb *next = NULL;
	int			i;
	int			j;

	if (probe_handle != NULL)
		return;

	/* databases asked for by a committed CREATE EXTENSION come first */
	SpinLockAcquire(&telemetry_workers->mutex);
	memcpy(wanted, telemetry_workers->probe_wanted, sizeof(wanted));
	memset(telemetry_workers->probe_wanted, 0, sizeof(wanted));
	SpinLockRelease(&telemetry_workers->mutex);
	for (j = 0; j < lengthof(wanted); j++)
	{
		bool		known = false;

		if (!OidIsValid(wanted[j]))
			continue;
		for (i = 0; i < ndbs; i++)
		{
			if (dbs[i].oid == wanted[j])
			{
				known = true;
				if (dbs[i].slot < 0)
					dbs[i].need_probe = true;
				if (next == NULL && dbs[i].slot < 0 && db_wanted(&dbs[i]))
					next = &dbs[i];
			}
		}
		if (!known)
			pg_atomic_write_u32(&telemetry_workers->rescan_wanted, 1);
	}

	for (i = 0; next == NULL && i < ndbs; i++)
	{
		if (dbs[i].need_probe && dbs[i].slot < 0 && db_wanted(&dbs[i]) &&
			!db_held(dbs[i].oid) && dbs[i].retry_at <= GetCurrentTimestamp())
			next = &dbs[i];
	}
	if (next == NULL || db_held(next->oid))
		return;

	SpinLockAcquire(&telemetry_workers->mutex);
	memset(&telemetry_workers->probe, 0, sizeof(TelemetryProbe));
	telemetry_workers->probe.dboid = next->oid;
	SpinLockRelease(&telemetry_workers->mutex);
	probe_handle = start_bgworker("telemetry_probe_main", "telemetry probe",
								  NameStr(next->name), ObjectIdGetDatum(next->oid));
	if (probe_handle == NULL)
	{
		if (!logged_no_slot)
			ereport(LOG,
					(errmsg("telemetry launcher: no background worker slot for a probe"),
					 errhint("Raise max_worker_processes.")));
		logged_no_slot = true;
		next->retry_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), 10000);
		return;
	}
	next->need_probe = false;
	probe_oid = next->oid;
	probe_started = GetCurrentTimestamp();
}

/* Collect the probe's answer once it has exited. */
static void
reap_probe(void)
{
	pid_t		pid;
	TelemetryProbe result;
	LauncherDb *probe_db = NULL;
	int			i;

	if (probe_handle == NULL)
		return;
	if (GetBackgroundWorkerPid(probe_handle, &pid) != BGWH_STOPPED)
	{
		/* a probe stuck connecting (a lock on the database): give up on it */
		if (TimestampDifferenceExceeds(probe_started, GetCurrentTimestamp(),
									   LAUNCHER_PROBE_TIMEOUT_MS))
			TerminateBackgroundWorker(probe_handle);
		return;
	}
	pfree(probe_handle);
	probe_handle = NULL;

	SpinLockAcquire(&telemetry_workers->mutex);
	result = telemetry_workers->probe;
	SpinLockRelease(&telemetry_workers->mutex);
	for (i = 0; i < ndbs; i++)
	{
		if (dbs[i].oid == probe_oid)
			probe_db = &dbs[i];
	}
	probe_oid = InvalidOid;
	if (probe_db == NULL)
		return;
	if (result.done && result.dboid == probe_db->oid)
	{
		probe_db->probed = true;
		probe_db->has_ext = result.has_extension;
		probe_db->owner = result.owner;
		probe_db->can_login = result.owner_can_login;
		if (!probe_db->has_ext)
		{
			probe_db->state = DBSTATE_NO_EXTENSION;
			probe_db->failures = 0;
		}
	}
	else
	{
		/* could not connect (dropped meanwhile, or a connection limit) */
		probe_db->retry_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), 10000);
		probe_db->need_probe = true;
	}
}

/* ---- the database list ---- */

/* Read pg_database: add new databases, forget dropped ones. */
static void
scan_databases(void)
{
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	int			i;
	int			kept;

	for (i = 0; i < ndbs; i++)
		dbs[i].seen = false;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database d = (Form_pg_database) GETSTRUCT(tup);
		LauncherDb *db = NULL;

		if (d->datistemplate || !d->datallowconn)
			continue;
#ifdef DATCONNLIMIT_INVALID_DB
		if (d->datconnlimit == DATCONNLIMIT_INVALID_DB)
			continue;			/* an interrupted DROP DATABASE */
#endif
		for (i = 0; i < ndbs; i++)
		{
			if (dbs[i].oid == d->oid)
				db = &dbs[i];
		}
		if (db == NULL)
		{
			if (ndbs == maxdbs)
			{
				maxdbs = Max(16, maxdbs * 2);
				dbs = dbs ? repalloc(dbs, sizeof(LauncherDb) * maxdbs) :
					MemoryContextAlloc(TopMemoryContext, sizeof(LauncherDb) * maxdbs);
			}
			db = &dbs[ndbs++];
			memset(db, 0, sizeof(LauncherDb));
			db->oid = d->oid;
			db->slot = -1;
			db->since = GetCurrentTimestamp();
		}
		db->name = d->datname;
		db->seen = true;
		/* look again for the extension where no worker runs */
		if (db->slot < 0)
			db->need_probe = true;
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	PopActiveSnapshot();
	CommitTransactionCommand();

	/* forget databases gone (a worker in one has left: it cannot stay) */
	kept = 0;
	for (i = 0; i < ndbs; i++)
	{
		if (!dbs[i].seen && dbs[i].slot < 0)
			continue;
		if (kept != i)
			dbs[kept] = dbs[i];
		kept++;
	}
	ndbs = kept;
}

/* ---- database workers ---- */

/* Start the worker of a database in a free slot; false when none is free. */
static bool
start_worker(LauncherDb *db)
{
	int			i;
	int			free_slot = -1;
	TelemetryWorkerSlot *slot;

	SpinLockAcquire(&telemetry_workers->mutex);
	for (i = 0; i < telemetry_max_workers && free_slot < 0; i++)
	{
		if (!OidIsValid(telemetry_workers->slots[i].dboid))
			free_slot = i;
	}
	if (free_slot >= 0)
	{
		slot = &telemetry_workers->slots[free_slot];
		slot->dboid = db->oid;
		slot->owner = db->owner;
		slot->owner_can_login = db->can_login;
		slot->pid = 0;
		slot->latch = NULL;
		slot->started_at = 0;
		slot->connected = false;
		slot->stop = false;
		slot->exited = false;
		slot->exit_reason = WORKER_EXIT_CRASH;
		memset(slot->jobs, 0, sizeof(slot->jobs));
	}
	SpinLockRelease(&telemetry_workers->mutex);
	if (free_slot < 0)
		return false;
	pg_atomic_write_u32(&telemetry_workers->slots[free_slot].delivery_wanted, 0);

	db->handle = start_bgworker("telemetry_worker_main", "telemetry worker",
								NameStr(db->name), Int32GetDatum(free_slot));
	if (db->handle == NULL)
	{
		SpinLockAcquire(&telemetry_workers->mutex);
		telemetry_workers->slots[free_slot].dboid = InvalidOid;
		SpinLockRelease(&telemetry_workers->mutex);
		if (db->state != DBSTATE_NO_SLOT)
			ereport(LOG,
					(errmsg("telemetry launcher: no background worker slot for database \"%s\"",
							NameStr(db->name)),
					 errhint("Raise max_worker_processes (telemetry needs telemetry.max_workers + 2).")));
		db->state = DBSTATE_NO_SLOT;
		db->retry_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), 10000);
		return true;
	}
	db->slot = free_slot;
	db->state = DBSTATE_STARTING;
	db->since = GetCurrentTimestamp();
	db->logged = false;
	return true;
}

/* Handle a worker that has left, or never came up. */
static void
reap_worker(LauncherDb *db)
{
	TelemetryWorkerSlot *slot = &telemetry_workers->slots[db->slot];
	bool		exited;
	pid_t		pid;
	WorkerExit reason;
	TimestampTz started;
	TimestampTz now = GetCurrentTimestamp();

	SpinLockAcquire(&telemetry_workers->mutex);
	exited = slot->exited;
	reason = slot->exit_reason;
	started = slot->started_at;
	pid = slot->pid;
	SpinLockRelease(&telemetry_workers->mutex);

	if (!exited)
	{
		pid_t		bgpid;

		if (pid != 0 && db->state == DBSTATE_STARTING)
		{
			db->state = DBSTATE_RUNNING;
			db->since = started;
		}
		/* stopped without attaching (fork failure, or exited at once) */
		if (pid != 0 || db->handle == NULL ||
			GetBackgroundWorkerPid(db->handle, &bgpid) != BGWH_STOPPED)
			return;
		/* it may have attached and left between the two reads */
		SpinLockAcquire(&telemetry_workers->mutex);
		exited = slot->exited;
		reason = slot->exit_reason;
		started = slot->started_at;
		SpinLockRelease(&telemetry_workers->mutex);
		if (!exited)
			reason = WORKER_EXIT_CRASH;
	}

	SpinLockAcquire(&telemetry_workers->mutex);
	slot->dboid = InvalidOid;
	SpinLockRelease(&telemetry_workers->mutex);
	if (db->handle)
		pfree(db->handle);
	db->handle = NULL;
	db->slot = -1;
	db->since = now;

	switch (reason)
	{
		case WORKER_EXIT_NO_EXTENSION:
			db->has_ext = false;
			db->state = DBSTATE_NO_EXTENSION;
			db->failures = 0;
			break;
		case WORKER_EXIT_OWNER_CHANGED:
			db->probed = false;
			db->need_probe = true;
			db->state = DBSTATE_UNKNOWN;
			break;
		case WORKER_EXIT_STOP:
			/* disabled, excluded, or DROP/RENAME: decided below, later */
			db->state = DBSTATE_UNKNOWN;
			db->failures = 0;
			break;
		case WORKER_EXIT_CRASH:
			if (started != 0 && TimestampDifferenceExceeds(started, now, LAUNCHER_STABLE_MS))
				db->failures = 0;
			db->failures++;
			db->retry_at = TimestampTzPlusMilliseconds(now,
													   Min(1000L << Min(db->failures - 1, 20),
														   LAUNCHER_MAX_BACKOFF_MS));
			db->state = DBSTATE_BACKOFF;
			/* look again before the restart: the owner may have changed */
			db->probed = false;
			db->need_probe = true;
			ereport(LOG,
					(errmsg("telemetry worker for database \"%s\" exited unexpectedly; restarting in %ld ms",
							NameStr(db->name),
							(long) TimestampDifferenceMilliseconds(now, db->retry_at))));
			break;
	}
}

/* Ask a worker to leave (without waiting: the hook waits for DROP DATABASE). */
static void
stop_worker(LauncherDb *db)
{
	SpinLockAcquire(&telemetry_workers->mutex);
	telemetry_workers->slots[db->slot].stop = true;
	SpinLockRelease(&telemetry_workers->mutex);
	telemetry_worker_request_stop(db->oid, false);
}

/* Decide, database by database, what should run. */
static void
launcher_step(void)
{
	int			i;
	int			used = 0;
	TimestampTz now = GetCurrentTimestamp();

	for (i = 0; i < ndbs; i++)
	{
		if (dbs[i].slot >= 0)
			reap_worker(&dbs[i]);
	}
	reap_probe();

	for (i = 0; i < ndbs; i++)
	{
		LauncherDb *db = &dbs[i];

		if (db->slot >= 0)
		{
			if (!db_wanted(db) || !db->seen)
				stop_worker(db);
			used++;
			continue;
		}
		if (!telemetry_enabled)
		{
			if (db->has_ext)
				db->state = DBSTATE_DISABLED;
			continue;
		}
		if (!telemetry_database_listed(NameStr(db->name)))
		{
			db->state = DBSTATE_EXCLUDED;
			continue;
		}
		if (db->state == DBSTATE_EXCLUDED || db->state == DBSTATE_DISABLED)
		{
			db->state = DBSTATE_UNKNOWN;
			db->need_probe = true;
		}
	}

	start_next_probe();

	/* start workers, oldest database first, up to telemetry.max_workers */
	for (i = 0; i < ndbs; i++)
	{
		LauncherDb *db = &dbs[i];

		if (db->slot >= 0 || !db->probed || !db->has_ext || !db->seen ||
			!db_wanted(db) || db->retry_at > now || db_held(db->oid) ||
			db->oid == probe_oid)
			continue;
		if (used >= telemetry_max_workers || !start_worker(db))
		{
			if (db->state != DBSTATE_NOT_SERVED)
				db->since = now;
			db->state = DBSTATE_NOT_SERVED;
			if (!db->logged)
				ereport(LOG,
						(errmsg("telemetry launcher: telemetry.max_workers (%d) reached: database \"%s\" is not served",
								telemetry_max_workers, NameStr(db->name)),
						 errhint("Raise telemetry.max_workers (server start), or list the databases to serve in telemetry.database.")));
			db->logged = true;
			continue;
		}
		if (db->slot >= 0)
			used++;
	}
}

/* Copy the launcher's view of the databases to shared memory. */
static void
launcher_publish(void)
{
	int			i;
	int			n = 0;
	int			pass;

	SpinLockAcquire(&telemetry_workers->mutex);
	/* databases with the extension first, so a full table drops the others */
	for (pass = 0; pass < 2; pass++)
	{
		for (i = 0; i < ndbs && n < telemetry_workers->max_dbs; i++)
		{
			LauncherDb *db = &dbs[i];
			TelemetryDbStatus *st;
			bool		first = db->has_ext || db->slot >= 0;

			if (first != (pass == 0) || !db->seen)
				continue;
			st = &TELEMETRY_DBS()[n++];
			st->dboid = db->oid;
			st->state = db->state;
			st->slot = db->slot;
			st->failures = db->failures;
			st->since = db->since;
			st->retry_at = db->state == DBSTATE_BACKOFF ? db->retry_at : 0;
		}
	}
	telemetry_workers->ndbs = n;
	SpinLockRelease(&telemetry_workers->mutex);
}

/* When the launcher must look again at the latest. */
static TimestampTz
launcher_next_wake(TimestampTz next_scan)
{
	TimestampTz at = next_scan;
	TimestampTz now = GetCurrentTimestamp();
	int			i;

	for (i = 0; i < ndbs; i++)
	{
		if (dbs[i].retry_at > now)
			at = Min(at, dbs[i].retry_at);
		if (dbs[i].need_probe || dbs[i].state == DBSTATE_STARTING)
			at = Min(at, TimestampTzPlusMilliseconds(now, 1000));
	}
	if (probe_handle != NULL)
		at = Min(at, TimestampTzPlusMilliseconds(now, 1000));
	return at;
}

/* Exit callback: unpublish the launcher's latch. */
static void
launcher_detach(int code, Datum arg)
{
	SpinLockAcquire(&telemetry_workers->mutex);
	if (telemetry_workers->launcher_pid == MyProcPid)
	{
		telemetry_workers->launcher_pid = 0;
		telemetry_workers->launcher_latch = NULL;
	}
	SpinLockRelease(&telemetry_workers->mutex);
}

/* Entry point of the launcher. */
void
telemetry_launcher_main(Datum main_arg)
{
	TimestampTz next_scan = 0;
	int			i;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	if (telemetry_workers == NULL)
		proc_exit(0);			/* cannot happen: registered from preload */

	SpinLockAcquire(&telemetry_workers->mutex);
	telemetry_workers->launcher_pid = MyProcPid;
	telemetry_workers->launcher_latch = MyLatch;
	SpinLockRelease(&telemetry_workers->mutex);
	before_shmem_exit(launcher_detach, (Datum) 0);

	/* shared catalogs only */
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("telemetry launcher");

	/*
	 * A restarted launcher (after an error of its own) finds the workers
	 * of its previous life still running: adopt them.
	 */
	scan_databases();
	SpinLockAcquire(&telemetry_workers->mutex);
	for (i = 0; i < telemetry_max_workers; i++)
	{
		TelemetryWorkerSlot *slot = &telemetry_workers->slots[i];
		int			j;

		for (j = 0; OidIsValid(slot->dboid) && j < ndbs; j++)
		{
			if (dbs[j].oid == slot->dboid)
			{
				dbs[j].slot = i;
				dbs[j].probed = true;
				dbs[j].has_ext = true;
				dbs[j].owner = slot->owner;
				dbs[j].can_login = slot->owner_can_login;
				dbs[j].state = DBSTATE_STARTING;
				dbs[j].need_probe = false;
			}
		}
	}
	SpinLockRelease(&telemetry_workers->mutex);
	next_scan = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
											telemetry_rescan_interval * 1000L);

	for (;;)
	{
		TimestampTz wake;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			pg_atomic_write_u32(&telemetry_workers->rescan_wanted, 1);
		}
		if (pg_atomic_exchange_u32(&telemetry_workers->rescan_wanted, 0) != 0 ||
			GetCurrentTimestamp() >= next_scan)
		{
			scan_databases();
			next_scan = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													telemetry_rescan_interval * 1000L);
		}
		launcher_step();
		launcher_publish();

		wake = launcher_next_wake(next_scan);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 TimestampDifferenceMilliseconds(GetCurrentTimestamp(), wake),
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
