/*
 * spec_diff.h
 *		Differences between normalized specs and event definitions, and the
 *		compatibility rules between versions of an event (spec_diff.c).
 */
#ifndef TELEMETRY_SPEC_DIFF_H
#define TELEMETRY_SPEC_DIFF_H

#include "spec_model.h"
#include "nodes/pg_list.h"
#include "utils/jsonb.h"

/* One difference: where (a path in the newer document), what, and whether it breaks. */
typedef struct SpecChange
{
	char	   *path;
	char	   *change;
	bool		breaking;
} SpecChange;

extern char *spec_first_difference(Jsonb *a, Jsonb *b, bool event);
extern char *spec_doc_first_difference(SpecDoc *a, SpecDoc *b);
extern List *spec_event_changes(Jsonb *older, Jsonb *newer, const char *path, List *out);
extern const SpecChange *spec_first_breaking(List *changes);
extern char *spec_version_major(const char *version);
extern int	spec_version_cmp(bytea *akey, const char *a, bytea *bkey, const char *b);

#endif							/* TELEMETRY_SPEC_DIFF_H */
