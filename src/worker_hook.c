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
 */
#include "telemetry.h"
#include "worker.h"

#include "nodes/parsenodes.h"
#include "tcop/utility.h"

static ProcessUtility_hook_type prev_ProcessUtility = NULL;

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

/* Whether a database name is the worker's. */
static bool
is_worker_db(const char *name)
{
	return name != NULL && telemetry_database != NULL &&
		strcmp(name, telemetry_database) == 0;
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
	ours = is_worker_db(leaving);
	if (ours)
		telemetry_worker_set_db_gone(true);

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

	if (is_worker_db(arriving))
		telemetry_worker_set_db_gone(false);
}

/* Install the hook; called from _PG_init (shared_preload_libraries). */
void
telemetry_worker_install_hooks(void)
{
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = telemetry_process_utility;
}
