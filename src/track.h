/*
 * track.h
 *		The tracking pipeline (track.c), shared with batch tracking.
 */
#ifndef TELEMETRY_TRACK_H
#define TELEMETRY_TRACK_H

#include "insert.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

/* One item of telemetry_track_batch, and the inserter its rows share. */
typedef struct TrackBatch
{
	int			index;			/* position in the array, for messages */
	EventInserter *ins;			/* buffered, made at the first direct row */
} TrackBatch;

extern pg_uuid_t *track_event(const char *event, const char *request,
							  Jsonb *props, Jsonb *ctx, TimestampTz occurred_at,
							  bool from_row, TrackBatch *batch);

#endif							/* TELEMETRY_TRACK_H */
