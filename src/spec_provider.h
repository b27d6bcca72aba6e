/*
 * spec_provider.h
 *		Providers in specs: their vocabulary (from the delivery code's
 *		provider descriptors), validation, policy checks and masking.
 */
#ifndef TELEMETRY_SPEC_PROVIDER_H
#define TELEMETRY_SPEC_PROVIDER_H

#include "spec_model.h"
#include "utils/jsonb.h"
#include "delivery.h"

/*
 * The provider types are the delivery code's descriptors (delivery.h): their
 * names, config keys (required, credentials, URLs, headers, aliases,
 * lengths) and default destinations.
 */
typedef DeliveryFormat SpecProviderType;
typedef DeliveryConfigKey SpecConfigKey;

extern int	spec_provider_type_count(void);
extern const SpecProviderType *spec_provider_type(int i);
extern const SpecProviderType *spec_provider_lookup(const char *type);

extern void spec_validate_provider(SpecProvider *prov, const JsonbValue *p, const char *path,
								   SpecCheckLevel level);
extern void spec_name_providers(SpecDoc *doc);
extern Jsonb *spec_mask_secrets(Jsonb *doc);

#endif							/* TELEMETRY_SPEC_PROVIDER_H */
