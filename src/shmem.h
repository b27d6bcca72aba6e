/*
 * shmem.h
 *		The telemetry extension's shared memory: counters (the workers'
 *		state is in worker.h).
 *
 * Only atomics, latches, pids, timestamps and plain counters live here;
 * nothing process-local (handles, pointers into a backend's memory) is ever
 * shared.
 */
#ifndef TELEMETRY_SHMEM_H
#define TELEMETRY_SHMEM_H

#include "port/atomics.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/spin.h"
#include "utils/hsearch.h"

typedef struct TelemetrySharedState
{
	slock_t		mutex;			/* not used by the workers (see worker.h) */

	LWLock	   *stats_lock;		/* protects the stats hash table's layout */
	pg_atomic_uint64 stats_overflow;	/* events not counted: table full */
	pg_atomic_uint64 stats_generation;	/* bumped (under stats_lock held
										 * exclusively) when entries are
										 * removed: backends' cached entry
										 * pointers of an older generation
										 * are stale */
} TelemetrySharedState;

/* Key and entry of the per-event-version counters (like pg_stat_statements). */
#define TELEMETRY_NAME_LEN 129

typedef struct TelemetryStatsKey
{
	Oid			dbid;
	char		event[TELEMETRY_NAME_LEN];
	char		version[TELEMETRY_NAME_LEN];
} TelemetryStatsKey;

typedef enum TelemetryCounter
{
	TELEMETRY_COUNT_STORED = 0,
	TELEMETRY_COUNT_SAMPLED_OUT,
	TELEMETRY_COUNT_EXPIRED,
	TELEMETRY_COUNT_REJECTED,
	TELEMETRY_NCOUNTERS
} TelemetryCounter;

typedef struct TelemetryStatsEntry
{
	TelemetryStatsKey key;		/* hash key, must be first */
	pg_atomic_uint64 counters[TELEMETRY_NCOUNTERS];
	TimestampTz last_tracked;	/* approximate; written without a lock */
} TelemetryStatsEntry;

/*
 * Per database: how many entries of the shared table it holds, and what it
 * lost to a full table (stats.c: each database is guaranteed its fair
 * share).  Changed only under stats_lock held exclusively.
 */
typedef struct TelemetryStatsDb
{
	Oid			dbid;			/* hash key, must be first */
	int			entries;		/* entries of the stats table it holds */
	uint64		not_counted;	/* calls not counted: table full, share used */
	uint64		evicted;		/* its entries removed for another's share */
	TimestampTz stats_reset;	/* last telemetry_reset_stats(), 0 if never */
} TelemetryStatsDb;

extern TelemetrySharedState *telemetry_shared;
extern HTAB *telemetry_stats_hash;
extern HTAB *telemetry_stats_db_hash;

extern void telemetry_shmem_init_hooks(void);
extern Size telemetry_shmem_size(void);

/* stats.c */
extern void telemetry_count(const char *event, const char *version,
							TelemetryCounter counter);

/* worker wake-ups (worker_shmem.c) */
extern void telemetry_wake_worker(void);
extern void telemetry_wake_worker_for_delivery(void);
extern void telemetry_delivery_wake_consumed(void);
extern void telemetry_delivery_wake_suppress(void);

#endif							/* TELEMETRY_SHMEM_H */
