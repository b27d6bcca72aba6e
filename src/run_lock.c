/*
 * run_lock.c
 *		Locks that keep the extension's runs from overlapping.
 *
 * A maintenance run, an anomaly check, a delivery pass and the making of a
 * partition must not overlap in a database.  Advisory locks would do, but
 * any role can take an advisory lock, and one that takes these first stops
 * the work for everyone.  These are object locks on the extension itself
 * (its pg_extension row, with a sub-id per purpose), which no SQL command
 * of another role can take.
 */
#include "telemetry.h"
#include "run_lock.h"

#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "common/hashfn.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(telemetry_run_lock);

/* Sub-ids of the named purposes; other names hash above them. */
static const struct
{
	const char *name;
	TelemetryRunLock lock;
}			run_lock_names[] = {
	{"maintenance", RUN_LOCK_MAINTENANCE},
	{"anomaly", RUN_LOCK_ANOMALY},
	{"delivery", RUN_LOCK_DELIVERY},
	{"partition", RUN_LOCK_PARTITION},
};

#define RUN_LOCK_HASHED_BASE 1000

/* The tags of session-level locks held, by purpose (see acquire). */
static LOCKTAG session_tags[RUN_LOCK_PARTITION + 1];

/* The lock tag of a purpose in this database (the extension must exist). */
static void
run_lock_tag(LOCKTAG *tag, uint16 subid)
{
	Oid			ext = get_extension_oid("telemetry", false);

	SET_LOCKTAG_OBJECT(*tag, MyDatabaseId, ExtensionRelationId, ext, subid);
}

/*
 * Take a run lock (exclusive among runs of the same purpose).  session
 * locks outlive transactions (the worker's maintenance spans many); wait
 * false returns false at once when another run holds it.
 */
bool
telemetry_run_lock_acquire(TelemetryRunLock which, bool session, bool wait)
{
	LOCKTAG		tag;

	run_lock_tag(&tag, (uint16) which);
	if (LockAcquire(&tag, ExclusiveLock, session, !wait) == LOCKACQUIRE_NOT_AVAIL)
		return false;
	if (session)
		session_tags[which] = tag;	/* released outside any transaction */
	return true;
}

/* Release a session-level run lock (no transaction needed). */
void
telemetry_run_lock_release(TelemetryRunLock which)
{
	LockRelease(&session_tags[which], ExclusiveLock, true);
}

/*
 * SQL: telemetry._run_lock(name text, wait boolean) RETURNS boolean
 *
 * A transaction-level run lock: the named purposes, or any other name (a
 * spec key, say) hashed to its own sub-id.  Returns whether it was taken
 * (always true when waiting).
 */
Datum
telemetry_run_lock(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	bool		wait = PG_GETARG_BOOL(1);
	uint16		subid = 0;
	LOCKTAG		tag;

	for (int i = 0; i < lengthof(run_lock_names); i++)
		if (strcmp(name, run_lock_names[i].name) == 0)
			subid = (uint16) run_lock_names[i].lock;
	if (subid == 0)
		subid = RUN_LOCK_HASHED_BASE +
			hash_bytes((const unsigned char *) name, strlen(name)) % (PG_UINT16_MAX - RUN_LOCK_HASHED_BASE);
	run_lock_tag(&tag, subid);
	PG_RETURN_BOOL(LockAcquire(&tag, ExclusiveLock, false, !wait) != LOCKACQUIRE_NOT_AVAIL);
}
