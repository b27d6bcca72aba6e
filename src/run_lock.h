/*
 * run_lock.h
 *		Locks that keep the extension's runs from overlapping (run_lock.c).
 */
#ifndef TELEMETRY_RUN_LOCK_H
#define TELEMETRY_RUN_LOCK_H

typedef enum TelemetryRunLock
{
	RUN_LOCK_MAINTENANCE = 1,
	RUN_LOCK_ANOMALY = 2,
	RUN_LOCK_DELIVERY = 3,
	RUN_LOCK_PARTITION = 4
} TelemetryRunLock;

extern bool telemetry_run_lock_acquire(TelemetryRunLock which, bool session, bool wait);
extern void telemetry_run_lock_release(TelemetryRunLock which);

#endif							/* TELEMETRY_RUN_LOCK_H */
