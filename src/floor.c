/*
 * floor.c
 *		The xid clock: a (time, transaction id) pair that lets readers of
 *		"what is new" bound the received_at of events they have not seen.
 *
 * Delivery and the anomaly checks read the events of transactions below
 * their snapshot's xmin, after a cursor on (xid, id).  Those events can be
 * anywhere in telemetry.events, so without a lower bound on occurred_at a
 * reader would touch every partition.  The bound comes from this clock:
 * every transaction id at or above next_xid is assigned after "at", and an
 * event's received_at is read after its transaction's id is assigned
 * (track.c), so every event of a transaction with xid >= next_xid has
 * received_at >= at.  A reader keeps one such sample with its cursor; once
 * its horizon has passed the sample's next_xid, everything it has not read
 * has received_at >= the sample's time, its floor.  Events that are not
 * late (occurred_at at most TELEMETRY_LATE_WINDOW before received_at) then
 * have occurred_at >= floor - TELEMETRY_LATE_WINDOW, which prunes
 * partitions; late ones are also copied to telemetry.late_events.
 *
 * Nothing is written on the hot path and nothing lives in shared memory.
 */
#include "telemetry.h"
#include "floor.h"

#include "access/htup_details.h"
#include "access/transam.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "utils/builtins.h"
#include "utils/snapmgr.h"
#include "utils/xid8.h"

PG_FUNCTION_INFO_V1(telemetry_xid_clock);
PG_FUNCTION_INFO_V1(telemetry_horizon);

/*
 * SQL: telemetry._xid_clock(OUT at timestamptz, OUT next_xid xid8)
 *
 * The time is read first: every transaction id >= next_xid is assigned
 * after it (ReadNextFullTransactionId takes XidGenLock, a barrier).
 */
Datum
telemetry_xid_clock(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[2];
	bool		nulls[2] = {false, false};
	TimestampTz at = GetCurrentTimestamp();
	FullTransactionId next = ReadNextFullTransactionId();

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	values[0] = TimestampTzGetDatum(at);
	values[1] = FullTransactionIdGetDatum(next);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}

/* Whether a transaction running at a snapshot may belong to this database. */
static bool
xid_may_be_ours(TransactionId xid)
{
	int			pid = BackendXidGetPid(xid);
	PGPROC	   *proc;

	if (pid == 0)
		return true;			/* prepared, or ended since: assume ours */
	proc = BackendPidGetProc(pid);
	return proc == NULL || proc->databaseId == MyDatabaseId;
}

/*
 * The horizon of a reader of "what is new" under the active snapshot: every
 * transaction of this database with an id below it had ended when the
 * snapshot was taken, so its events are visible and no event below it can
 * appear later.  It is the snapshot's xmin but for transactions of other
 * databases, which cannot write this database's events: an open
 * transaction elsewhere must not hold back delivery and the checks here.
 */
FullTransactionId
telemetry_reader_horizon(void)
{
	Snapshot	snap = GetActiveSnapshot();
	TransactionId h;
	FullTransactionId next = ReadNextFullTransactionId();
	uint32		epoch = EpochFromFullTransactionId(next);

	if (snap == NULL)
		elog(ERROR, "telemetry: no active snapshot for the reader horizon");
	h = snap->xmax;
	for (uint32 i = 0; i < snap->xcnt; i++)
		if (TransactionIdPrecedes(snap->xip[i], h) && xid_may_be_ours(snap->xip[i]))
			h = snap->xip[i];
	/* the epoch of an xid at or below the next one */
	if (h > XidFromFullTransactionId(next))
		epoch--;
	return FullTransactionIdFromEpochAndXid(epoch, h);
}

/* SQL: telemetry._horizon() RETURNS xid8 (see telemetry_reader_horizon). */
Datum
telemetry_horizon(PG_FUNCTION_ARGS)
{
	PG_RETURN_FULLTRANSACTIONID(telemetry_reader_horizon());
}
