/*
 * event_check.h
 *		Validation and redaction of an event's properties and context.
 */
#ifndef TELEMETRY_EVENT_CHECK_H
#define TELEMETRY_EVENT_CHECK_H

#include "spec_cache.h"
#include "utils/jsonb.h"

/* A validation failure, reported by the caller as an error or a quarantine. */
typedef struct TrackError
{
	int			sqlstate;		/* 0 when there is no error */
	char	   *message;
} TrackError;

/* Which part of the event an object is. */
typedef enum EventPart
{
	PART_PROPERTIES,
	PART_CONTEXT
} EventPart;

extern bool event_check_object(const CompiledEvent *ev, EventPart part,
							   Jsonb *obj, bool drop_undeclared,
							   bool *needs_rewrite, bool *hashes,
							   TrackError *err);
extern Jsonb *event_redact_object(const CompiledPropSet *set, Jsonb *obj,
								  bool drop_undeclared, bool may_hash);
extern bool propset_has_hash(const CompiledPropSet *set);
extern char *event_pseudonym(const JsonbValue *v, int *outlen);
extern void track_error(TrackError *err, int sqlstate, const char *fmt,...) pg_attribute_printf(3, 4);
extern const char *jsonb_value_type_name(const JsonbValue *v);
extern char *telemetry_vformat(const char *fmt, va_list args) pg_attribute_printf(1, 0);
extern bool event_is_timestamptz(const char *s, int len);

#endif							/* TELEMETRY_EVENT_CHECK_H */
