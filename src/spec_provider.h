/*
 * spec_provider.h
 *		Providers in specs: their vocabulary (from the delivery code's
 *		provider descriptors), validation, policy checks and masking.
 */
#ifndef TELEMETRY_SPEC_PROVIDER_H
#define TELEMETRY_SPEC_PROVIDER_H

#include "spec_model.h"
#include "utils/jsonb.h"

/* A config key of a provider type, as the spec model needs it. */
typedef struct SpecConfigKey
{
	const char *name;
	bool		required;
	bool		secret;			/* a credential: a literal, {"env"} or {"secret"} */
	bool		url;			/* the destination: a literal URL or {"secret"} */
	bool		headers;		/* an object of header names and secret values */
	const char *alias_of;		/* an older name of another key */
	int			max_chars;		/* a plain string of at most this length */
} SpecConfigKey;

/* A provider type: its name, config keys and default destination. */
typedef struct SpecProviderType
{
	const char *type;
	const SpecConfigKey *keys;	/* ends with a NULL name */
	const char *default_url;	/* when the url key is absent */
} SpecProviderType;

extern int	spec_provider_type_count(void);
extern const SpecProviderType *spec_provider_type(int i);
extern const SpecProviderType *spec_provider_lookup(const char *type);

extern void spec_validate_provider(SpecProvider *prov, const JsonbValue *p, const char *path,
								   SpecCheckLevel level);
extern void spec_name_providers(SpecDoc *doc);
extern Jsonb *spec_mask_secrets(Jsonb *doc);

#endif							/* TELEMETRY_SPEC_PROVIDER_H */
