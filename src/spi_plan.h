/*
 * spi_plan.h
 *		Statements whose plan is prepared once and kept for the life of the
 *		process (spi_plan.c): the one plan-caching idiom of the extension.
 *
 * The plan lives in a static SPIPlanPtr of the code that runs the
 * statement, NULL until its first use:
 *
 *		static SPIPlanPtr plan = NULL;
 *
 *		spi_plan_keep(&plan, 0, "SELECT ... $1 ...", 1, types);
 *		rc = SPI_execute_plan(plan, args, NULL, true, 0);
 *
 * or, when the result code is all the caller checks,
 *
 *		spi_plan_run(&plan, "UPDATE ...", 2, types, args, nulls, SPI_OK_UPDATE);
 *
 * cursor_options is 0 (PostgreSQL chooses between a generic and a custom
 * plan) or CURSOR_OPT_CUSTOM_PLAN (planned again for each execution's
 * values, so that a bound on the partition key prunes partitions at plan
 * time), or CURSOR_OPT_GENERIC_PLAN.
 */
#ifndef TELEMETRY_SPI_PLAN_H
#define TELEMETRY_SPI_PLAN_H

#include "postgres.h"

#include "executor/spi.h"

extern SPIPlanPtr spi_plan_keep(SPIPlanPtr *slot, int cursor_options,
								const char *sql, int nargs, const Oid *types);
extern uint64 spi_plan_run(SPIPlanPtr *slot, const char *sql, int nargs,
						   const Oid *types, Datum *args, const char *nulls,
						   int expect);

#endif							/* TELEMETRY_SPI_PLAN_H */
