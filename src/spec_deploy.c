/*
 * spec_deploy.c
 *		The providers of a spec key, deployed to delivery.
 *
 * (Keyed by spec key once the delivery rework lands; until then a no-op.)
 */
#include "telemetry.h"
#include "spec_register.h"

/* Redeploy a spec key's providers after its latest version may have changed. */
void
spec_deploy(const char *key, const char *latest_before)
{
}

/* Refuse to unregister a version while it would stop a provider with a backlog. */
void
spec_check_undeploy(const char *key, const char *version, const char *latest)
{
}
