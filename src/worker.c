/*
 * worker.c
 *		The telemetry background worker (stub: see issue 4).
 */
#include "telemetry.h"

/* Register the worker with the postmaster; called from _PG_init. */
void
telemetry_worker_register(void)
{
}
