/*
 * first_agg.c
 *		The transition function of the aggregate telemetry._first(anyelement).
 *
 * _first(x ORDER BY ...) is the first value in the aggregate's order, in
 * constant memory.  The anomaly checks use it for the first and last
 * violating event of each threshold.
 */
#include "telemetry.h"

PG_FUNCTION_INFO_V1(telemetry_first_sfunc);

/*
 * Keeps the state: the first value it was given.  STRICT, so the first
 * non-null value becomes the state without a call.  In C because it runs
 * for every violating event of a check, and a call of the SQL function it
 * replaces cost several microseconds.
 */
Datum
telemetry_first_sfunc(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATUM(PG_GETARG_DATUM(0));
}
