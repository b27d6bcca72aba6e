/*
 * floor.h
 *		What readers of "what is new" rely on to bound their scans (floor.c).
 */
#ifndef TELEMETRY_FLOOR_H
#define TELEMETRY_FLOOR_H

#include "access/transam.h"
#include "utils/timestamp.h"

/*
 * An event is late when its occurred_at is more than this before its
 * received_at: readers cannot find it by occurred_at near their floor, so
 * it is also copied to telemetry.late_events.  The SQL side says the same
 * in telemetry._is_late() (src/sql/040_events.sql).
 */
#define TELEMETRY_LATE_WINDOW	USECS_PER_DAY

extern FullTransactionId telemetry_reader_horizon(void);

#endif							/* TELEMETRY_FLOOR_H */
