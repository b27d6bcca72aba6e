/*
 * worker.h
 *		Declarations shared by the launcher's and the database workers' files.
 *
 * Process model: one launcher (registered from shared_preload_libraries,
 * connected to no database) keeps one database worker per database that
 * has the extension, up to telemetry.max_workers.  It learns which
 * databases have the extension from short-lived probe workers (connect,
 * read pg_extension, leave).  Shared memory holds only plain values:
 * oids, pids, latches, timestamps, atomics and fixed-size status text.
 */
#ifndef TELEMETRY_WORKER_H
#define TELEMETRY_WORKER_H

#include "postgres.h"

#include "port/atomics.h"
#include "storage/latch.h"
#include "storage/spin.h"
#include "utils/timestamp.h"

/* Jobs a database worker runs; each has a row in telemetry.worker_status. */
typedef enum TelemetryJob
{
	TELEMETRY_JOB_MAINTENANCE = 0,
	TELEMETRY_JOB_ANOMALY,
	TELEMETRY_JOB_DELIVERY,
	TELEMETRY_NJOBS
} TelemetryJob;

extern const char *const telemetry_job_names[TELEMETRY_NJOBS];

#define TELEMETRY_STATUS_LEN 256

typedef struct TelemetryJobStatus
{
	TimestampTz last_run;		/* start of the last run, 0 if never */
	TimestampTz next_run;		/* when the worker plans the next one */
	char		last_outcome[TELEMETRY_STATUS_LEN]; /* "ok: ..." or "error" */
	char		last_error[TELEMETRY_STATUS_LEN];	/* message of the last failure */
} TelemetryJobStatus;

/* Why a database worker left; written by the worker before a clean exit. */
typedef enum WorkerExit
{
	WORKER_EXIT_CRASH = 0,		/* no clean exit: error, FATAL, terminate */
	WORKER_EXIT_NO_EXTENSION,	/* extension dropped (or not there) */
	WORKER_EXIT_OWNER_CHANGED,	/* the extension's owner is another role */
	WORKER_EXIT_STOP			/* asked to leave (DROP/RENAME DATABASE,
								 * telemetry.enabled, telemetry.database) */
} WorkerExit;

/* One database worker's shared state (telemetry.max_workers of them). */
typedef struct TelemetryWorkerSlot
{
	Oid			dboid;			/* InvalidOid: slot free */
	Oid			owner;			/* role the worker acts as */
	bool		owner_can_login;	/* connect as owner, else switch to it */
	pid_t		pid;			/* 0 until attached, and after exit */
	Latch	   *latch;
	TimestampTz started_at;
	bool		connected;		/* connected to dboid */
	bool		stop;			/* leave at the next step boundary */
	bool		exited;			/* the worker has run and left */
	WorkerExit	exit_reason;
	pg_atomic_uint32 delivery_wanted;	/* set by committers, cleared by the
										 * worker when it starts delivering */
	TelemetryJobStatus jobs[TELEMETRY_NJOBS];
} TelemetryWorkerSlot;

/* What the launcher knows of a database, for telemetry.workers. */
typedef enum TelemetryDbState
{
	DBSTATE_UNKNOWN = 0,		/* not probed yet */
	DBSTATE_NO_EXTENSION,
	DBSTATE_STARTING,
	DBSTATE_RUNNING,
	DBSTATE_NOT_SERVED,			/* telemetry.max_workers reached */
	DBSTATE_NO_SLOT,			/* max_worker_processes reached */
	DBSTATE_BACKOFF,			/* worker failed; restarted at retry_at */
	DBSTATE_DISABLED,			/* telemetry.enabled = off */
	DBSTATE_EXCLUDED			/* not listed in telemetry.database */
} TelemetryDbState;

extern const char *const telemetry_db_state_names[];

typedef struct TelemetryDbStatus
{
	Oid			dboid;
	TelemetryDbState state;
	int			slot;			/* worker slot, or -1 */
	int			failures;		/* failed starts in a row */
	TimestampTz since;			/* state entered */
	TimestampTz retry_at;		/* BACKOFF: next start */
} TelemetryDbStatus;

/* A database being dropped or renamed: no worker or probe may start there. */
typedef struct TelemetryDbHold
{
	Oid			dboid;
	TimestampTz until;			/* expires, should its backend die */
} TelemetryDbHold;

/* Result of the probe of one database. */
typedef struct TelemetryProbe
{
	Oid			dboid;
	bool		done;
	bool		has_extension;
	Oid			owner;
	bool		owner_can_login;
} TelemetryProbe;

typedef struct TelemetryWorkerShared
{
	slock_t		mutex;			/* protects everything but the atomics */
	pid_t		launcher_pid;
	Latch	   *launcher_latch;
	pg_atomic_uint32 rescan_wanted; /* a full rescan of pg_database */
	Oid			probe_wanted[8];	/* databases to probe first */
	TelemetryProbe probe;
	TelemetryDbHold holds[16];
	int			ndbs;			/* used entries of dbs[] */
	int			max_dbs;		/* entries of the table after the slots */
	TelemetryWorkerSlot slots[FLEXIBLE_ARRAY_MEMBER];	/* max_workers */
} TelemetryWorkerShared;

extern TelemetryWorkerShared *telemetry_workers;

/* The launcher's table of databases, after the slots (never a stored pointer). */
#define TELEMETRY_DBS() \
	((TelemetryDbStatus *) ((char *) telemetry_workers + \
							MAXALIGN(offsetof(TelemetryWorkerShared, slots) + \
									 sizeof(TelemetryWorkerSlot) * telemetry_max_workers)))

/* worker_shmem.c */
extern Size telemetry_worker_shmem_size(void);
extern void telemetry_worker_shmem_init(void);
extern TelemetryWorkerSlot *telemetry_worker_slot_for(Oid dboid);
extern void telemetry_launcher_wake(bool rescan, Oid probe_db);
extern void telemetry_worker_request_stop(Oid dboid, bool wait);
extern void telemetry_worker_hold_db(Oid dboid, bool hold);

/* worker_launcher.c */
extern void telemetry_launcher_register(void);
extern PGDLLEXPORT void telemetry_launcher_main(Datum main_arg);
extern PGDLLEXPORT void telemetry_probe_main(Datum main_arg);
extern bool telemetry_database_listed(const char *datname);

/* worker.c */
extern PGDLLEXPORT void telemetry_worker_main(Datum main_arg);
extern TelemetryWorkerSlot *MyWorkerSlot;
/* no provider was due at the last delivery run (worker_jobs.c) */
extern bool worker_delivery_quiet;
extern bool telemetry_worker_should_stop(void);

/* worker_session.c: a session a hostile database owner cannot steer */
extern void worker_session_snapshot_gucs(void);
extern void worker_session_harden(Oid owner, bool connected_as_owner);

/*
 * worker_jobs.c.  Each job runs with no transaction open and returns so;
 * it writes a one-line outcome and returns the time it wants to run next
 * (0: its regular interval).
 */
typedef TimestampTz (*TelemetryJobFn) (char *outcome, size_t len);

extern void telemetry_worker_tx_begin(const char *activity);
extern void telemetry_worker_tx_commit(void);
extern Oid	worker_extension_owner(void);
extern TimestampTz worker_job_maintenance(char *outcome, size_t len);
extern TimestampTz worker_job_anomaly(char *outcome, size_t len);
extern TimestampTz worker_job_delivery(char *outcome, size_t len);
extern long worker_delivery_wake_gap_ms(void);
extern bool worker_run_guarded(TelemetryJob job, TelemetryJobFn fn,
							   TimestampTz started, TimestampTz *next_run);
extern void worker_job_record(TelemetryJob job, TimestampTz last_run,
							  TimestampTz next_run, const char *outcome,
							  const char *error);

/* worker_hook.c */
extern void telemetry_worker_install_hooks(void);

#endif							/* TELEMETRY_WORKER_H */
