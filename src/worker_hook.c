/*
 * worker_hook.c
 *		What other backends tell the launcher and the database workers:
 *		a database about to be dropped or renamed, a database or an
 *		extension created or dropped.
 *
 * DROP DATABASE (and ALTER DATABASE ... RENAME) fails while another
 * session is connected to the database, and PostgreSQL only terminates
 * autovacuum workers for it.  A utility hook in every backend therefore
 * makes the database's worker leave before the command runs, and keeps the
 * launcher from starting a worker or a probe there until the command's
 * transaction ends.  Only a command that is going to be allowed does so:
 * the current user owns the database (or is a superuser; for a rename,
 * may also create databases and the new name is free), the database
 * exists and is not the current one.  Anyone else's DROP DATABASE leaves
 * the worker alone.
 *
 * At commit, CREATE EXTENSION telemetry asks the launcher to probe this
 * database at once, DROP EXTENSION wakes this database's worker so it
 * leaves, and CREATE DATABASE / ALTER DATABASE ask the launcher to read
 * pg_database again.  When COMMIT PREPARED returns, the prepared
 * transaction's events are visible: it wakes the worker for delivery, as
 * the commit of a tracking transaction does (track.c).  Whether the
 * prepared transaction tracked is not known here (another session, or a
 * server since restarted, may have prepared it), so every COMMIT PREPARED
 * wakes it; wake-ups are coalesced, and none is made while no provider is
 * due.
 */
#include "telemetry.h"
#include "worker.h"
#include "shmem.h"

#include "access/xact.h"
#include "commands/dbcommands.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "tcop/utility.h"
#include "utils/acl.h"

static ProcessUtility_hook_type prev_ProcessUtility = NULL;

/* What to do when the current transaction ends. */
static bool probe_at_commit = false;	/* CREATE EXTENSION telemetry */
static bool wake_at_commit = false; /* DROP EXTENSION telemetry */
static bool rescan_at_commit = false;	/* CREATE / ALTER DATABASE */
static Oid	held_db = InvalidOid;	/* DROP / RENAME DATABASE */

/* Whether a statement creates or drops the telemetry extension. */
static bool
is_telemetry_extension_ddl(Node *parsetree, bool *create)
{
	*create = false;
	if (IsA(parsetree, CreateExtensionStmt))
	{
		*create = true;
		return strcmp(((CreateExtensionStmt *) parsetree)->extname, "telemetry") == 0;
	}
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
 * The database a DROP DATABASE or ALTER DATABASE ... RENAME is about to
 * take away from its worker, if PostgreSQL is going to allow the command;
 * else InvalidOid.  The checks are PostgreSQL's own, made before it makes
 * them, with the current effective user.
 */
static Oid
database_leaving(Node *parsetree)
{
	const char *name = NULL;
	const char *newname = NULL;
	Oid			dboid;

	if (IsA(parsetree, DropdbStmt))
		name = ((DropdbStmt *) parsetree)->dbname;
	else if (IsA(parsetree, RenameStmt) &&
			 ((RenameStmt *) parsetree)->renameType == OBJECT_DATABASE)
	{
		name = ((RenameStmt *) parsetree)->subname;
		newname = ((RenameStmt *) parsetree)->newname;
	}
	if (name == NULL)
		return InvalidOid;

	dboid = get_database_oid(name, true);
	if (!OidIsValid(dboid) || dboid == MyDatabaseId)
		return InvalidOid;
	if (!pg_database_ownercheck(dboid, GetUserId()))
		return InvalidOid;
	if (newname != NULL &&
		(!have_createdb_privilege() || OidIsValid(get_database_oid(newname, true))))
		return InvalidOid;
	return dboid;
}

/*
 * At the end of a transaction: let the launcher go on in a database that
 * was held (the command committed or failed; it looks at pg_database again
 * and restarts the worker if the database is still there), and pass on
 * what was created or dropped.
 */
static void
telemetry_xact_callback(XactEvent event, void *arg)
{
	if (event != XACT_EVENT_COMMIT && event != XACT_EVENT_ABORT &&
		event != XACT_EVENT_PARALLEL_COMMIT && event != XACT_EVENT_PARALLEL_ABORT)
		return;
	if (OidIsValid(held_db))
		telemetry_worker_hold_db(held_db, false);
	if (event == XACT_EVENT_COMMIT)
	{
		if (probe_at_commit || rescan_at_commit)
			telemetry_launcher_wake(rescan_at_commit,
									probe_at_commit ? MyDatabaseId : InvalidOid);
		if (wake_at_commit)
			telemetry_wake_worker();
	}
	held_db = InvalidOid;
	probe_at_commit = false;
	wake_at_commit = false;
	rescan_at_commit = false;
}

/* The utility hook. */
static void
telemetry_process_utility(PlannedStmt *pstmt, const char *queryString,
						  bool readOnlyTree, ProcessUtilityContext context,
						  ParamListInfo params, QueryEnvironment *queryEnv,
						  DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;
	bool		create;

	if (telemetry_workers != NULL)
	{
		Oid			leaving = database_leaving(parsetree);

		if (OidIsValid(leaving))
		{
			held_db = leaving;
			telemetry_worker_hold_db(leaving, true);
			telemetry_worker_request_stop(leaving, true);
		}
		if (is_telemetry_extension_ddl(parsetree, &create))
		{
			if (create)
				probe_at_commit = true;
			else
				wake_at_commit = true;
		}
		if (IsA(parsetree, CreatedbStmt) || IsA(parsetree, AlterDatabaseStmt))
			rescan_at_commit = true;
	}

	if (prev_ProcessUtility)
		prev_ProcessUtility(pstmt, queryString, readOnlyTree, context,
							params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);

	if (IsA(parsetree, TransactionStmt) &&
		((TransactionStmt *) parsetree)->kind == TRANS_STMT_COMMIT_PREPARED)
		telemetry_wake_worker_for_delivery();
}

/* Install the hooks; called from _PG_init (shared_preload_libraries). */
void
telemetry_worker_install_hooks(void)
{
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = telemetry_process_utility;
	RegisterXactCallback(telemetry_xact_callback, NULL);
}
