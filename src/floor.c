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
#include "utils/builtins.h"
#include "utils/xid8.h"

PG_FUNCTION_INFO_V1(telemetry_xid_clock);

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
