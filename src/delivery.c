/*
 * delivery.c
 *		Delivery of stored events to providers (stub: see issue 6).
 */
#include "telemetry.h"

/*
 * One delivery pass run by the worker outside any transaction: it claims
 * work in short transactions of its own, sends with no transaction open,
 * and records outcomes.  Returns the number of events delivered and sets
 * *more when work remains for an immediate next pass.
 */
int
telemetry_delivery_worker_pass(bool *more)
{
	*more = false;
	return 0;
}
