/*
 * catalog_api.c
 *		The catalog's entry points that must know their caller, and the
 *		catalog's error helpers.
 *
 * telemetry_spec() and telemetry_register_spec() are not SECURITY DEFINER:
 * a SECURITY DEFINER function cannot see who called it.  They decide what
 * they need about the caller (the current effective user) at entry, then
 * run an internal function, revoked from PUBLIC, as the extension's owner
 * with search_path pinned (telemetry_call_as_owner).
 *
 * The catalog's errors (validation, registration, secrets) are raised here
 * with errhidestmt: the statement holds the spec or the secret, and must
 * not be logged next to the error (log_min_error_statement).
 */
#include "telemetry.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

PG_FUNCTION_INFO_V1(telemetry_spec);
PG_FUNCTION_INFO_V1(telemetry_register_spec);
PG_FUNCTION_INFO_V1(telemetry_load_spec);
PG_FUNCTION_INFO_V1(telemetry_invalid);
PG_FUNCTION_INFO_V1(telemetry_raise);

/*
 * SQL: telemetry_spec(key text, version text DEFAULT NULL) RETURNS jsonb
 *
 * Secrets are shown only when the current effective user has the owner's
 * privileges and no security-restricted operation is running.
 */
Datum
telemetry_spec(PG_FUNCTION_ARGS)
{
	Oid			types[3] = {TEXTOID, TEXTOID, BOOLOID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};
	bool		isnull;
	Datum		result;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	values[0] = PG_GETARG_DATUM(0);
	values[1] = PG_ARGISNULL(1) ? (Datum) 0 : PG_GETARG_DATUM(1);
	nulls[1] = PG_ARGISNULL(1) ? 'n' : ' ';
	values[2] = BoolGetDatum(telemetry_current_user_is_owner());

	result = telemetry_call_as_owner("SELECT telemetry._spec_document($1, $2, $3)",
									 3, types, values, nulls, true, &isnull);
	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(result);
}

/* telemetry._read_spec_file (spec_file.c) */
extern Datum telemetry_read_spec_file(PG_FUNCTION_ARGS);

/*
 * SQL: telemetry_load_spec(path text) RETURNS text
 *
 * Registers a spec file as telemetry_register_spec would, for a caller who
 * may read server files and execute telemetry_register_spec.  That function
 * is found by OID, in the schema holding this one (whatever it is called
 * now), and called directly: a function body naming it would find whatever
 * a schema of that name holds when it runs (the database's owner can rename
 * public and plant one).
 */
Datum
telemetry_load_spec(PG_FUNCTION_ARGS)
{
	text	   *path = PG_GETARG_TEXT_PP(0);
	char	   *doc;
	Datum		spec;
	Oid			nsp = get_func_namespace(fcinfo->flinfo->fn_oid);
	Oid			argtypes[1] = {JSONBOID};
	Oid			regfn;
	MemoryContext cxt = CurrentMemoryContext;

	/* checks pg_read_server_files, regular files only, the 1 MB limit */
	doc = TextDatumGetCString(DirectFunctionCall1(telemetry_read_spec_file, PointerGetDatum(path)));
	PG_TRY();
	{
		spec = DirectFunctionCall1(jsonb_in, CStringGetDatum(doc));
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		const char *line = NULL;
		int			linelen = 0;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		/* keep the parser's token and line, so the mistake can be found */
		if (edata->context && strncmp(edata->context, "JSON data, line ", 16) == 0)
		{
			line = edata->context;
			linelen = strcspn(line, ":\n");
		}
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("spec file \"%s\" is not valid JSON", text_to_cstring(path)),
				 errdetail("%s%s%.*s", edata->detail ? edata->detail : "",
						   edata->detail && line ? " " : "", linelen, line ? line : ""),
				 errhidestmt(true)));
	}
	PG_END_TRY();

	regfn = LookupFuncName(list_make2(makeString(get_namespace_name(nsp)),
									  makeString("telemetry_register_spec")),
						   1, argtypes, true);
	if (!OidIsValid(regfn) || get_func_namespace(regfn) != nsp)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("function telemetry_register_spec(jsonb) is missing from the schema of telemetry_load_spec")));
	if (pg_proc_aclcheck(regfn, GetUserId(), ACL_EXECUTE) != ACLCHECK_OK)
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_FUNCTION, "telemetry_register_spec");
	return DirectFunctionCall1(telemetry_register_spec, spec);
}

/*
 * SQL: telemetry_register_spec(spec jsonb) RETURNS text
 *
 * EXECUTE on this function is the spec admin's grant; the catalog records
 * the current effective user as the one who registered.
 */
Datum
telemetry_register_spec(PG_FUNCTION_ARGS)
{
	Oid			types[2] = {JSONBOID, TEXTOID};
	Datum		values[2];
	char		nulls[2] = {' ', ' '};
	bool		isnull;
	Datum		result;

	values[0] = PG_ARGISNULL(0) ? (Datum) 0 : PG_GETARG_DATUM(0);
	nulls[0] = PG_ARGISNULL(0) ? 'n' : ' ';
	values[1] = CStringGetTextDatum(GetUserNameFromId(GetUserId(), false));

	result = telemetry_call_as_owner("SELECT telemetry._register_spec($1, $2)",
									 2, types, values, nulls, false, &isnull);
	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(result);
}

/* A text argument, or "(null)" so a NULL never hides an error. */
static char *
text_arg(FunctionCallInfo fcinfo, int n)
{
	if (PG_NARGS() <= n || PG_ARGISNULL(n))
		return NULL;
	return text_to_cstring(PG_GETARG_TEXT_PP(n));
}

/*
 * SQL: telemetry._invalid(path text, problem text) RETURNS void
 *
 * The catalog's validation error: SQLSTATE 22023, "<json path>: <problem>".
 * Not STRICT: a NULL argument must still raise.
 */
Datum
telemetry_invalid(PG_FUNCTION_ARGS)
{
	char	   *path = text_arg(fcinfo, 0);
	char	   *problem = text_arg(fcinfo, 1);

	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s: %s", path ? path : "spec", problem ? problem : "invalid"),
			 errhidestmt(true)));
	PG_RETURN_VOID();
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
