/*
 * insert.h
 *		Direct insertion of event rows (insert.c).
 */
#ifndef TELEMETRY_INSERT_H
#define TELEMETRY_INSERT_H

#include "postgres.h"

/* The columns of telemetry.events, in this order in an EventRow. */
typedef enum EventColumn
{
	EVENT_COL_ID = 0,
	EVENT_COL_EVENT,
	EVENT_COL_VERSION,
	EVENT_COL_SPEC,
	EVENT_COL_OCCURRED_AT,
	EVENT_COL_RECEIVED_AT,
	EVENT_COL_PROPERTIES,
	EVENT_COL_CONTEXT,
	EVENT_COL_SAMPLE_RATE,
	EVENT_COL_XID,
	EVENT_NCOLUMNS
} EventColumn;

/* One row to store; no column is ever NULL. */
typedef struct EventRow
{
	Datum		values[EVENT_NCOLUMNS];
} EventRow;

typedef struct EventInserter EventInserter;

extern bool event_insert_direct_ok(Oid parent);
extern EventInserter *event_inserter_begin(bool buffered);
extern bool event_inserter_put(EventInserter *ins, const EventRow *row, bool late);
extern void event_inserter_end(EventInserter *ins);

#endif							/* TELEMETRY_INSERT_H */
