/*
 * delivery_restore.c
 *		Restart the providers whose delivery state a restore brought from
 *		another cluster.
 *
 * telemetry.delivery_state and telemetry.delivery_horizons are dumped with
 * the events.  Restored into a cluster whose transaction ids are lower, a
 * cursor is ahead of every new transaction id: the events tracked there
 * would never be read, and the restored ones not yet delivered would wait
 * for this cluster's ids to reach theirs.  Each claim checks for that with
 * one small query over the state (nothing else when all is well); what it
 * finds is repaired by telemetry._delivery_restart_restored() (see
 * src/sql/080_delivery.sql).
 */
#include "telemetry.h"
#include "delivery.h"
#include "spi_plan.h"

#include "access/transam.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/xid8.h"

/*
 * Restart the providers whose state is ahead of this cluster's next
 * transaction id.  Runs at the start of a claim, inside its transaction,
 * with SPI connected and the delivery run lock held.
 */
void
delivery_restart_restored(void)
{
	static SPIPlanPtr plan_kept = NULL;
	Oid			types[1] = {XID8OID};
	Datum		args[1];
	bool		isnull;
	int			rc;

	spi_plan_keep(&plan_kept, 0,
				  "SELECT EXISTS (SELECT 1 FROM telemetry.delivery_state s "
				  "WHERE s.cursor_xid > $1 OR s.pending_xid > $1) "
				  "OR EXISTS (SELECT 1 FROM telemetry.delivery_horizons h "
				  "WHERE h.horizon > $1)",
				  1, types);
	args[0] = FullTransactionIdGetDatum(ReadNextFullTransactionId());
	rc = SPI_execute_plan(plan_kept, args, NULL, true, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read telemetry.delivery_state: %s", SPI_result_code_string(rc));
	if (!DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)))
		return;
	rc = SPI_execute("SELECT telemetry._delivery_restart_restored()", false, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not restart restored delivery state: %s", SPI_result_code_string(rc));
}
