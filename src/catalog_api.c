/*
 * catalog_api.c
 *		Error helpers for the extension's SQL functions.
 *
 * Errors are raised with errhidestmt: the statement may hold a spec or a
 * secret, and must not be logged next to the error
 * (log_min_error_statement).  The spec catalog's own entry points are C
 * (spec_register.c, spec_read.c).
 */
#include "telemetry.h"

#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

PG_FUNCTION_INFO_V1(telemetry_raise);

/* A text argument, or "(null)" so a NULL never hides an error. */
static char *
text_arg(FunctionCallInfo fcinfo, int n)
{
	if (PG_NARGS() <= n || PG_ARGISNULL(n))
		return NULL;
	return text_to_cstring(PG_GETARG_TEXT_PP(n));
}

/*
 * SQL: telemetry._raise(sqlstate text, message text, detail text DEFAULT
 * NULL, hint text DEFAULT NULL) RETURNS void
 *
 * RAISE for the extension's PL/pgSQL functions, with the statement hidden
 * from the log.  Not STRICT: it always raises.
 */
Datum
telemetry_raise(PG_FUNCTION_ARGS)
{
	char	   *state = text_arg(fcinfo, 0);
	char	   *message = text_arg(fcinfo, 1);
	char	   *detail = text_arg(fcinfo, 2);
	char	   *hint = text_arg(fcinfo, 3);
	int			code = ERRCODE_INTERNAL_ERROR;

	if (state && strlen(state) == 5 && strspn(state, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") == 5)
		code = MAKE_SQLSTATE(state[0], state[1], state[2], state[3], state[4]);

	ereport(ERROR,
			(errcode(code),
			 errmsg("%s", message ? message : "telemetry error"),
			 detail ? errdetail("%s", detail) : 0,
			 hint ? errhint("%s", hint) : 0,
			 errhidestmt(true)));
	PG_RETURN_VOID();
}
