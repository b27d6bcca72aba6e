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
extern void spec_deploy(const char *key, const char *latest_before);
extern void spec_check_undeploy(const char *key, const char *version, const char *latest);

#endif							/* TELEMETRY_SPEC_REGISTER_H */
