/*
 * spec_model.h
 *		The spec vocabulary: the enumerations, limits and field names of a
 *		telemetry spec, shared by validation (spec_validate.c), registration
 *		(spec_register.c), compatibility (spec_diff.c), the compiler of the
 *		per-backend cache (spec_cache.c) and the catalog's CHECK constraints
 *		(telemetry._vocabulary).
 *
 * Provider types and their config keys are not listed here: they come from
 * the provider descriptors of the delivery code (delivery.h).
 */
#ifndef TELEMETRY_SPEC_MODEL_H
#define TELEMETRY_SPEC_MODEL_H

#include "postgres.h"
#include "utils/jsonb.h"

/* Limits of a spec (the README's "Limits" and "Validation" list them). */
#define SPEC_MAX_BYTES			(1024 * 1024)	/* the document as JSON text */
#define SPEC_MAX_EVENTS			1000
#define SPEC_MAX_PROPERTIES		500 /* an event's, and the context's */
#define SPEC_MAX_THRESHOLDS		64
#define SPEC_MAX_PROVIDERS		16
#define SPEC_MAX_ITEMS			100 /* owners, tags, sampling conditions */
#define SPEC_MAX_ITEM_CHARS		256
#define SPEC_MAX_KEY_CHARS		128 /* keys, names, versions */
#define SPEC_MAX_NAME_CHARS		1000	/* short strings: titles, enumerations */
#define SPEC_MAX_TEXT_CHARS		10000	/* descriptions, semantics */
#define SPEC_MAX_PROVIDER_CONFIG (16 * 1024)
#define SPEC_MAX_SECRET_CHARS	4096
#define SPEC_MAX_URL_CHARS		2048
#define SPEC_MAX_WINDOW_CHARS	100
#define SPEC_MAX_SERVICE_CHARS	256

/* Property types: the JSON a property's value may be. */
typedef enum PropType
{
	PROP_STRING,
	PROP_NUMBER,
	PROP_BOOLEAN,
	PROP_TIMESTAMP,
	PROP_JSON
} PropType;

/*
 * Redaction modes, weakest first: a change to a lower value weakens the
 * redaction.  A hash keeps equal values linkable, a mask keeps only the
 * value's presence and JSON type, a drop keeps nothing.
 */
typedef enum Redaction
{
	REDACT_NONE,
	REDACT_HASH,
	REDACT_MASK,
	REDACT_DROP
} Redaction;

/* Privacy levels of an event, lowest first. */
typedef enum Privacy
{
	PRIVACY_PUBLIC,
	PRIVACY_INTERNAL,
	PRIVACY_PII,
	PRIVACY_SENSITIVE
} Privacy;

typedef enum Stability
{
	STABILITY_EXPERIMENTAL,
	STABILITY_BETA,
	STABILITY_STABLE,
	STABILITY_DEPRECATED
} Stability;

typedef enum RetentionPolicy
{
	POLICY_DELETE,
	POLICY_ARCHIVE
} RetentionPolicy;

typedef enum AnomalyAction
{
	ACTION_ALERT,
	ACTION_LOG,
	ACTION_TRIGGER_REGEN
} AnomalyAction;

typedef enum AnomalyAggregate
{
	AGG_AVG,
	AGG_P50,
	AGG_P95,
	AGG_P99,
	AGG_MIN,
	AGG_MAX,
	AGG_COUNT
} AnomalyAggregate;

/*
 * An enumeration of the vocabulary: what it is called in messages ("type"
 * in 'unknown type "x"'), its names in the order messages list them, and
 * the value of each.
 */
typedef struct SpecEnum
{
	const char *what;
	const char *const *names;
	const int  *values;
	int			n;
} SpecEnum;

extern const SpecEnum spec_prop_types;
extern const SpecEnum spec_redactions;
extern const SpecEnum spec_privacies;
extern const SpecEnum spec_stabilities;
extern const SpecEnum spec_policies;
extern const SpecEnum spec_actions;
extern const SpecEnum spec_aggregates;

extern int	spec_enum_parse(const SpecEnum *e, const char *s, int len);
extern const char *spec_enum_name(const SpecEnum *e, int value);
extern char *spec_enum_allowed(const SpecEnum *e);

/* Field names of a spec document, in the order messages list them. */
extern const char *const spec_top_keys[];
extern const char *const spec_meta_keys[];
extern const char *const spec_config_keys[];
extern const char *const spec_config_anomaly_keys[];
extern const char *const spec_event_keys[];
extern const char *const spec_semantics_keys[];
extern const char *const spec_property_keys[];
extern const char *const spec_retention_keys[];
extern const char *const spec_sampling_keys[];
extern const char *const spec_anomaly_keys[];
extern const char *const spec_threshold_keys[];
extern const char *const spec_provider_keys[];

/* Keys, names and versions. */
extern bool spec_key_valid(const char *s, int len);
extern int	spec_chars(const char *s, int len);

/*
 * A spec as validation leaves it (spec_validate.c): every value checked,
 * defaults applied, and each event's normalized definition as jsonb (the
 * form stored in telemetry.event_defs.definition and compared between
 * registrations).
 */
typedef struct SpecProperty
{
	char	   *name;
	PropType	type;
	bool		required;
	bool		pii;
	bool		redact;
	Redaction	redaction;		/* effective: pii, redact and sensitive mask */
	bool		redaction_given;	/* "redaction" was written */
	char	   *description;
} SpecProperty;

typedef struct SpecEvent
{
	char	   *key;
	char	   *version;
	char	   *path;			/* "events[i]", for messages */
	Privacy		privacy;
	int			nprops;
	SpecProperty *props;		/* sorted by name (bytes) */
	int			nconditions;
	char	  **conditions;		/* normalized sampling conditions */
	bool		anomaly_enabled;	/* the event's own switch */
	Jsonb *definition;	/* normalized */
	/* routing: "providers", the names of the providers that receive it */
	int			nroutes;
	char	  **routes;			/* NULL: every provider of the spec */
} SpecEvent;

typedef struct SpecProvider
{
	char	   *type;
	char	   *name;			/* as given, or NULL */
	char	   *ename;			/* its name in the catalog: given, else its type */
	Jsonb *config;		/* normalized (aliases resolved) */
	bool		alerts;			/* "alerts": receives the alert action's anomalies */
} SpecProvider;

typedef struct SpecDoc
{
	char	   *key;
	char	   *version;
	int			stability;		/* Stability, or -1 */
	bool		anomaly_enabled;
	int			nproviders;
	SpecProvider *providers;
	int			ncontext;
	SpecProperty *context;
	int			nevents;
	SpecEvent  *events;
	Jsonb	   *normalized;		/* the spec's own fields, normalized (no events) */
} SpecDoc;

/* What validation checks besides the document itself. */
typedef enum SpecCheckLevel
{
	SPEC_CHECK_DOCUMENT,		/* the document only */
	SPEC_CHECK_POLICY			/* also secrets, environment, destinations */
} SpecCheckLevel;

/* spec_validate.c */
extern SpecDoc *spec_validate(Jsonb *spec, SpecCheckLevel level);
extern Jsonb *spec_normalized_full(SpecDoc *doc);
extern bool spec_try(void (*fn) (void *arg), void *arg, bool access_errors);
extern const SpecProperty *spec_find_property(const SpecProperty *props, int n,
											  const char *name, int len);
extern void spec_invalid(const char *path, const char *fmt,...) pg_attribute_printf(2, 3);
extern char *spec_quote(const char *s, int len);
extern char *spec_member(const char *path, const char *name, int len);

#endif							/* TELEMETRY_SPEC_MODEL_H */
