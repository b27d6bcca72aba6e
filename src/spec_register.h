/*
 * spec_register.h
 *		Registration of spec versions (spec_register.c), the spec file
 *		reader (spec_file.c) and the deployment of a spec key's providers
 *		(spec_deploy.c).
 */
#ifndef TELEMETRY_SPEC_REGISTER_H
#define TELEMETRY_SPEC_REGISTER_H

#include "postgres.h"

/* spec_register.c (inside an SPI connection, as the owner) */
extern char *spec_latest_version(const char *key);

/* spec_file.c */
extern text *spec_file_read(const char *path);

/* spec_deploy.c (inside an SPI connection, as the owner) */
typedef struct SpecDeployment SpecDeployment;
extern SpecDeployment *spec_deploy_begin(const char *key);
extern const char *spec_deploy_latest(SpecDeployment *d);
extern void spec_deploy_end(SpecDeployment *before);
extern void spec_check_undeploy(const char *key, const char *version);

#endif							/* TELEMETRY_SPEC_REGISTER_H */
