/*
 * stats.c
 *		Per-event-version counters in shared memory, like pg_stat_statements.
 *
 * Counting costs no write per event: an entry is found under a shared
 * LWLock and bumped with an atomic add.  Counters are not transactional:
 * they count calls, including ones whose transaction later rolled back.
 *
 * The table (telemetry.max_tracked_events entries) is shared by every
 * database, and one database must not take another's share: when it is
 * full, a database holding fewer entries than its fair share (the size
 * divided by the number of databases holding entries) takes the least
 * recently tracked entry of the database holding the most; a database at
 * or above its share counts nothing new, and that loss is counted
 * (telemetry.track_stats_info), never silent.
 */
#include "telemetry.h"
#include "shmem.h"

#include "access/xact.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(telemetry_track_stats);
PG_FUNCTION_INFO_V1(telemetry_track_stats_info);
PG_FUNCTION_INFO_V1(telemetry_reset_stats);

/*
 * The per-database record of a database, created when asked (NULL when the
 * per-database table is full even after forgetting databases that hold no
 * entry).  Caller holds stats_lock exclusively when create is true.
 */
static TelemetryStatsDb *
stats_db(Oid dbid, bool create)
{
	TelemetryStatsDb *db;
	bool		found;

	db = hash_search(telemetry_stats_db_hash, &dbid, HASH_FIND, NULL);
	if (db != NULL || !create)
		return db;
	db = hash_search(telemetry_stats_db_hash, &dbid, HASH_ENTER_NULL, &found);
	if (db == NULL)
	{
		HASH_SEQ_STATUS hs;
		TelemetryStatsDb *d;

		/* forget databases that hold nothing (dropped ones, mostly) */
		hash_seq_init(&hs, telemetry_stats_db_hash);
		while ((d = hash_seq_search(&hs)) != NULL)
			if (d->entries == 0)
				hash_search(telemetry_stats_db_hash, &d->dbid, HASH_REMOVE, NULL);
		db = hash_search(telemetry_stats_db_hash, &dbid, HASH_ENTER_NULL, &found);
		if (db == NULL)
			return NULL;
	}
	if (!found)
	{
		db->entries = 0;
		db->not_counted = 0;
		db->evicted = 0;
		db->stats_reset = 0;
	}
	return db;
}

/* Databases holding entries, counting `also` (which may hold none yet). */
static int
stats_databases(Oid also)
{
	HASH_SEQ_STATUS hs;
	TelemetryStatsDb *d;
	int			n = 0;
	bool		seen = false;

	hash_seq_init(&hs, telemetry_stats_db_hash);
	while ((d = hash_seq_search(&hs)) != NULL)
	{
		if (d->entries > 0 || d->dbid == also)
			n++;
		if (d->dbid == also)
			seen = true;
	}
	return seen ? n : n + 1;
}

/*
 * Make room for one entry of database `mine` by removing the least recently
 * tracked entry of the database holding the most (not `mine`).  Returns
 * false when no other database holds more than `mine`.  Caller holds
 * stats_lock exclusively.
 */
static bool
stats_evict_for(TelemetryStatsDb *mine)
{
	HASH_SEQ_STATUS hs;
	TelemetryStatsDb *d;
	TelemetryStatsDb *victim_db = NULL;
	TelemetryStatsEntry *e;
	TelemetryStatsEntry *victim = NULL;

	hash_seq_init(&hs, telemetry_stats_db_hash);
	while ((d = hash_seq_search(&hs)) != NULL)
		if (d != mine && d->entries > mine->entries &&
			(victim_db == NULL || d->entries > victim_db->entries))
			victim_db = d;
	if (victim_db == NULL)
		return false;

	hash_seq_init(&hs, telemetry_stats_hash);
	while ((e = hash_seq_search(&hs)) != NULL)
		if (e->key.dbid == victim_db->dbid &&
			(victim == NULL || e->last_tracked < victim->last_tracked))
			victim = e;
	if (victim == NULL)
	{
		victim_db->entries = 0; /* out of step: repair */
		return false;
	}
	hash_search(telemetry_stats_hash, &victim->key, HASH_REMOVE, NULL);
	pg_atomic_fetch_add_u64(&telemetry_shared->stats_generation, 1);
	victim_db->entries--;
	victim_db->evicted++;
	return true;
}

/*
 * A new entry for key, or NULL when this database may not have one (its
 * share is used): the loss is then counted.  Caller holds stats_lock
 * exclusively.
 */
static TelemetryStatsEntry *
stats_enter(TelemetryStatsKey *key)
{
	TelemetryStatsDb *db = stats_db(key->dbid, true);
	TelemetryStatsEntry *entry;
	bool		found;

	if (db == NULL)
		return NULL;
	if (hash_get_num_entries(telemetry_stats_hash) >= telemetry_max_tracked_events)
	{
		int			share = telemetry_max_tracked_events / stats_databases(key->dbid);

		if (db->entries >= share || !stats_evict_for(db))
		{
			db->not_counted++;
			return NULL;
		}
	}
	entry = hash_search(telemetry_stats_hash, key, HASH_ENTER_NULL, &found);
	if (entry == NULL)
	{
		db->not_counted++;
		return NULL;
	}
	if (!found)
	{
		for (int i = 0; i < TELEMETRY_NCOUNTERS; i++)
			pg_atomic_init_u64(&entry->counters[i], 0);
		entry->last_tracked = 0;
		db->entries++;
	}
	return entry;
}

/*
 * Entries this backend found recently, so that counting an event version it
 * counted before costs no hash of the 264-byte key: valid while the shared
 * generation is unchanged, which holds while stats_lock is held (entries
 * are removed only under it, held exclusively, and the generation bumped).
 */
#define STATS_CACHE_SIZE 16

typedef struct StatsCacheSlot
{
	char		event[TELEMETRY_NAME_LEN];
	char		version[TELEMETRY_NAME_LEN];
	uint64		generation;
	TelemetryStatsEntry *entry; /* NULL when the slot is free */
} StatsCacheSlot;

static StatsCacheSlot stats_cache[STATS_CACHE_SIZE];
static int	stats_cache_next = 0;

/* A cached entry for event/version of this generation, or NULL. */
static TelemetryStatsEntry *
stats_cache_find(const char *event, const char *version, uint64 generation)
{
	for (int i = 0; i < STATS_CACHE_SIZE; i++)
	{
		StatsCacheSlot *c = &stats_cache[i];

		if (c->entry != NULL && c->generation == generation &&
			strcmp(c->event, event) == 0 && strcmp(c->version, version) == 0)
			return c->entry;
	}
	return NULL;
}

/* Remember an entry found by its key (round robin). */
static void
stats_cache_add(const TelemetryStatsKey *key, TelemetryStatsEntry *entry, uint64 generation)
{
	StatsCacheSlot *c = &stats_cache[stats_cache_next];

	stats_cache_next = (stats_cache_next + 1) % STATS_CACHE_SIZE;
	memcpy(c->event, key->event, sizeof(c->event));
	memcpy(c->version, key->version, sizeof(c->version));
	c->generation = generation;
	c->entry = entry;
}

/* Add one to a counter of an event version (no-op without shared memory). */
void
telemetry_count(const char *event, const char *version, TelemetryCounter counter)
{
	TelemetryStatsKey key;
	TelemetryStatsEntry *entry;
	uint64		generation;

	if (telemetry_shared == NULL || telemetry_stats_hash == NULL)
		return;

	LWLockAcquire(telemetry_shared->stats_lock, LW_SHARED);
	generation = pg_atomic_read_u64(&telemetry_shared->stats_generation);
	entry = stats_cache_find(event, version, generation);
	if (entry == NULL)
	{
		memset(&key, 0, sizeof(key));
		key.dbid = MyDatabaseId;
		strlcpy(key.event, event, sizeof(key.event));
		strlcpy(key.version, version, sizeof(key.version));
		entry = hash_search(telemetry_stats_hash, &key, HASH_FIND, NULL);
		if (entry == NULL)
		{
			LWLockRelease(telemetry_shared->stats_lock);
			LWLockAcquire(telemetry_shared->stats_lock, LW_EXCLUSIVE);
			entry = hash_search(telemetry_stats_hash, &key, HASH_FIND, NULL);
			if (entry == NULL)
				entry = stats_enter(&key);
			if (entry == NULL)
			{
				pg_atomic_fetch_add_u64(&telemetry_shared->stats_overflow, 1);
				LWLockRelease(telemetry_shared->stats_lock);
				return;
			}
			generation = pg_atomic_read_u64(&telemetry_shared->stats_generation);
		}
		/* names longer than the key were cut: their slot matches nothing */
		if (strlen(event) < TELEMETRY_NAME_LEN && strlen(version) < TELEMETRY_NAME_LEN)
			stats_cache_add(&key, entry, generation);
	}
	pg_atomic_fetch_add_u64(&entry->counters[counter], 1);
	entry->last_tracked = GetCurrentTransactionStartTimestamp();
	LWLockRelease(telemetry_shared->stats_lock);
}

static void
require_shmem(void)
{
	if (telemetry_shared == NULL || telemetry_stats_hash == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("telemetry must be loaded via shared_preload_libraries")));
}

/* SQL: telemetry._track_stats() — rows of the current database's counters. */
Datum
telemetry_track_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HASH_SEQ_STATUS hs;
	TelemetryStatsEntry *entry;

	InitMaterializedSRF(fcinfo, 0);
	require_shmem();

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

/*
 * SQL: telemetry._track_stats_info() — one row about the shared table as
 * the current database sees it: its entries, its fair share, the calls it
 * could not count and the entries it lost to other databases' shares.
 */
Datum
telemetry_track_stats_info(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Datum		values[7];
	bool		nulls[7] = {0};
	TelemetryStatsDb *db;
	int			ndb;

	InitMaterializedSRF(fcinfo, 0);
	require_shmem();

	LWLockAcquire(telemetry_shared->stats_lock, LW_SHARED);
	db = stats_db(MyDatabaseId, false);
	ndb = stats_databases(MyDatabaseId);
	values[0] = Int32GetDatum(db ? db->entries : 0);
	values[1] = Int32GetDatum(telemetry_max_tracked_events);
	values[2] = Int32GetDatum(ndb);
	values[3] = Int32GetDatum(telemetry_max_tracked_events / ndb);
	values[4] = Int64GetDatum(db ? (int64) db->not_counted : 0);
	values[5] = Int64GetDatum(db ? (int64) db->evicted : 0);
	values[6] = TimestampTzGetDatum(db ? db->stats_reset : 0);
	nulls[6] = db == NULL || db->stats_reset == 0;
	LWLockRelease(telemetry_shared->stats_lock);

	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	return (Datum) 0;
}

/* SQL: telemetry_reset_stats() — forget the current database's counters. */
Datum
telemetry_reset_stats(PG_FUNCTION_ARGS)
{
	HASH_SEQ_STATUS hs;
	TelemetryStatsEntry *entry;
	TelemetryStatsDb *db;

	if (telemetry_shared == NULL || telemetry_stats_hash == NULL)
		PG_RETURN_VOID();
	LWLockAcquire(telemetry_shared->stats_lock, LW_EXCLUSIVE);
	hash_seq_init(&hs, telemetry_stats_hash);
	while ((entry = hash_seq_search(&hs)) != NULL)
	{
		if (entry->key.dbid == MyDatabaseId)
			hash_search(telemetry_stats_hash, &entry->key, HASH_REMOVE, NULL);
	}
	pg_atomic_fetch_add_u64(&telemetry_shared->stats_generation, 1);
	db = stats_db(MyDatabaseId, true);
	if (db != NULL)
	{
		db->entries = 0;
		db->not_counted = 0;
		db->evicted = 0;
		db->stats_reset = GetCurrentTimestamp();
	}
	LWLockRelease(telemetry_shared->stats_lock);
	PG_RETURN_VOID();
}
