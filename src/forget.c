/*
 * forget.c
 *		telemetry_forget(user_id): erase one user's stored events.
 *
 * The entry point is C so that it can decide about its caller (the
 * extension's owner only: erasure removes rows of every spec) before acting
 * as the owner, and so that the user's pseudonyms come from the redaction
 * code's own function (event_pseudonym), keyed with the database's
 * redaction key, which no SQL function reveals.  The deletes themselves are
 * telemetry._forget() (src/sql/095_forget.sql).
 */
#include "telemetry.h"
#include "event_check.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

PG_FUNCTION_INFO_V1(telemetry_forget);

/* longest decimal integer taken as a numeric user id as well */
#define FORGET_MAX_INT_DIGITS 30

/*
 * Whether a user id is a JSON integer written canonically ("42", "-7"):
 * such an id may have been tracked as a number, whose pseudonym is that of
 * the number, not of the string.
 */
static bool
spells_integer(const char *s, int len)
{
	int			i = 0;

	if (len > 0 && s[0] == '-')
		i++;
	if (i >= len || len - i > FORGET_MAX_INT_DIGITS)
		return false;
	if (s[i] == '0' && len - i > 1)
		return false;
	for (; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* Append a pseudonym to a jsonb array being built. */
static void
push_pseudonym(JsonbParseState **st, const JsonbValue *v, char **first)
{
	JsonbValue	p;

	p.type = jbvString;
	p.val.string.val = event_pseudonym(v, &p.val.string.len);
	if (*first == NULL)
		*first = pnstrdup(p.val.string.val, p.val.string.len);
	pushJsonbValue(st, WJB_ELEM, &p);
}

/*
 * SQL: telemetry_forget(user_id text) RETURNS jsonb
 *
 * Remove the stored events of one user (context userId equal to the id or
 * its pseudonym, or a value hashed from the id) from telemetry.events, its
 * late copies, the archive and the quarantine, with their dead letters;
 * record the call in telemetry.forget_log under the pseudonym; return the
 * rows removed per table.  Owner only (42501).
 */
Datum
telemetry_forget(PG_FUNCTION_ARGS)
{
	text	   *user_id;
	const char *raw;
	int			len;
	JsonbParseState *st = NULL;
	JsonbValue	v;
	char	   *pseudonym = NULL;
	Jsonb	   *pseudonyms;
	Oid			types[4] = {TEXTOID, JSONBOID, TEXTOID, NAMEOID};
	Datum		args[4];
	bool		isnull;
	Datum		result;

	if (!telemetry_current_user_is_owner())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("only the owner of extension telemetry can forget a user"),
				 errhint("Erasure removes stored events of every spec: the extension owner decides that.")));
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("telemetry_forget needs a user id, not null")));
	user_id = PG_GETARG_TEXT_PP(0);
	raw = VARDATA_ANY(user_id);
	len = VARSIZE_ANY_EXHDR(user_id);
	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("telemetry_forget needs a non-empty user id")));

	/* the pseudonym of the id as a string, and as a number if it spells one */
	pushJsonbValue(&st, WJB_BEGIN_ARRAY, NULL);
	v.type = jbvString;
	v.val.string.val = (char *) raw;
	v.val.string.len = len;
	push_pseudonym(&st, &v, &pseudonym);
	if (spells_integer(raw, len))
	{
		char	   *s = pnstrdup(raw, len);

		v.type = jbvNumeric;
		v.val.numeric = DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(s),
															ObjectIdGetDatum(InvalidOid),
															Int32GetDatum(-1)));
		push_pseudonym(&st, &v, &pseudonym);
	}
	pseudonyms = JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_ARRAY, NULL));

	args[0] = PointerGetDatum(user_id);
	args[1] = JsonbPGetDatum(pseudonyms);
	args[2] = CStringGetTextDatum(pseudonym);
	args[3] = DirectFunctionCall1(namein,
								  CStringGetDatum(GetUserNameFromId(GetUserId(), false)));
	result = telemetry_call_as_owner("SELECT telemetry._forget($1, $2, $3, $4)",
									 4, types, args, NULL, false, &isnull);
	if (isnull)
		elog(ERROR, "telemetry._forget returned null");
	PG_RETURN_DATUM(result);
}
