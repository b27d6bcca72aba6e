/*
 * worker_hook.c
 *		Keep the worker out of the way of DROP DATABASE.
 *
 * DROP DATABASE (and ALTER DATABASE ... RENAME) fails while another
 * session is connected to the database, and PostgreSQL only terminates
 * autovacuum workers for it.  A utility hook in every backend therefore
 * tells the worker, before the command runs, that its database is going
 * away: the worker disconnects (exits; the postmaster restarts it) and
 * waits unconnected until CREATE DATABASE or a rename brings the name back.
 * If the command fails, the flag is cleared again and the worker
 * reconnects.
 *
 * The same hook wakes the worker when CREATE or DROP EXTENSION telemetry
 * commits.
 */
#include "telemetry.h"
#include "worker.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "tcop/utility.h"

static ProcessUtility_hook_type prev_ProcessUtility = NULL;

/* Set when this transaction creates or drops the extension. */
static bool wake_at_commit = false;

/* Set when this transaction creates (or renames to) the worker's database. */
static bool db_back_at_commit = false;

/* Set or clear the "database gone" flag and wake the worker. */
void
telemetry_worker_set_db_gone(bool gone)
{
	if (telemetry_shared == NULL)
		return;
	SpinLockAcquire(&telemetry_shared->mutex);
	telemetry_shared->worker_db_gone = gone;
	if (!gone)
		telemetry_shared->worker_connect_failures = 0;
	SpinLockRelease(&telemetry_shared->mutex);
	telemetry_wake_worker();
}

/*
 * Wait until the worker has left its database, which it does at its next
 * step boundary; a worker stuck in a long step (a slow HTTP call, a big
 * drain) gets SIGTERM, so DROP DATABASE never runs into its 5 s limit.
 */
static void
wait_for_worker_to_leave(void)
{
	int			i;

	for (i = 0; i < 30; i++)
	{
		bool		connected;

		SpinLockAcquire(&telemetry_shared->mutex);
		connected = telemetry_shared->worker_connected;
		SpinLockRelease(&telemetry_shared->mutex);
		if (!connected)
			return;
		CHECK_FOR_INTERRUPTS();
		pg_usleep(100 * 1000L);
	}

	SpinLockAcquire(&telemetry_shared->mutex);
	if (telemetry_shared->worker_connected && telemetry_shared->worker_pid != 0)
		kill(telemetry_shared->worker_pid, SIGTERM);
	SpinLockRelease(&telemetry_shared->mutex);
}

/* Whether a database name is the worker's. */
static bool
is_worker_db(const char *name)
{
	return name != NULL && telemetry_database != NULL &&
		strcmp(name, telemetry_database) == 0;
}

/* Whether a statement creates or drops the telemetry extension. */
static bool
is_telemetry_extension_ddl(Node *parsetree)
{
	if (IsA(parsetree, CreateExtensionStmt))
		return strcmp(((CreateExtensionStmt *) parsetree)->extname, "telemetry") == 0;
	if (IsA(parsetree, DropStmt) &&
		((DropStmt *) parsetree)->removeType == OBJECT_EXTENSION)
	{
		ListCell   *lc;

		foreach(lc, ((DropStmt *) parsetree)->objects)
		{
			if (IsA(lfirst(lc), String) && strcmp(strVal(lfirst(lc)), "telemetry") == 0)
				return true;
		}
	}
	return false;
}

/*
 * Wake the worker when a transaction that created or dropped the extension
 * commits, so it starts (or stops) its jobs at once instead of at its next
 * idle check; let it connect again when its database is back.
 */
static void
telemetry_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT)
	{
		if (db_back_at_commit)
			telemetry_worker_set_db_gone(false);
		else if (wake_at_commit)
			telemetry_wake_worker();
	}
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT)
	{
		wake_at_commit = false;
		db_back_at_commit = false;
	}
}

/* The utility hook: flag the worker's database before it is dropped or renamed away. */
static void
telemetry_process_utility(PlannedStmt *pstmt, const char *queryString,
						  bool readOnlyTree, ProcessUtilityContext context,
						  ParamListInfo params, QueryEnvironment *queryEnv,
						  DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;
	const char *leaving = NULL;
	const char *arriving = NULL;
	bool		ours;

	if (IsA(parsetree, DropdbStmt))
		leaving = ((DropdbStmt *) parsetree)->dbname;
	else if (IsA(parsetree, CreatedbStmt))
		arriving = ((CreatedbStmt *) parsetree)->dbname;
	else if (IsA(parsetree, RenameStmt) &&
			 ((RenameStmt *) parsetree)->renameType == OBJECT_DATABASE)
	{
		leaving = ((RenameStmt *) parsetree)->subname;
		arriving = ((RenameStmt *) parsetree)->newname;
	}
	if (is_telemetry_extension_ddl(parsetree))
		wake_at_commit = true;
	ours = is_worker_db(leaving) && telemetry_shared != NULL;
	if (ours)
	{
		telemetry_worker_set_db_gone(true);
		wait_for_worker_to_leave();
	}

	PG_TRY();
	{
		if (prev_ProcessUtility)
			prev_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);
		else
			standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
									params, queryEnv, dest, qc);
	}
	PG_CATCH();
	{
		if (ours)
			telemetry_worker_set_db_gone(false);
		PG_RE_THROW();
	}
	PG_END_TRY();

	/* the worker can connect once the new name is committed */
	if (is_worker_db(arriving))
		db_back_at_commit = true;
}

/* Install the hook; called from _PG_init (shared_preload_libraries). */
void
telemetry_worker_install_hooks(void)
{
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = telemetry_process_utility;
	RegisterXactCallback(telemetry_xact_callback, NULL);
}
