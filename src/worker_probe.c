/*
 * worker_probe.c
 *		A probe: the short-lived worker that tells the launcher whether a
 *		database has the extension, and who owns it.
 *
 * It connects as the bootstrap superuser (the only role known before the
 * answer), runs no SQL and no function of the database (catalog scans of
 * pg_extension and pg_authid only), writes the answer to shared memory,
 * wakes the launcher and leaves: no connection is kept to a database that
 * no worker serves.
 */
#include "telemetry.h"
#include "worker.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "tcop/tcopprot.h"
#include "utils/syscache.h"

/*
 * Entry point of a probe; main_arg is the database's oid.  Connects as the
 * bootstrap superuser, reads the extension's owner and whether it may log
 * in, and leaves.
 */
void
telemetry_probe_main(Datum main_arg)
{
	Oid			dboid = DatumGetObjectId(main_arg);
	Oid			owner;
	bool		can_login = false;
	Latch	   *launcher;

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);

	StartTransactionCommand();
	owner = telemetry_extension_owner();
	if (OidIsValid(owner))
	{
		HeapTuple	tup = SearchSysCache1(AUTHOID, ObjectIdGetDatum(owner));

		if (HeapTupleIsValid(tup))
		{
			can_login = ((Form_pg_authid) GETSTRUCT(tup))->rolcanlogin;
			ReleaseSysCache(tup);
		}
	}
	CommitTransactionCommand();

	SpinLockAcquire(&telemetry_workers->mutex);
	if (telemetry_workers->probe.dboid == dboid)
	{
		telemetry_workers->probe.done = true;
		telemetry_workers->probe.has_extension = OidIsValid(owner);
		telemetry_workers->probe.owner = owner;
		telemetry_workers->probe.owner_can_login = can_login;
	}
	launcher = telemetry_workers->launcher_latch;
	SpinLockRelease(&telemetry_workers->mutex);
	if (launcher)
		SetLatch(launcher);
	proc_exit(0);
}
