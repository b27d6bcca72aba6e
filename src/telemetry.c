/*
 * telemetry.c
 *		Module entry point: GUCs, shared memory and the background worker.
 */
#include "telemetry.h"

#include "shmem.h"

#include "miscadmin.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/*
 * Load-time set-up.  GUCs are defined in every process; shared memory and the
 * worker only when loaded by the postmaster through shared_preload_libraries.
 */
void
_PG_init(void)
{
	telemetry_define_gucs();

	if (!process_shared_preload_libraries_in_progress)
		return;

	telemetry_shmem_init_hooks();
	telemetry_worker_register();
}
