/*
 * worker.h
 *		Declarations shared by the background worker's files.
 */
#ifndef TELEMETRY_WORKER_H
#define TELEMETRY_WORKER_H

#include "shmem.h"

/* worker.c */
extern PGDLLEXPORT void telemetry_worker_main(Datum main_arg);
extern bool telemetry_worker_db_gone(void);

/* worker_jobs.c: each job runs with no transaction open and returns so */
typedef void (*TelemetryJobFn) (char *outcome, size_t len);

extern bool worker_extension_present(void);
extern void worker_job_maintenance(char *outcome, size_t len);
extern void worker_job_anomaly(char *outcome, size_t len);
extern void worker_job_delivery(char *outcome, size_t len);
extern int	worker_anomaly_interval_ms(void);
extern bool worker_run_guarded(TelemetryJob job, TelemetryJobFn fn,
							   TimestampTz started, TimestampTz next_run);
extern void worker_job_record(TelemetryJob job, TimestampTz last_run,
							  TimestampTz next_run, const char *outcome,
							  const char *error);

extern void worker_job_set_next(TelemetryJob job, TimestampTz next_run);

/* worker_hook.c */
extern void telemetry_worker_install_hooks(void);
extern void telemetry_worker_set_db_gone(bool gone);

#endif							/* TELEMETRY_WORKER_H */
