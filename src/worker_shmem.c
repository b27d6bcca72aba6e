/*
 * worker_shmem.c
 *		The launcher's and the database workers' shared state, and the
 *		ways other backends reach them (wake-ups, stop requests).
 *
 * Everything here is a plain value (oids, pids, latches, timestamps,
 * atomics, fixed-size text), protected by one spinlock.  Latches are read
 * under the spinlock and set after releasing it, and kill() is never called
 * while it is held.
 */
#include "telemetry.h"
#include "worker.h"
#include "shmem.h"

#include "miscadmin.h"
#include "storage/shmem.h"

const char *const telemetry_job_names[TELEMETRY_NJOBS] = {
	"maintenance", "anomaly", "delivery"
};

const char *const telemetry_db_state_names[] = {
	"unknown", "extension missing", "starting", "running",
	"not served (telemetry.max_workers)",
	"not served (max_worker_processes)", "crash backoff",
	"disabled (telemetry.enabled)", "excluded (telemetry.database)"
};

TelemetryWorkerShared *telemetry_workers = NULL;

/* Cached index of this database's worker slot, checked before use. */
static int	my_db_slot = -1;

/* Entries of the launcher's database table. */
static int
telemetry_max_dbs(void)
{
	return Max(256, 4 * telemetry_max_workers);
}

/* Bytes of shared memory for the launcher and its workers. */
Size
telemetry_worker_shmem_size(void)
{
	Size		size;

	size = add_size(offsetof(TelemetryWorkerShared, slots),
					mul_size(sizeof(TelemetryWorkerSlot), telemetry_max_workers));
	size = MAXALIGN(size);
	size = add_size(size, mul_size(sizeof(TelemetryDbStatus), telemetry_max_dbs()));
	return size;
}

/* Create or attach to the shared state; caller holds AddinShmemInitLock. */
void
telemetry_worker_shmem_init(void)
{
	bool		found;
	int			i;

	telemetry_workers = ShmemInitStruct("telemetry workers",
										telemetry_worker_shmem_size(), &found);
	if (found)
		return;
	memset(telemetry_workers, 0, telemetry_worker_shmem_size());
	SpinLockInit(&telemetry_workers->mutex);
	pg_atomic_init_u32(&telemetry_workers->rescan_wanted, 1);
	for (i = 0; i < telemetry_max_workers; i++)
		pg_atomic_init_u32(&telemetry_workers->slots[i].delivery_wanted, 0);
	telemetry_workers->max_dbs = telemetry_max_dbs();
}

/*
 * The slot of the worker serving dboid, or NULL.  Read without the lock:
 * a stale answer costs at most a missed or spurious wake-up (delivery also
 * runs every second).
 */
TelemetryWorkerSlot *
telemetry_worker_slot_for(Oid dboid)
{
	int			i;

	if (telemetry_workers == NULL || !OidIsValid(dboid))
		return NULL;
	if (my_db_slot >= 0 && dboid == MyDatabaseId &&
		((volatile TelemetryWorkerSlot *) &telemetry_workers->slots[my_db_slot])->dboid == dboid)
		return &telemetry_workers->slots[my_db_slot];
	for (i = 0; i < telemetry_max_workers; i++)
	{
		if (((volatile TelemetryWorkerSlot *) &telemetry_workers->slots[i])->dboid == dboid)
		{
			if (dboid == MyDatabaseId)
				my_db_slot = i;
			return &telemetry_workers->slots[i];
		}
	}
	return NULL;
}

/* Set the latch of the worker in a slot (not under the spinlock). */
static void
wake_slot(TelemetryWorkerSlot *slot)
{
	Latch	   *latch;

	SpinLockAcquire(&telemetry_workers->mutex);
	latch = slot->latch;
	SpinLockRelease(&telemetry_workers->mutex);
	if (latch)
		SetLatch(latch);
}

/* Set this database's worker's latch, if one runs. */
void
telemetry_wake_worker(void)
{
	TelemetryWorkerSlot *slot = telemetry_worker_slot_for(MyDatabaseId);

	if (slot)
		wake_slot(slot);
}

/*
 * Wake this database's worker for delivery at the commit of a tracking
 * transaction.  Only the first committer since the worker last started
 * delivering sets its latch (a syscall); the others find the flag already
 * set, so a thousand commits a second cost the worker a few wake-ups.
 */
void
telemetry_wake_worker_for_delivery(void)
{
	TelemetryWorkerSlot *slot = telemetry_worker_slot_for(MyDatabaseId);

	if (slot == NULL)
		return;
	if (pg_atomic_read_u32(&slot->delivery_wanted) != 0 ||
		pg_atomic_exchange_u32(&slot->delivery_wanted, 1) != 0)
		return;
	wake_slot(slot);
}

/* The worker is about to deliver: later commits must wake it again. */
void
telemetry_delivery_wake_consumed(void)
{
	if (MyWorkerSlot != NULL)
		pg_atomic_write_u32(&MyWorkerSlot->delivery_wanted, 0);
}

/*
 * No provider can be served for now: committing transactions find the
 * flag set and leave the worker asleep (they cost it nothing).
 */
void
telemetry_delivery_wake_suppress(void)
{
	if (MyWorkerSlot != NULL)
		pg_atomic_write_u32(&MyWorkerSlot->delivery_wanted, 1);
}

/*
 * Ask the launcher to look again: a full rescan of pg_database, and/or a
 * probe of one database first (CREATE EXTENSION there).
 */
void
telemetry_launcher_wake(bool rescan, Oid probe_db)
{
	Latch	   *latch;
	int			i;

	if (telemetry_workers == NULL)
		return;
	if (rescan)
		pg_atomic_write_u32(&telemetry_workers->rescan_wanted, 1);
	SpinLockAcquire(&telemetry_workers->mutex);
	if (OidIsValid(probe_db))
	{
		for (i = 0; i < lengthof(telemetry_workers->probe_wanted); i++)
		{
			if (telemetry_workers->probe_wanted[i] == probe_db)
				break;
			if (!OidIsValid(telemetry_workers->probe_wanted[i]))
			{
				telemetry_workers->probe_wanted[i] = probe_db;
				break;
			}
		}
		if (i == lengthof(telemetry_workers->probe_wanted))
			pg_atomic_write_u32(&telemetry_workers->rescan_wanted, 1);
	}
	latch = telemetry_workers->launcher_latch;
	SpinLockRelease(&telemetry_workers->mutex);
	if (latch)
		SetLatch(latch);
}

/*
 * Keep the launcher from starting a worker or probe in dboid while a
 * DROP or RENAME of it runs (hold), or let it go on (release; the launcher
 * then looks again).  A hold left behind by a backend that died expires.
 */
void
telemetry_worker_hold_db(Oid dboid, bool hold)
{
	TelemetryDbHold *holds;
	TimestampTz now = GetCurrentTimestamp();
	int			i;
	int			free_hold = -1;

	if (telemetry_workers == NULL)
		return;
	holds = telemetry_workers->holds;
	SpinLockAcquire(&telemetry_workers->mutex);
	for (i = 0; i < lengthof(telemetry_workers->holds); i++)
	{
		if (holds[i].dboid == dboid)
			holds[i].dboid = InvalidOid;
		if (free_hold < 0 && (!OidIsValid(holds[i].dboid) || holds[i].until <= now))
			free_hold = i;
	}
	if (hold && free_hold >= 0)
	{
		holds[free_hold].dboid = dboid;
		holds[free_hold].until = TimestampTzPlusMilliseconds(now, 60000);
	}
	SpinLockRelease(&telemetry_workers->mutex);
	if (!hold)
		telemetry_launcher_wake(true, InvalidOid);
}

/*
 * Ask the worker serving dboid to leave at its next step boundary, and
 * with wait, wait until it has disconnected: a worker still connected
 * after 3 seconds (a slow HTTP call, a long step) is terminated, so DROP
 * DATABASE never runs into its own 5 second limit.
 */
void
telemetry_worker_request_stop(Oid dboid, bool wait)
{
	TelemetryWorkerSlot *slot = telemetry_worker_slot_for(dboid);
	pid_t		pid = 0;
	int			i;

	if (slot == NULL)
		return;
	SpinLockAcquire(&telemetry_workers->mutex);
	if (slot->dboid == dboid)
		slot->stop = true;
	SpinLockRelease(&telemetry_workers->mutex);
	wake_slot(slot);
	if (!wait)
		return;

	for (i = 0; i < 30; i++)
	{
		bool		connected;

		SpinLockAcquire(&telemetry_workers->mutex);
		connected = slot->dboid == dboid && slot->connected;
		SpinLockRelease(&telemetry_workers->mutex);
		if (!connected)
			return;
		CHECK_FOR_INTERRUPTS();
		pg_usleep(100 * 1000L);
	}

	SpinLockAcquire(&telemetry_workers->mutex);
	if (slot->dboid == dboid && slot->connected)
		pid = slot->pid;
	SpinLockRelease(&telemetry_workers->mutex);
	if (pid != 0)
		kill(pid, SIGTERM);
}
