/*
 * spec_cache.h
 *		Compiled event definitions, cached per backend.
 */
#ifndef TELEMETRY_SPEC_CACHE_H
#define TELEMETRY_SPEC_CACHE_H

#include "telemetry.h"
#include "spec_model.h"

typedef struct CompiledProperty
{
	char	   *name;
	int			namelen;
	PropType	type;
	bool		required;
	Redaction	redaction;
} CompiledProperty;

/* A set of declared keys (an event's properties or its spec's context). */
typedef struct CompiledPropSet
{
	int			n;
	CompiledProperty *props;	/* sorted by (namelen, name) like jsonb keys */
	bool		any_redaction;
	int			nrequired;
} CompiledPropSet;

struct SampleCondition;

typedef struct CompiledEvent
{
	char	   *event;
	char	   *version;
	char	   *spec;			/* the spec key (telemetry.events.spec) */
	double		sample_rate;	/* effective */
	char	   *sample_by;		/* context key for deterministic sampling */
	int			nconditions;	/* sampling.conditions: matching keeps the event */
	struct SampleCondition *conditions;
	int			retention_days; /* effective; 0 = telemetry.default_retention_days */
	CompiledPropSet props;
	CompiledPropSet context;
} CompiledEvent;

extern CompiledEvent *spec_cache_lookup(const char *event, const char *request);
extern const CompiledProperty *propset_find(const CompiledPropSet *set,
											const char *name, int namelen);
extern const unsigned char *spec_cache_redaction_key(int *len);
extern const char *prop_type_name(PropType t);
extern Oid	spec_cache_default_partition(void);
extern Oid	spec_cache_events_relation(void);
extern Oid	spec_cache_owner(void);

#endif							/* TELEMETRY_SPEC_CACHE_H */
