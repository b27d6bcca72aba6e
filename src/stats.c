/*
 * stats.c
 *		Per-event-version counters in shared memory, like pg_stat_statements.
 *
 * Counting costs no write per event: an entry is found under a shared
 * LWLock and bumped with an atomic add.  Counters are not transactional:
 * they count calls, including ones whose transaction later rolled back.
 */
#include "telemetry.h"
#include "shmem.h"

#include "access/xact.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(telemetry_track_stats);
PG_FUNCTION_INFO_V1(telemetry_reset_stats);

/* Add one to a counter of an event version (no-op without shared memory). */
void
telemetry_count(const char *event, const char *version, TelemetryCounter counter)
{
	TelemetryStatsKey key;
	TelemetryStatsEntry *entry;

	if (telemetry_shared == NULL || telemetry_stats_hash == NULL)
		return;

	memset(&key, 0, sizeof(key));
	key.dbid = MyDatabaseId;
	strlcpy(key.event, event, sizeof(key.event));
	strlcpy(key.version, version, sizeof(key.version));

	LWLockAcquire(telemetry_shared->stats_lock, LW_SHARED);
	entry = hash_search(telemetry_stats_hash, &key, HASH_FIND, NULL);
	if (entry == NULL)
	{
		bool		found;

		LWLockRelease(telemetry_shared->stats_lock);
		LWLockAcquire(telemetry_shared->stats_lock, LW_EXCLUSIVE);
		entry = hash_search(telemetry_stats_hash, &key, HASH_FIND, NULL);
		if (entry == NULL &&
			hash_get_num_entries(telemetry_stats_hash) < telemetry_max_tracked_events)
		{
			entry = hash_search(telemetry_stats_hash, &key, HASH_ENTER_NULL, &found);
			if (entry && !found)
			{
				for (int i = 0; i < TELEMETRY_NCOUNTERS; i++)
					pg_atomic_init_u64(&entry->counters[i], 0);
				entry->last_tracked = 0;
			}
		}
		if (entry == NULL)
		{
			pg_atomic_fetch_add_u64(&telemetry_shared->stats_overflow, 1);
			LWLockRelease(telemetry_shared->stats_lock);
			return;
		}
	}
	pg_atomic_fetch_add_u64(&entry->counters[counter], 1);
	entry->last_tracked = GetCurrentTransactionStartTimestamp();
	LWLockRelease(telemetry_shared->stats_lock);
}

/* SQL: telemetry._track_stats() — rows of the current database's counters. */
Datum
telemetry_track_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HASH_SEQ_STATUS hs;
	TelemetryStatsEntry *entry;

	InitMaterializedSRF(fcinfo, 0);
	if (telemetry_shared == NULL || telemetry_stats_hash == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("telemetry must be loaded via shared_preload_libraries")));

	LWLockAcquire(telemetry_shared->stats_lock, LW_SHARED);
	hash_seq_init(&hs, telemetry_stats_hash);
	while ((entry = hash_seq_search(&hs)) != NULL)
	{
		Datum		values[7];
		bool		nulls[7] = {0};

		if (entry->key.dbid != MyDatabaseId)
			continue;
		values[0] = CStringGetTextDatum(entry->key.event);
		values[1] = CStringGetTextDatum(entry->key.version);
		for (int i = 0; i < TELEMETRY_NCOUNTERS; i++)
			values[2 + i] = Int64GetDatum((int64) pg_atomic_read_u64(&entry->counters[i]));
		values[6] = TimestampTzGetDatum(entry->last_tracked);
		nulls[6] = entry->last_tracked == 0;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	LWLockRelease(telemetry_shared->stats_lock);
	return (Datum) 0;
}

/* SQL: telemetry_reset_stats() — forget the current database's counters. */
Datum
telemetry_reset_stats(PG_FUNCTION_ARGS)
{
	HASH_SEQ_STATUS hs;
	TelemetryStatsEntry *entry;

	if (telemetry_shared == NULL || telemetry_stats_hash == NULL)
		PG_RETURN_VOID();
	LWLockAcquire(telemetry_shared->stats_lock, LW_EXCLUSIVE);
	hash_seq_init(&hs, telemetry_stats_hash);
	while ((entry = hash_seq_search(&hs)) != NULL)
	{
		if (entry->key.dbid == MyDatabaseId)
			hash_search(telemetry_stats_hash, &entry->key, HASH_REMOVE, NULL);
	}
	LWLockRelease(telemetry_shared->stats_lock);
	PG_RETURN_VOID();
}
