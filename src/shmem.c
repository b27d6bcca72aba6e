/*
 * shmem.c
 *		Allocation and attachment of the extension's shared memory.
 *
 * Requested only when the library is in shared_preload_libraries; without
 * it telemetry_shared stays NULL and callers skip what needs it (counters,
 * worker wake-ups) instead of failing.
 */
#include "telemetry.h"
#include "shmem.h"
#include "worker.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/shmem.h"

TelemetrySharedState *telemetry_shared = NULL;
HTAB	   *telemetry_stats_hash = NULL;
HTAB	   *telemetry_stats_db_hash = NULL;

static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;

/* Bytes of shared memory the extension needs. */
Size
telemetry_shmem_size(void)
{
	Size		size = MAXALIGN(sizeof(TelemetrySharedState));

	size = add_size(size, hash_estimate_size(telemetry_max_tracked_events,
											 sizeof(TelemetryStatsEntry)));
	/* a database holds at least one entry, so as many databases at most */
	size = add_size(size, hash_estimate_size(telemetry_max_tracked_events,
											 sizeof(TelemetryStatsDb)));
	size = add_size(size, telemetry_worker_shmem_size());
	return size;
}

/* Ask the postmaster for our memory and lock (PG15: from shmem_request_hook). */
static void
telemetry_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(telemetry_shmem_size());
	RequestNamedLWLockTranche("telemetry", 1);
}

/* Create or attach to the shared state; runs in the postmaster and in EXEC_BACKEND children. */
static void
telemetry_shmem_startup(void)
{
	bool		found;
	HASHCTL		info;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	telemetry_shared = ShmemInitStruct("telemetry", sizeof(TelemetrySharedState), &found);
	if (!found)
	{
		memset(telemetry_shared, 0, sizeof(TelemetrySharedState));
		SpinLockInit(&telemetry_shared->mutex);
		telemetry_shared->stats_lock = &(GetNamedLWLockTranche("telemetry"))->lock;
		pg_atomic_init_u64(&telemetry_shared->stats_overflow, 0);
		pg_atomic_init_u64(&telemetry_shared->stats_generation, 0);
	}

	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(TelemetryStatsKey);
	info.entrysize = sizeof(TelemetryStatsEntry);
	telemetry_stats_hash = ShmemInitHash("telemetry event counters",
										 telemetry_max_tracked_events,
										 telemetry_max_tracked_events,
										 &info, HASH_ELEM | HASH_BLOBS);

	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(Oid);
	info.entrysize = sizeof(TelemetryStatsDb);
	telemetry_stats_db_hash = ShmemInitHash("telemetry event counters per database",
											telemetry_max_tracked_events,
											telemetry_max_tracked_events,
											&info, HASH_ELEM | HASH_BLOBS);
	telemetry_worker_shmem_init();
	LWLockRelease(AddinShmemInitLock);
}

/* Install the hooks; called from _PG_init during shared_preload_libraries. */
void
telemetry_shmem_init_hooks(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = telemetry_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = telemetry_shmem_startup;
}
