/*
 * spec_validate.h
 *		Checking the JSON of a spec document (spec_validate.c), for the parts
 *		of validation that live elsewhere (providers: spec_provider.c).
 *
 * Every check raises the catalog's validation error: SQLSTATE 22023 with
 * "<json path>: <problem>" and the statement hidden from the log.  A JSON
 * null counts as absent.  Values are JsonbValues; objects and arrays are
 * jbvBinary containers.
 */
#ifndef TELEMETRY_SPEC_VALIDATE_H
#define TELEMETRY_SPEC_VALIDATE_H

#include "spec_model.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

extern const char *sj_type(const JsonbValue *v);
extern bool sj_is(const JsonbValue *v, const char *type);
extern bool sj_absent(const JsonbValue *v);
extern JsonbValue *sj_get(const JsonbValue *obj, const char *key, JsonbValue *buf);
extern void sj_expect(const JsonbValue *v, const char *type, const char *path);
extern void sj_allowed_keys(const JsonbValue *obj, const char *const *allowed, const char *path);
extern char *sj_opt_text(const JsonbValue *obj, const char *key, const char *path, int maxchars);
extern bool sj_opt_bool(const JsonbValue *obj, const char *key, const char *path, bool dflt);
extern Numeric sj_opt_number(const JsonbValue *obj, const char *key, const char *path,
							 const char *lo, const char *hi, bool integral);
extern void sj_check_key(const char *s, int len, const char *path);
extern int	sj_count(const JsonbValue *v);
extern char *sj_text(const JsonbValue *v);
extern char *sj_path(const char *path, const char *key);
extern char *sj_index(const char *path, int i);
extern char *sj_short(const char *s);
extern Jsonb *sj_to_jsonb(const JsonbValue *v);

#endif							/* TELEMETRY_SPEC_VALIDATE_H */
