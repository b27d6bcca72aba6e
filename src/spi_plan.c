/*
 * spi_plan.c
 *		Statements whose plan is prepared once and kept for the life of the
 *		process: the extension's one plan-caching idiom (see spi_plan.h).
 */
#include "postgres.h"

#include "spi_plan.h"

/*
 * The plan of a statement, prepared (with cursor_options) and kept on
 * first use in *slot, which the caller keeps (a static variable).  A
 * statement that fails to prepare leaves *slot NULL, so a later call tries
 * again.
 */
SPIPlanPtr
spi_plan_keep(SPIPlanPtr *slot, int cursor_options, const char *sql, int nargs,
			  const Oid *types)
{
	if (*slot == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare_cursor(sql, nargs, (Oid *) types, cursor_options);

		if (plan == NULL)
			elog(ERROR, "telemetry: could not prepare \"%.60s\": %s",
				 sql, SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "telemetry: could not keep the plan of \"%.60s\"", sql);
		*slot = plan;
	}
	return *slot;
}

/*
 * Run a statement (not read-only: it sees the effects of earlier commands
 * of the transaction) with its kept plan and raise an error unless SPI
 * answers `expect`.  Returns the number of rows processed.
 */
uint64
spi_plan_run(SPIPlanPtr *slot, const char *sql, int nargs, const Oid *types,
			 Datum *args, const char *nulls, int expect)
{
	SPIPlanPtr	plan = spi_plan_keep(slot, 0, sql, nargs, types);
	int			rc = SPI_execute_plan(plan, args, nulls, false, 0);

	if (rc != expect)
		elog(ERROR, "telemetry: \"%.60s\" failed: %s", sql, SPI_result_code_string(rc));
	return SPI_processed;
}
