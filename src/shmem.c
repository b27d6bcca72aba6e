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

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/shmem.h"

const char *const telemetry_job_names[TELEMETRY_NJOBS] = {
	"maintenance", "anomaly", "delivery"
};

TelemetrySharedState *telemetry_shared = NULL;
HTAB	   *telemetry_stats_hash = NULL;
HTAB	   *telemetry_stats_db_hash = NULL;

static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

#if PG_VERSION_NUM >= 150000
static shmem_request_hook_type prev_shmem_request_hook = NULL;
#endif

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
	return size;
}

/* Ask the postmaster for our memory and lock (PG15: from shmem_request_hook). */
static void
telemetry_shmem_request(void)
{
#if PG_VERSION_NUM >= 150000
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
#endif
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
		pg_atomic_init_u32(&telemetry_shared->delivery_wanted, 0);
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
	LWLockRelease(AddinShmemInitLock);
}

/* Install the hooks; called from _PG_init during shared_preload_libraries. */
void
telemetry_shmem_init_hooks(void)
{
#if PG_VERSION_NUM >= 150000
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = telemetry_shmem_request;
#else
	telemetry_shmem_request();
#endif
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = telemetry_shmem_startup;
}

/* Set the worker's latch, if a worker runs; cheap enough for every commit. */
void
telemetry_wake_worker(void)
{
	Latch	   *latch;

	if (telemetry_shared == NULL)
		return;
	SpinLockAcquire(&telemetry_shared->mutex);
	latch = telemetry_shared->worker_latch;
	SpinLockRelease(&telemetry_shared->mutex);
	if (latch)
		SetLatch(latch);
}

/*
 * Wake the worker for delivery at the commit of a tracking transaction.
 * Only the first committer since the worker last started delivering sets
 * its latch (a syscall); the others find the flag already set, so a
 * thousand commits a second cost the worker a few wake-ups, not a thousand.
 */
void
telemetry_wake_worker_for_delivery(void)
{
	if (telemetry_shared == NULL)
		return;
	if (pg_atomic_read_u32(&telemetry_shared->delivery_wanted) != 0 ||
		pg_atomic_exchange_u32(&telemetry_shared->delivery_wanted, 1) != 0)
		return;
	telemetry_wake_worker();
}

/* The worker is about to deliver (or idles): later commits must wake it. */
void
telemetry_delivery_wake_consumed(void)
{
	if (telemetry_shared != NULL)
		pg_atomic_write_u32(&telemetry_shared->delivery_wanted, 0);
}
